// The only module that touches `process`: argv, env, stdout/stderr, signals and exit codes.
import yargs, { type Argv, type ArgumentsCamelCase } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ProfileError, ToolError, formatProblem } from '../errors.ts';
import { MAX_WORKERS } from '../profile/keys.ts';
import { loadProfile } from '../profile/load.ts';
import { describePlan } from '../profile/plan.ts';
import { runCapacitySearch, type RunEvent } from '../controller/run.ts';
import { capacityLevel, type Capacity } from '../model/verdict.ts';
import { finalReport } from '../report/terminal.ts';
import { rebuildSummary, writeRebuilt } from '../controller/rebuild.ts';
import { formatMs } from '../slo/evaluate.ts';
import { makeRedactor } from '../util/secrets.ts';
import { TOOL_VERSION } from '../version.ts';

/** Exit codes, documented in the README ("Exit codes"). */
export const EXIT = {
  ok: 0,
  internal: 1,
  invalidInput: 2,
  targetUnreachable: 3,
  failedAtFirstStage: 4,
  noKneeUpToMax: 5,
  limitReached: 6,
  generatorLimit: 7,
  interrupted: 130,
} as const;

export function exitCodeForCapacity(c: Capacity): number {
  switch (c.stopReason) {
    case 'knee_found':
      return EXIT.ok;
    case 'rate_limited':
    case 'error_rate_breaker':
      return capacityLevel(c) === null ? EXIT.failedAtFirstStage : EXIT.ok;
    case 'failed_at_first_stage':
      return EXIT.failedAtFirstStage;
    case 'max_reached':
      return EXIT.noKneeUpToMax;
    case 'limit_duration':
    case 'limit_requests':
    case 'limit_output_tokens':
      return EXIT.limitReached;
    case 'generator_limit':
      return EXIT.generatorLimit;
    case 'interrupted':
      return EXIT.interrupted;
    case 'target_unreachable':
      return EXIT.targetUnreachable;
  }
}

function exitCodeForError(err: unknown): number {
  if (err instanceof ToolError) {
    switch (err.code) {
      case 'invalid_profile':
      case 'invalid_arguments':
      case 'missing_api_key':
        return EXIT.invalidInput;
      case 'target_unreachable':
        return EXIT.targetUnreachable;
      default:
        return EXIT.internal;
    }
  }
  return EXIT.internal;
}

// Everything printed goes through a redactor; once a profile is loaded it also knows the key and header values.
let redactOutput = makeRedactor([]);
const out = (s: string) => process.stdout.write(redactOutput(s) + '\n');
const err = (s: string) => process.stderr.write(redactOutput(s) + '\n');

async function loadOrReport(file: string) {
  const { profile, warnings } = await loadProfile(file, { env: process.env });
  redactOutput = makeRedactor([
    profile.target.apiKeyEnv ? process.env[profile.target.apiKeyEnv] : null,
    ...Object.values(profile.target.headers),
  ]);
  for (const w of warnings) err(`warning: ${formatProblem(w)}`);
  return profile;
}

/** A stage's level in progress lines: "concurrency 8", or "rate 8 req/s" in a rate run. */
function levelText(concurrency: number, rate: number | undefined): string {
  return rate === undefined ? `concurrency ${concurrency}` : `rate ${rate} req/s`;
}

function progressPrinter(): (e: RunEvent) => void {
  const tty = process.stderr.isTTY === true;
  let live = false;
  return (e) => {
    if (e.type === 'target')
      err(`target: ${e.baseUrl}${e.simulator ? ` (built-in simulator, preset ${e.simulator})` : ''}`);
    else if (e.type === 'run-dir') err(`run directory: ${e.path}`);
    else if (e.type === 'stage-start') {
      if (!tty) err(`stage ${e.index}: ${levelText(e.concurrency, e.rate)} (${e.kind})`);
    } else if (e.type === 'progress' && tty) {
      const p = e.progress;
      const line = `stage ${p.stage} ${p.rate === undefined ? `c=${p.concurrency}` : `rate=${p.rate}/s`} ${(p.elapsedMs / 1000).toFixed(1)}s ${p.inWindow ? 'measuring' : 'warm-up'} done=${p.done} qps=${p.okPerS.toFixed(2)} p99(ttft)=${formatMs(p.ttftP99Ms)} errors=${p.failed}`;
      process.stderr.write(`\r\x1b[2K${redactOutput(line)}`);
      live = true;
    } else if (e.type === 'stage-end') {
      if (live) process.stderr.write('\r\x1b[2K');
      live = false;
      const s = e.result.summary;
      err(
        `stage ${s.index}: ${levelText(s.concurrency, s.offeredRate ?? undefined)} ${e.result.verdict}${e.result.lowConfidence ? ' (low confidence)' : ''} — ${s.requests} requests, ${s.qps.toFixed(2)} qps, p99(ttft) ${formatMs(s.ttftMs.p99)}`,
      );
    } else if (e.type === 'stopping') err(e.reason);
  };
}

/** --workers: a whole number of load-generator threads within the profile key's bounds. */
function parseWorkers(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new ToolError(
      'invalid_arguments',
      `--workers must be a whole number from 1 to ${MAX_WORKERS}, got ${JSON.stringify(v)}`,
      'for example --workers 2 (one thread per spare core)',
    );
  }
  return n;
}

async function runCommand(
  file: string,
  outDir: string | undefined,
  dryRun: boolean,
  workers?: number,
): Promise<number> {
  const loaded = await loadOrReport(file);
  // --workers overrides the profile's `workers` (and is what profile.json and summary.json then record).
  const profile = workers === undefined ? loaded : { ...loaded, workers };
  if (dryRun) {
    out(describePlan(profile));
    return EXIT.ok;
  }
  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: string) => {
    interrupts++;
    if (interrupts > 1) {
      // The JSONL writers flush their pending lines on 'exit'; the simulator child ends when its IPC channel closes.
      err(`\n${sig} again: exiting at once (requests.jsonl is intact up to its last line).`);
      process.exit(EXIT.interrupted);
    }
    err(
      `\n${sig}: stopping — letting in-flight requests finish, then writing the report (press Ctrl-C again to exit at once).`,
    );
    ac.abort();
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  try {
    const result = await runCapacitySearch({
      profile,
      env: process.env,
      outDir,
      signal: ac.signal,
      onEvent: progressPrinter(),
    });
    out(finalReport(result.summary, result.runDir));
    return exitCodeForCapacity(result.capacity);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  }
}

/** Sends nothing: recomputes summary.json and report.html from requests.jsonl. */
function reportCommand(dir: string): number {
  const rebuilt = rebuildSummary(dir);
  writeRebuilt(dir, rebuilt);
  if (rebuilt.skippedLines > 0) err(`warning: skipped ${rebuilt.skippedLines} unreadable line(s)`);
  out(finalReport(rebuilt.summary, dir));
  return EXIT.ok;
}

async function simulateCommand(opts: {
  preset: string;
  port: number;
  set: string[];
  groundTruthPath: string | undefined;
}): Promise<number> {
  const { serveStandalone, describeSimConfig } = await import('../sim/index.ts');
  const sim = await serveStandalone({ ...opts, set: opts.set.map(String) });
  out(`simulator listening: ${sim.baseUrl}`);
  out(describeSimConfig(sim.config));
  out('press Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sim.stop();
  return EXIT.ok;
}

/** One subcommand: its yargs usage and options, and what it does, returning the exit code. */
interface Command<A> {
  usage: string;
  describe: string;
  options: (y: Argv) => Argv<A>;
  run: (a: ArgumentsCamelCase<A>) => Promise<number> | number;
}

/** Registers a command on a parser; `done` receives the exit code it returns. */
type Registration = (y: Argv, done: (code: number) => void) => Argv;

function command<A>(c: Command<A>): Registration {
  return (y, done) => y.command(c.usage, c.describe, c.options, async (a) => done(await c.run(a)));
}

const COMMANDS: readonly Registration[] = [
  command({
    usage: '$0 <profile>',
    describe: 'run the capacity search described by a YAML profile',
    options: (y) =>
      y
        .positional('profile', { type: 'string', demandOption: true, describe: 'the YAML step profile' })
        .option('out', { type: 'string', describe: 'directory for run directories (overrides report.dir)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'validate and print the plan; send nothing' })
        .option('workers', {
          type: 'string',
          describe: "load-generator worker threads (overrides the profile's workers)",
        }),
    run: (a) => runCommand(a.profile, a.out, a['dry-run'], parseWorkers(a.workers)),
  }),
  command({
    usage: 'validate <profile>',
    describe: 'validate a profile and print the planned stages and bounds; sends nothing',
    options: (y) => y.positional('profile', { type: 'string', demandOption: true }),
    run: (a) => runCommand(a.profile, undefined, true),
  }),
  command({
    usage: 'report <run-dir>',
    describe: 'rebuild summary.json and report.html of a run directory from its requests.jsonl; sends nothing',
    options: (y) => y.positional('run-dir', { type: 'string', demandOption: true }),
    run: (a) => reportCommand(a['run-dir']),
  }),
  command({
    usage: 'simulate',
    describe: 'serve the built-in simulated LLM endpoint until Ctrl-C',
    options: (y) =>
      y
        .option('preset', { type: 'string', default: 'demo', describe: 'demo | tiny | large | flaky' })
        .option('port', { type: 'number', default: 0, describe: '0 = an ephemeral port' })
        .option('set', {
          type: 'string',
          array: true,
          default: [] as string[],
          describe: 'override a parameter: --set slots=8',
        })
        .option('ground-truth', {
          type: 'string',
          describe: 'write the server-side view of every request to this JSONL file',
        }),
    run: (a) => simulateCommand({ preset: a.preset, port: a.port, set: a.set, groundTruthPath: a['ground-truth'] }),
  }),
];

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const done = (c: number) => {
    code = c;
  };
  const parser = COMMANDS.reduce(
    (y, register) => register(y, done),
    yargs(argv)
      .scriptName('find-capacity')
      .usage('$0 <profile.yaml>  — find the capacity of an OpenAI-compatible LLM endpoint'),
  );
  await parser
    .version(TOOL_VERSION)
    .strict()
    .help()
    .fail((msg, e) => {
      if (e) throw e;
      throw new ToolError('invalid_arguments', msg ?? 'invalid arguments', 'see find-capacity --help');
    })
    .parseAsync();
  return code;
}

function crash(e: unknown): void {
  try {
    err(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    process.exit(EXIT.internal);
  }
}

async function entry(): Promise<void> {
  // Printed through the redactor (Node's default printer would echo whatever the error holds), then exit 1.
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    const code = await main(hideBin(process.argv));
    process.exitCode = code;
  } catch (e) {
    if (e instanceof ProfileError) {
      err(e.message);
    } else if (e instanceof ToolError) {
      err(`error: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`);
    } else {
      err(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    process.exitCode = exitCodeForError(e);
  }
}

await entry();

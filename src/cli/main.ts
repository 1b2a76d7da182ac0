#!/usr/bin/env node
// The only module that touches `process`: argv, env, stdout/stderr, signals and exit codes.
import { availableParallelism } from 'node:os';
import yargs, { type Argv, type ArgumentsCamelCase } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ProfileError, ToolError, formatProblem } from '../errors.ts';
import { MAX_WORKERS } from '../profile/keys.ts';
import type { RunEvent } from '../controller/run.ts';
import { capacityLevel, type Capacity } from '../model/verdict.ts';
import { finalReport, progressLine, searchClock } from '../report/terminal.ts';
import type { Comparison } from '../model/compare.ts';
import { parsePercent } from '../util/units.ts';
import { formatMs } from '../slo/evaluate.ts';
import { makeRedactor } from '../util/secrets.ts';
import { TOOL_VERSION } from '../version.ts';
import { AGENT_TOKEN_ENV } from '../load/agent-protocol.ts';
import { checkAgentList } from '../profile/agents.ts';
import { followRelauncher, relaunch, relauncherPid, relaunchFlags, whenParentGone } from './relaunch.ts';

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
  agentLost: 8,
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
    case 'agent_lost':
      return EXIT.agentLost;
    case 'interrupted':
      return EXIT.interrupted;
    case 'target_unreachable':
      return EXIT.targetUnreachable;
  }
}

/** `compare`'s exit codes, documented in the README ("Comparing runs"); its errors use EXIT like every command. */
export const COMPARE_EXIT = { no_regression: 0, regression: 1, not_comparable: 2 } as const;

export function exitCodeForComparison(c: Comparison): number {
  return COMPARE_EXIT[c.verdict];
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
      case 'agent_unavailable':
        return EXIT.agentLost;
      default:
        return EXIT.internal;
    }
  }
  return EXIT.internal;
}

// Everything printed goes through a redactor; once a profile is loaded it also knows its credentials (the key,
// credential headers, headers read from variables), and only those: "X-Team: capacity" is no secret.
let redactOutput = makeRedactor([]);
const out = (s: string) => process.stdout.write(redactOutput(s) + '\n');
const err = (s: string) => process.stderr.write(redactOutput(s) + '\n');

/** `sends`: a run needs every variable the profile names; validate and --dry-run only warn about an unset one. */
// The commands' modules (the YAML parser, the SDK, the chart renderer) are loaded when a command runs: `--help`
// and `--version` load none of them, so they answer at once.
async function loadOrReport(file: string, sends: boolean) {
  const { loadProfile } = await import('../profile/load.ts');
  const { readCredentials } = await import('../controller/target.ts');
  const { profile, warnings } = await loadProfile(file, { env: process.env, requireSecrets: sends });
  redactOutput = makeRedactor([...readCredentials(profile, process.env, false).secrets, process.env[AGENT_TOKEN_ENV]]);
  for (const w of warnings) err(`warning: ${formatProblem(w)}`);
  return profile;
}

/** " (low confidence, cut short)": what qualifies a stage's verdict; a stage cut short never decides the capacity. */
function stageNotes(r: { lowConfidence: boolean; partial: boolean }): string {
  const notes = [r.lowConfidence ? 'low confidence' : '', r.partial ? 'cut short' : ''].filter(Boolean);
  return notes.length > 0 ? ` (${notes.join(', ')})` : '';
}

/** A stage's level in progress lines: "concurrency 8", or "rate 8 req/s" in a rate run. */
function levelText(concurrency: number, rate: number | undefined): string {
  return rate === undefined ? `concurrency ${concurrency}` : `rate ${rate} req/s`;
}

/** Stage lines and, on a terminal, one live progress line; `clock` says how far the whole search is. */
function progressPrinter(clock: () => string): (e: RunEvent) => void {
  const tty = process.stderr.isTTY === true;
  let live = false;
  let stage = '';
  return (e) => {
    if (e.type === 'target')
      err(`target: ${e.baseUrl}${e.simulator ? ` (built-in simulator, preset ${e.simulator})` : ''}`);
    else if (e.type === 'run-dir') err(`run directory: ${e.path}`);
    else if (e.type === 'stage-start') {
      stage = `stage ${e.stage}${e.attempt > 1 ? ` attempt ${e.attempt}` : ''}`;
      const attempt = e.attempt > 1 ? `, attempt ${e.attempt}` : '';
      if (!tty) err(`stage ${e.stage}: ${levelText(e.concurrency, e.rate)} (${e.kind}${attempt}) — ${clock()}`);
    } else if (e.type === 'progress' && tty) {
      process.stderr.write(`\r\x1b[2K${redactOutput(progressLine(stage, e.progress, clock()))}`);
      live = true;
    } else if (e.type === 'stage-end') {
      if (live) process.stderr.write('\r\x1b[2K');
      live = false;
      const s = e.result.summary;
      err(
        `stage ${e.stage}: ${levelText(s.concurrency, s.offeredRate ?? undefined)} ${e.result.verdict}${stageNotes(e.result)} — ${s.requests} requests, ${s.qps.toFixed(2)} qps, p99(ttft) ${formatMs(s.ttftMs.p99)}`,
      );
    } else if (e.type === 'stopping') err(e.reason);
    else if (e.type === 'notice') {
      if (live) process.stderr.write('\r\x1b[2K');
      live = false;
      err(e.message);
    }
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

/** --agents url,url: the remote load agents (overrides the profile's `agents`). */
function parseAgents(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const { urls, problems } = checkAgentList(
    String(v)
      .split(',')
      .filter((u) => u.trim() !== ''),
  );
  if (problems.length > 0 || urls.length === 0)
    throw new ToolError(
      'invalid_arguments',
      `--agents: ${problems.map(([k, m]) => `agent ${k + 1} ${m}`).join('; ') || 'no agent listed'}`,
      'for example --agents ws://10.0.0.5:7070,ws://10.0.0.6:7070',
    );
  return urls;
}

/**
 * SIGINT, SIGTERM, or the launcher going away (a supervisor stopped `npx`, which exits without passing the signal on,
 * and this process is re-parented) stop the run gracefully: in-flight requests finish, the report is written. A
 * second one exits at once. Returns the function that stops listening.
 */
function listenForInterrupts(ac: AbortController): () => void {
  let interrupts = 0;
  const interrupt = (what: string, reason: string) => {
    interrupts++;
    if (interrupts > 1) {
      // The JSONL writers flush their pending lines on 'exit'; the simulator child ends when its IPC channel closes.
      err(`\n${what} again: exiting at once (requests.jsonl is intact up to its last line).`);
      process.exit(EXIT.interrupted);
    }
    err(
      `\n${what}: stopping — letting in-flight requests finish, then writing the report (press Ctrl-C again to exit at once).`,
    );
    ac.abort(reason);
  };
  const sigint = () => interrupt('SIGINT', 'interrupted by SIGINT');
  const sigterm = () => interrupt('SIGTERM', 'interrupted by SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  // Relaunched on one CPU, followRelauncher turns the relauncher's going away into one SIGTERM instead.
  const stopWatching =
    relauncherPid() !== null
      ? () => {}
      : whenParentGone((launcher) =>
          interrupt(
            `the launching process (pid ${launcher}) went away`,
            `interrupted: the launching process went away`,
          ),
        );
  return () => {
    stopWatching();
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  };
}

async function runCommand(
  file: string,
  outDir: string | undefined,
  dryRun: boolean,
  workers?: number,
  agents?: { urls?: string[]; waitS?: number },
): Promise<number> {
  const loaded = await loadOrReport(file, !dryRun);
  // --workers overrides the profile's `workers` (and is what profile.json and summary.json then record).
  const withWorkers = workers === undefined ? loaded : { ...loaded, workers };
  const profile = agents?.urls === undefined ? withWorkers : { ...withWorkers, agents: agents.urls };
  const { describePlan, searchBoundMs } = await import('../profile/plan.ts');
  if (dryRun) {
    out(describePlan(profile));
    return EXIT.ok;
  }
  const { runCapacitySearch } = await import('../controller/run.ts');
  const ac = new AbortController();
  const stopListening = listenForInterrupts(ac);
  try {
    const started = performance.now();
    const bound = searchBoundMs(profile);
    const result = await runCapacitySearch({
      profile,
      env: process.env,
      outDir,
      signal: ac.signal,
      onEvent: progressPrinter(() => searchClock(performance.now() - started, bound)),
      agentsWaitMs: agents?.waitS === undefined ? undefined : agents.waitS * 1000,
    });
    out(finalReport(result.summary, result.runDir));
    return exitCodeForCapacity(result.capacity);
  } finally {
    stopListening();
  }
}

/** Sends nothing: recomputes summary.json and report.html from requests.jsonl. */
async function reportCommand(dir: string): Promise<number> {
  const { rebuildSummary, writeRebuilt } = await import('../controller/rebuild.ts');
  const rebuilt = rebuildSummary(dir);
  writeRebuilt(dir, rebuilt);
  if (rebuilt.skippedLines > 0) err(`warning: skipped ${rebuilt.skippedLines} unreadable line(s)`);
  out(finalReport(rebuilt.summary, dir));
  return EXIT.ok;
}

/** --max-regression: a percentage such as 5% (or a ratio such as 0.05) below 100%. */
function parseMaxRegression(v: unknown): number {
  try {
    const ratio = parsePercent(v);
    if (ratio >= 1) throw new Error(`must be less than 100%, got ${JSON.stringify(v)}`);
    return ratio;
  } catch (e) {
    throw new ToolError(
      'invalid_arguments',
      `--max-regression ${(e as Error).message}`,
      'for example --max-regression 5%',
    );
  }
}

/** Sends nothing: compares two run directories from their files; compare.html and compare.json go to --out. */
async function compareCommand(
  dirA: string,
  dirB: string,
  outDir: string | undefined,
  maxRegression: unknown,
): Promise<number> {
  const allowed = parseMaxRegression(maxRegression);
  const { compareRunDirs, writeComparison } = await import('../controller/compare.ts');
  const { compareText } = await import('../report/compare-text.ts');
  const comparison = compareRunDirs(dirA, dirB, allowed);
  const files = writeComparison(outDir ?? dirB, comparison);
  out(compareText(comparison, files));
  return exitCodeForComparison(comparison);
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
        })
        .option('agents', {
          type: 'string',
          describe: "remote load agents: ws://host:port,... (overrides the profile's agents)",
        })
        .option('agents-wait', {
          type: 'number',
          describe: 'seconds to wait for agents that do not listen yet (default 10)',
        }),
    run: (a) =>
      runCommand(a.profile, a.out, a['dry-run'], parseWorkers(a.workers), {
        urls: parseAgents(a.agents),
        waitS: a['agents-wait'],
      }),
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
    usage: 'compare <run-dir-a> <run-dir-b>',
    describe:
      'compare two run directories (A the baseline, B the candidate): exit 0 no significant regression, 1 regression, 2 not comparable; sends nothing',
    options: (y) =>
      y
        .positional('run-dir-a', { type: 'string', demandOption: true, describe: 'the baseline run directory' })
        .positional('run-dir-b', { type: 'string', demandOption: true, describe: 'the run directory to judge' })
        .option('out', { type: 'string', describe: 'directory for compare.html and compare.json (default: run-dir-b)' })
        .option('max-regression', {
          type: 'string',
          default: '5%',
          describe: 'the largest change that is not a regression, when the confidence intervals show one',
        }),
    run: (a) => compareCommand(a['run-dir-a'], a['run-dir-b'], a.out, a['max-regression']),
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
  command({
    usage: 'agent',
    describe: `serve as a remote load agent for a controller (needs ${AGENT_TOKEN_ENV}) until Ctrl-C`,
    options: (y) =>
      y
        .option('listen', { type: 'string', default: '127.0.0.1:7070', describe: 'HOST:PORT to listen on' })
        .option('once', { type: 'boolean', default: false, describe: "exit when the first controller's session ends" }),
    run: async (a) => {
      redactOutput = makeRedactor([process.env[AGENT_TOKEN_ENV]]);
      const { agentCommand } = await import('./agent-command.ts');
      await agentCommand({ listen: a.listen, once: a.once }, { out, err, env: process.env });
      return EXIT.ok;
    },
  }),
  command({
    usage: 'k8s <profile>',
    describe: 'print Kubernetes manifests that run the profile with N remote agents; sends nothing',
    options: (y) =>
      y
        .positional('profile', { type: 'string', demandOption: true })
        .option('agents', { type: 'number', demandOption: true, describe: 'number of agent pods' })
        .option('image', { type: 'string', describe: 'container image (default find-capacity:<version>)' })
        .option('namespace', { type: 'string', describe: 'namespace of every resource' })
        .option('secret', { type: 'string', describe: 'Secret with agent-token and api-key (default find-capacity)' })
        .option('out', { type: 'string', describe: 'write the YAML to this file instead of stdout' }),
    run: async (a) => {
      const { k8sCommand } = await import('./k8s-command.ts');
      await k8sCommand(a.profile, a, { out, err });
      return EXIT.ok;
    },
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
  )
    .version(TOOL_VERSION)
    .strict()
    .help()
    .fail((msg, e) => {
      if (e) throw e;
      throw new ToolError('invalid_arguments', msg ?? 'invalid arguments', 'see find-capacity --help');
    });
  if (argv.length === 0) {
    // A bare `find-capacity` asks what the tool does: the usage, not "Not enough non-option arguments".
    parser.showHelp((text) => err(text));
    return EXIT.invalidInput;
  }
  await parser.parseAsync();
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
  const flags = relaunchFlags({
    cpus: availableParallelism(),
    execArgv: process.execArgv,
    env: process.env,
    platform: process.platform,
  });
  const relaunched = flags === null ? null : await relaunch(flags);
  if (relaunched !== null) {
    process.exitCode = relaunched;
    return;
  }
  followRelauncher();
  // Printed through the redactor (Node's default printer would echo whatever the error holds), then exit 1.
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  // A launcher that reads our output may die first (a CI runner, `npx` stopped by a supervisor): writing to its closed
  // pipe must not end the run before it has written its report.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') crash(e);
    });
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

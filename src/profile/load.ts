// Loads a profile file: size check, YAML parse with source positions, full validation. Throws ONE
// ProfileError listing every problem (file:line:col path: message), or returns the Profile and its warnings.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ProfileError, ToolError, type ProfileProblem } from '../errors.ts';
import { MAX_PROFILE_BYTES } from './keys.ts';
import { parseYaml, YamlSyntaxError } from './source.ts';
import type { Profile } from './types.ts';
import { validateDocument } from './validate.ts';

export interface ValidateResult {
  /** Null when there is at least one error. */
  profile: Profile | null;
  /** Errors and warnings, sorted by position. */
  problems: ProfileProblem[];
}

export interface LoadOptions {
  /** Environment used to check api_key_env (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The profile's text, when already in memory (the file is then not read). */
  text?: string;
  /** False for commands that send nothing: an unset key or header variable is then a warning (default true). */
  requireSecrets?: boolean;
}

function tooBig(file: string, bytes: number): ProfileProblem {
  return {
    file,
    line: 1,
    col: 1,
    path: '',
    message: `the file is ${(bytes / 1024 / 1024).toFixed(1)} MB; a profile must be at most ${MAX_PROFILE_BYTES / 1024} KB (put prompts in request.prompts_file)`,
    severity: 'error',
  };
}

/**
 * Validates profile text without throwing for profile problems. `file` is the path as the user gave it
 * (used in messages); relative paths inside the profile resolve against its directory.
 */
export async function validateProfileText(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  requireSecrets = true,
): Promise<ValidateResult> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PROFILE_BYTES) return { profile: null, problems: [tooBig(file, bytes)] };
  const clean = text.replace(/^\uFEFF/, '');
  let parsed;
  try {
    parsed = parseYaml(clean, file);
  } catch (err) {
    if (err instanceof YamlSyntaxError) {
      return {
        profile: null,
        problems: [{ file, line: err.line, col: err.col, path: '', message: err.message, severity: 'error' }],
      };
    }
    throw err;
  }
  return validateDocument(parsed.value, {
    displayFile: file,
    absoluteFile: path.resolve(file),
    env,
    requireSecrets,
    source: parsed.source,
  });
}

/**
 * Reads and validates a profile. Throws ProfileError (code invalid_profile) listing every error,
 * or ToolError (invalid_arguments) when the file cannot be read.
 */
export async function loadProfile(
  file: string,
  opts: LoadOptions = {},
): Promise<{ profile: Profile; warnings: ProfileProblem[] }> {
  let text = opts.text;
  if (text === undefined) {
    try {
      const st = await stat(file);
      if (!st.isFile())
        throw new ToolError('invalid_arguments', `${file} is not a file`, 'pass the path of a profile .yaml file');
      // Checked before reading: a huge file is rejected without loading it into memory.
      if (st.size > MAX_PROFILE_BYTES) throw new ProfileError([tooBig(file, st.size)]);
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (err instanceof ToolError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'read error');
      throw new ToolError(
        'invalid_arguments',
        `cannot read profile ${file}: ${reason}`,
        'pass the path of a profile .yaml file, e.g. profiles/demo.yaml',
      );
    }
  }
  const { profile, problems } = await validateProfileText(
    text,
    file,
    opts.env ?? process.env,
    opts.requireSecrets ?? true,
  );
  if (!profile) throw new ProfileError(problems);
  return { profile, warnings: problems.filter((p) => p.severity === 'warning') };
}

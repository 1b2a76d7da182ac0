// Errors carry a code and a hint; src/cli maps codes to exit codes in exactly one place.

export type ErrorCode =
  | 'invalid_profile'
  | 'invalid_arguments'
  | 'target_unreachable'
  | 'missing_api_key'
  | 'io_error'
  | 'internal'
  /** A remote load agent could not be reached, refused the controller, or runs another version. */
  | 'agent_unavailable';

export class ToolError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | null;
  constructor(code: ErrorCode, message: string, hint: string | null = null) {
    super(message);
    this.name = 'ToolError';
    this.code = code;
    this.hint = hint;
  }
}

/** One located problem in a profile: `file:line:col path: message`. */
export interface ProfileProblem {
  file: string;
  line: number;
  col: number;
  /** YAML path such as `ramp.concurrency.step` or `slo[1]`. */
  path: string;
  message: string;
  /** Warnings are printed but do not stop the run. */
  severity: 'error' | 'warning';
}

export function formatProblem(p: ProfileProblem): string {
  const where = `${p.file}:${p.line}:${p.col}`;
  return `${where} ${p.path ? p.path + ': ' : ''}${p.message}`;
}

export class ProfileError extends ToolError {
  readonly problems: ProfileProblem[];
  constructor(problems: ProfileProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(
      'invalid_profile',
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the profile:\n` +
        errors.map(formatProblem).join('\n'),
    );
    this.name = 'ProfileError';
    this.problems = problems;
  }
}

// Messages between a controller and its remote load agents (remote-agents.ts, agent-host.ts): one JSON object per
// WebSocket text frame. The hello is the same in every version, so two versions can always tell each other apart.
import type { RequestRecord } from '../model/record.ts';
import type { ExecutorHealth, StagePlan, StoppedBy } from '../model/stage.ts';
import type { StageWindow } from '../model/summary.ts';
import type { StagePart } from './executor.ts';
import type { PartSetup } from './part-executor.ts';

/** Bumped on any change to the messages below; controller and agent must agree (and run the same tool version). */
export const AGENT_PROTOCOL_VERSION = 1;
/** The shared secret an agent requires of its controller (the `Authorization: Bearer` of the upgrade request). */
export const AGENT_TOKEN_ENV = 'FIND_CAPACITY_AGENT_TOKEN';
export const DEFAULT_AGENT_PORT = 7070;
/** Setup carries the payloads (a prompts file may be large); nothing else comes close. */
export const AGENT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

export interface Hello {
  type: 'hello';
  protocol: number;
  toolVersion: string;
}

/** What an agent needs to send requests: sent only after the token was accepted (it holds the API key). */
export type AgentSetup = PartSetup;

/** One stage's share for an agent: every time is on the CONTROLLER's run clock (the agent shifts its own). */
export interface AgentStage {
  type: 'stage';
  plan: StagePlan & { startMs: number };
  part: StagePart;
  /** This agent's share of the window's request limit (null: the window ends with its duration). */
  requestLimit: number | null;
  /** This agent's share of the requests the run may still send. */
  maxRequests: number;
  /** Stop sending at this run-clock time (the run-wide duration limit; null: none). */
  deadlineMs: number | null;
  /** The agent's clock minus the controller's, estimated by the controller just before the stage. */
  offsetMs: number;
}

export type ToAgent =
  | Hello
  | { type: 'setup'; setup: AgentSetup }
  | { type: 'ping'; seq: number }
  /** The controller's breaker or a run-wide budget: stop sending, let in-flight requests end. */
  | { type: 'stop' }
  /** Ctrl-C on the controller: stop sending, give in-flight requests the interrupt grace. */
  | { type: 'interrupt' }
  | AgentStage
  | { type: 'close' };

export interface AgentDone {
  type: 'done';
  window: StageWindow;
  stoppedBy: StoppedBy | null;
  health: ExecutorHealth;
  sent: number;
}

export type FromAgent =
  | Hello
  /** The agent will not work with this controller (another version, already busy); it closes next. */
  | { type: 'refused'; message: string }
  | { type: 'ready' }
  /** `t1`, `t2`: when the agent received the ping and sent this, on its own monotonic clock. */
  | { type: 'pong'; seq: number; t1: number; t2: number }
  /** Records on the controller's clock; `sent`: requests this agent sent in the stage so far. */
  | { type: 'records'; records: RequestRecord[]; sent: number }
  /** Sent while a stage runs even when no record ends: the controller counts an agent silent too long as lost. */
  | { type: 'tick'; sent: number }
  | AgentDone
  | { type: 'failed'; message: string };

/** Parses one frame; null when it is not a JSON object with a string `type`. */
export function parseMessage<T extends { type: string }>(data: unknown): T | null {
  try {
    const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : null;
    if (text === null) return null;
    const m: unknown = JSON.parse(text);
    return m !== null && typeof m === 'object' && typeof (m as { type?: unknown }).type === 'string' ? (m as T) : null;
  } catch {
    return null;
  }
}

/** Why two versions cannot work together, or null when they can. */
export function versionMismatch(ours: Omit<Hello, 'type'>, theirs: Omit<Hello, 'type'>, who: string): string | null {
  if (ours.protocol === theirs.protocol && ours.toolVersion === theirs.toolVersion) return null;
  return (
    `${who} runs find-capacity ${theirs.toolVersion} (agent protocol ${theirs.protocol}), this one ` +
    `${ours.toolVersion} (protocol ${ours.protocol}): run the same version on the controller and every agent`
  );
}

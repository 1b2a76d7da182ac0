// What summary.json says about each remote load agent of a run (docs/distributed.md).

export interface AgentSummary {
  /** The agent's index: the `agent` field of its records. */
  index: number;
  /** The address the controller reached it at. */
  name: string;
  /** Agent clock minus controller clock, as last estimated (ms). */
  offset_ms: number | null;
  /** The largest error bound of the offsets used for any stage: half the best round trip (ms). */
  error_bound_ms: number | null;
  /** Records received from it. */
  records: number;
  /** Why it was lost, or null. */
  lost: string | null;
}

// Pure: sizing arithmetic. Replicas for a peak load and the cost of a million output tokens at a measured load.
import type { SizingConfig } from '../profile/types.ts';

/** Ratios within this of a whole number count as that number: 1.1 / 0.1 is 11.000000000000002 in floating point. */
const WHOLE_TOLERANCE = 1e-9;

/**
 * Replicas needed to serve `peakQps` when one replica serves `qpsPerReplica`, plus `redundancy` spares.
 * Null when one replica serves nothing (no capacity, or no successful request completed).
 */
export function replicasFor(peakQps: number, qpsPerReplica: number | null, redundancy: number): number | null {
  if (qpsPerReplica === null || !Number.isFinite(qpsPerReplica) || qpsPerReplica <= 0) return null;
  const ratio = peakQps / qpsPerReplica;
  const whole = Math.round(ratio);
  const needed = Math.abs(ratio - whole) <= WHOLE_TOLERANCE * Math.max(1, whole) ? whole : Math.ceil(ratio);
  return Math.max(needed, 0) + redundancy;
}

/** Cost of one million output tokens from one replica producing `outputTokensPerS` while it costs `costPerHour`. */
export function costPerMillionOutputTokens(costPerHour: number, outputTokensPerS: number | null): number | null {
  if (outputTokensPerS === null || !Number.isFinite(outputTokensPerS) || outputTokensPerS <= 0) return null;
  return (costPerHour / (outputTokensPerS * 3600)) * 1_000_000;
}

/** What sizing says at one measured load point (the capacity, or one SLA tier). */
export interface SizingAt {
  /** Null without peak_qps, or when the point served nothing. */
  replicas: number | null;
  /** replicas × cost_per_hour; null without either. */
  fleetCostPerHour: number | null;
  /** Null without cost_per_hour, or when the point produced no output tokens. */
  costPerMillionOutputTokens: number | null;
}

export function sizingAt(cfg: SizingConfig, qps: number | null, outputTokensPerS: number | null): SizingAt {
  const replicas = cfg.peakQps === null ? null : replicasFor(cfg.peakQps, qps, cfg.redundancy);
  return {
    replicas,
    fleetCostPerHour: replicas === null || cfg.costPerHour === null ? null : replicas * cfg.costPerHour,
    costPerMillionOutputTokens:
      cfg.costPerHour === null ? null : costPerMillionOutputTokens(cfg.costPerHour, outputTokensPerS),
  };
}

/**
 * The fp16 guard. fp16 tops out at 65504: an activation beyond it becomes inf and usually NaN a few ops
 * later. After each fp16 unit of work (a content window, a DiT window, a vocoder window) the outputs are
 * checked; a non-finite value, or one close to the fp16 limit, makes that unit run again in fp32. Every
 * such event is reported, never hidden.
 */

/** Largest finite fp16 value. */
export const FP16_MAX = 65504;
/** Magnitudes above this fraction of FP16_MAX count as "about to overflow". */
export const FP16_GUARD_FRACTION = 0.5;

export type GuardStage = 'content' | 'dit' | 'vocoder';

export interface GuardEvent {
  stage: GuardStage;
  /** 1-based window index within the stage. */
  window: number;
  reason: string;
  action: 'recomputed in fp32';
}

/** Why `data` is unsafe (a non-finite value, or a magnitude near the fp16 limit), or null when it is fine. */
export function fp16Hazard(data: ArrayLike<number>): string | null {
  const limit = FP16_MAX * FP16_GUARD_FRACTION;
  let peak = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) return `non-finite value (${v}) at index ${i}`;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  return peak > limit ? `magnitude ${peak.toExponential(2)} near the fp16 limit (${FP16_MAX})` : null;
}

/** Why `data` is unsafe for a stage computed in fp32 or int8 (which cannot overflow fp16): a non-finite value. */
export function nonFiniteHazard(data: ArrayLike<number>): string | null {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return `non-finite value (${data[i]}) at index ${i}`;
  return null;
}

/** The check the guard applies to a stage of the given builder precision. */
export function hazardFor(precision: string): (data: ArrayLike<number>) => string | null {
  return precision === 'fp16' ? fp16Hazard : nonFiniteHazard;
}

/**
 * Runs `primary`; when `fallback` exists (the stage ran in fp16) and `check` finds a hazard in the
 * result, runs `fallback` instead and reports the event.
 */
export async function guarded<T>(
  stage: GuardStage,
  window: number,
  primary: () => Promise<T>,
  fallback: (() => Promise<T>) | undefined,
  check: (result: T) => string | null,
  report: (e: GuardEvent) => void,
): Promise<T> {
  const result = await primary();
  if (!fallback) return result;
  const hazard = check(result);
  if (hazard === null) return result;
  report({ stage, window, reason: hazard, action: 'recomputed in fp32' });
  return fallback();
}

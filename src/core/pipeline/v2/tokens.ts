/** Token-sequence helpers of the v2 wrapper. */

/** duration_reduction_func: drops consecutive repeats (n-gram 1). */
export function reduceDurations(ids: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) out.push(ids[i]);
  return out;
}

/**
 * The cos^2 crossfade inference.py applies between consecutive long-form chunks.
 */
import { InvalidInputError } from '../errors.ts';

/** fade_out = cos(linspace(0, pi/2, overlap))^2 and fade_in = cos(linspace(pi/2, 0, overlap))^2, float64. */
export function crossfadeCurves(overlap: number): { fadeOut: Float64Array; fadeIn: Float64Array } {
  if (!Number.isInteger(overlap) || overlap < 1) throw new InvalidInputError(`crossfade: overlap must be a positive integer, got ${overlap}`);
  const fadeOut = new Float64Array(overlap);
  const fadeIn = new Float64Array(overlap);
  const half = Math.PI / 2;
  if (overlap === 1) {
    fadeOut[0] = 1;
    fadeIn[0] = Math.cos(half) ** 2;
    return { fadeOut, fadeIn };
  }
  // numpy.linspace: k * step + start, last value exactly stop
  const upStep = half / (overlap - 1);
  const downStep = (0 - half) / (overlap - 1);
  for (let k = 0; k < overlap; k++) {
    const a = k === overlap - 1 ? half : k * upStep;
    const b = k === overlap - 1 ? 0 : k * downStep + half;
    fadeOut[k] = Math.cos(a) ** 2;
    fadeIn[k] = Math.cos(b) ** 2;
  }
  return { fadeOut, fadeIn };
}

/**
 * inference.py crossfade(chunk1, chunk2, overlap): blends chunk1's last `overlap` samples into the head
 * of chunk2 IN PLACE (fades in float64, results rounded into chunk2) and returns chunk2. When chunk2 is
 * shorter than `overlap`, only its len(chunk2) samples are blended, with the first fade values.
 */
export function crossfade<T extends Float32Array | Float64Array>(chunk1: Float32Array | Float64Array, chunk2: T, overlap: number): T {
  const { fadeOut, fadeIn } = crossfadeCurves(overlap);
  if (chunk1.length < overlap) {
    throw new InvalidInputError(`crossfade: the previous chunk has ${chunk1.length} samples, fewer than the overlap ${overlap}`);
  }
  const tail = chunk1.length - overlap;
  const len = Math.min(overlap, chunk2.length);
  for (let i = 0; i < len; i++) chunk2[i] = chunk2[i] * fadeIn[i] + chunk1[tail + i] * fadeOut[i];
  return chunk2;
}

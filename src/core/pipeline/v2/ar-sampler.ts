/**
 * The v2 AR sampler (modules/v2/ar.py logits_to_probs + multinomial_sample_one_no_sync), in the
 * reference's order and float32 arithmetic:
 *  (a) repetition penalty on ONE logit, that of the first generated token (the reference passes history[0]):
 *      l < 0 ? l * rp : l / rp; none at the first step;
 *  (b) end-token suppression (-inf) at the first step and while fewer than 10 tokens exist;
 *  (c) top-p on softmax of those logits sorted descending: a token is removed when the cumulative probability
 *      including it exceeds top_p (the crossing token too), never the first;
 *  (d) division by max(temperature, 1e-5), softmax;
 *  (e) token = argmax(probs / q), q ~ Exp(1) per vocabulary entry — the draws are injectable.
 */
import { InvalidInputError } from '../../errors.ts';
import { Rng } from '../random.ts';

export interface ArSampling {
  topP: number;
  temperature: number;
  repetitionPenalty: number;
}

/** Seed-VC v2 CLI defaults (inference_v2.py). */
export const AR_CLI_DEFAULTS: ArSampling = { topP: 0.9, temperature: 1.0, repetitionPenalty: 1.0 };

/** Exp(1) draws of vocabulary size for sampling step `step` (0 = the prefill's step). */
export type ArDraws = (step: number, vocab: number) => Float32Array;

export interface SampleResult {
  token: number;
  probs: Float32Array;
  /** 1 where top-p removed the token. */
  removed: Uint8Array;
}

const f = Math.fround;

export function checkSampling(s: ArSampling): void {
  if (!(s.topP > 0 && s.topP <= 1)) throw new InvalidInputError(`top-p must be in (0, 1] (got ${s.topP})`);
  if (!(s.temperature > 0) || !Number.isFinite(s.temperature)) throw new InvalidInputError(`temperature must be > 0 (got ${s.temperature})`);
  if (!(s.repetitionPenalty > 0) || !Number.isFinite(s.repetitionPenalty)) {
    throw new InvalidInputError(`repetition penalty must be > 0 (got ${s.repetitionPenalty})`);
  }
}

/**
 * float32 softmax of `x` into `out`, bit-exact with PyTorch's CPU kernel (AVX2): exp by SLEEF's expf (u10,
 * fused multiply-adds), the sum over 8 lanes (the tail added lane-wise) then across lanes, and the result
 * as x * (1 / sum). Bit-exactness matters here: the golden probabilities are compared to 1e-6 of their rms,
 * below one float32 ulp of the dominant probability.
 */
export function softmaxF32(x: Float32Array, out: Float32Array): void {
  const n = x.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  for (let i = 0; i < n; i++) out[i] = expf(f(x[i] - max));
  const LANES = 8;
  const acc = new Float32Array(LANES);
  let i = 0;
  if (n >= LANES) {
    for (; i + LANES <= n; i += LANES) for (let j = 0; j < LANES; j++) acc[j] = f(acc[j] + out[i + j]);
    for (let j = 0; i + j < n; j++) acc[j] = f(acc[j] + out[i + j]);
  } else {
    for (let j = 0; j < n; j++) acc[j] = out[j];
  }
  let sum = acc[0];
  for (let j = 1; j < LANES; j++) sum = f(sum + acc[j]);
  const r = f(1 / sum);
  for (let k = 0; k < n; k++) out[k] = f(out[k] * r);
}

const fma = (a: number, b: number, c: number): number => f(a * b + c);
const R_LN2 = f(1.4426950408889634), L2U = f(0.693145751953125), L2L = f(1.428606765330187e-6);
const EXP_POLY = [1.98527617612853646278381e-4, 1.39304355252534151077271e-3, 8.33336077630519866943359e-3,
  4.16664853692054748535156e-2, 0.166666671633720397949219, 0.5].map(f);

/** SLEEF's single-precision exp (xexpf, 1-ulp): what torch's Vectorized<float>::exp computes. */
function expf(d: number): number {
  if (d < -104 || d === -Infinity) return 0;
  if (d > 100) return Infinity;
  const t = f(d * R_LN2);
  const q = Math.abs(t % 1) === 0.5 ? 2 * Math.round(t / 2) : Math.round(t); // round half to even
  let s = fma(q, -L2U, d);
  s = fma(q, -L2L, s);
  let u = EXP_POLY[0];
  for (let k = 1; k < EXP_POLY.length; k++) u = fma(u, s, EXP_POLY[k]);
  u = f(1 + fma(f(s * s), u, s));
  return f(u * Math.pow(2, q));
}

/**
 * logits_to_probs. `logits` is not modified. `firstToken` is the first generated token (null at step 0);
 * `suppressEnd` names the end token to suppress, or null.
 */
export function logitsToProbs(
  logits: Float32Array, firstToken: number | null, suppressEnd: number | null, s: ArSampling,
): { probs: Float32Array; removed: Uint8Array } {
  const V = logits.length;
  const l = Float32Array.from(logits);
  if (firstToken !== null) {
    const v = l[firstToken];
    l[firstToken] = v < 0 ? f(v * f(s.repetitionPenalty)) : f(v / f(s.repetitionPenalty));
  }
  if (suppressEnd !== null) l[suppressEnd] = -Infinity;

  // Descending sort (stable by index for ties), softmax of the sorted logits, cumulative sum.
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => (l[b] - l[a]) || (a - b));
  const sorted = new Float32Array(V);
  for (let i = 0; i < V; i++) sorted[i] = l[order[i]];
  const p = new Float32Array(V);
  softmaxF32(sorted, p);
  const removed = new Uint8Array(V);
  const topP = f(s.topP);
  let cum = 0;
  for (let i = 0; i < V; i++) {
    cum += p[i];
    if (i > 0 && f(cum) > topP) removed[order[i]] = 1;
  }
  const t = f(Math.max(s.temperature, 1e-5));
  for (let i = 0; i < V; i++) l[i] = removed[i] ? -Infinity : f(l[i] / t);
  const probs = new Float32Array(V);
  softmaxF32(l, probs);
  return { probs, removed };
}

/** argmax(probs / q): the exponential race equivalent to a multinomial draw. */
export function sampleFromProbs(probs: Float32Array, q: Float32Array): number {
  if (q.length !== probs.length) throw new InvalidInputError(`AR draws: ${q.length} values for a vocabulary of ${probs.length}`);
  let best = 0, bestV = -Infinity;
  for (let i = 0; i < probs.length; i++) {
    const v = f(probs[i] / q[i]);
    if (v > bestV) { bestV = v; best = i; }
  }
  return best;
}

export function sampleToken(
  logits: Float32Array, firstToken: number | null, suppressEnd: number | null, s: ArSampling, q: Float32Array,
): SampleResult {
  const { probs, removed } = logitsToProbs(logits, firstToken, suppressEnd, s);
  return { token: sampleFromProbs(probs, q), probs, removed };
}

/** Seeded Exp(1) draws (-log U). */
export function seededDraws(seed: number | bigint): ArDraws {
  const rng = new Rng(seed);
  return (_step, vocab) => {
    const q = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) q[i] = -Math.log(rng.uniform());
    return q;
  };
}

/** Draws from a [steps, vocab] table (draws.safetensors `q`, or a golden `random.q`), one row per step. */
export function drawsFromTable(data: Float32Array, shape: readonly number[], label = 'draws'): ArDraws {
  if (shape.length !== 2) throw new InvalidInputError(`${label}: expected a [steps, vocab] tensor, got [${shape.join(', ')}]`);
  const [steps, vocab] = shape;
  return (step, v) => {
    if (v !== vocab) throw new InvalidInputError(`${label}: rows have ${vocab} values, the AR vocabulary has ${v}`);
    if (step >= steps) throw new InvalidInputError(`${label}: the AR needs draw ${step + 1} but the file holds ${steps}`);
    return data.subarray(step * vocab, (step + 1) * vocab);
  };
}

/**
 * torchaudio.functional.resample (method 'sinc_interp_hann') for any pair of integer rates.
 *
 * The rates are reduced by their gcd to o (input) and n (output) samples per block; output sample
 * j = b*n + p is the dot product of polyphase kernel row p with the input around block b*o. The kernel
 * is evaluated in float32 with the exact sequence of float32 operations torchaudio performs (it builds
 * it in the waveform's dtype), which is what keeps the result within ~1e-6 of torchaudio.
 *
 * Taps whose scaled time argument lies outside (-lowpassFilterWidth, lowpassFilterWidth) are clamped
 * to the edge by torchaudio, where the Hann^2 window is cos(pi/2)^2 ~ 2e-15 and the sinc ~ 3e-8: those
 * taps (|weight| < 1e-20, the vast majority of the 2*width + o taps per phase) are skipped, so the cost
 * per output is ~2*lowpassFilterWidth*o/min(o, n) multiply-adds instead of 2*width + o.
 */
import { InvalidInputError } from '../errors.ts';

/** Options of {@link resample} (torchaudio's defaults). */
export interface ResampleOptions {
  /** Zero crossings of the sinc on each side. Default 6. */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist frequency. Default 0.99. */
  rolloff?: number;
}

/** Greatest common divisor of two non-negative integers. */
function gcd(a: number, b: number): number {
  while (b) { const t = a % b; a = b; b = t; }
  return a;
}

/** The reduced geometry of a resampling: o = orig/gcd, n = new/gcd, base = min(o,n)*rolloff, width. */
export interface ResampleGeometry {
  orig: number;
  new: number;
  base: number;
  width: number;
  lowpassFilterWidth: number;
  /** Taps per phase in torchaudio's dense kernel: 2*width + orig. */
  taps: number;
}

/** Geometry of torchaudio's resampling kernel for a rate pair (rates must be positive integers). */
export function resampleGeometry(origFreq: number, newFreq: number, opts: ResampleOptions = {}): ResampleGeometry {
  if (!Number.isInteger(origFreq) || !Number.isInteger(newFreq) || origFreq <= 0 || newFreq <= 0) {
    throw new InvalidInputError(`resample: rates must be positive integers, got ${origFreq} -> ${newFreq}`);
  }
  const lw = opts.lowpassFilterWidth ?? 6;
  const rolloff = opts.rolloff ?? 0.99;
  if (!(lw > 0)) throw new InvalidInputError(`resample: lowpassFilterWidth must be positive, got ${lw}`);
  if (!(rolloff > 0 && rolloff <= 1)) throw new InvalidInputError(`resample: rolloff must be in (0, 1], got ${rolloff}`);
  const g = gcd(origFreq, newFreq);
  const o = origFreq / g;
  const n = newFreq / g;
  const base = Math.min(o, n) * rolloff;
  const width = Math.ceil((lw * o) / base);
  return { orig: o, new: n, base, width, lowpassFilterWidth: lw, taps: 2 * width + o };
}

const PI32 = Math.fround(Math.PI);

/**
 * One tap of torchaudio's kernel, phase p < n, tap k < 2*width + o, in float32 arithmetic.
 * Also returns (through `clampedOut`) whether the time argument was clamped to the window edge.
 */
function kernelTap(geo: ResampleGeometry, p: number, k: number, clampedOut?: { clamped: boolean }): number {
  const f = Math.fround;
  const { orig: o, new: n, width, lowpassFilterWidth: lw } = geo;
  const baseF = f(geo.base);
  const scaleF = f(geo.base / o);
  const idx = f((k - width) / o);
  let t = f(f(-p / n) + idx);
  t = f(t * baseF);
  let clamped = false;
  if (t <= -lw) { t = -lw; clamped = true; } else if (t >= lw) { t = lw; clamped = true; }
  if (clampedOut) clampedOut.clamped = clamped;
  let win = f(t * PI32);
  win = f(win / lw);
  win = f(win / 2);
  win = f(Math.cos(win));
  win = f(win * win);
  const tp = f(t * PI32);
  const sinc = tp === 0 ? 1 : f(f(Math.sin(tp)) / tp);
  return f(sinc * f(win * scaleF));
}

/**
 * torchaudio's dense polyphase kernel [new/gcd, 1, 2*width + orig/gcd] (float32), as
 * _get_sinc_resample_kernel builds it for a float32 waveform.
 */
export function sincResampleKernel(origFreq: number, newFreq: number, opts: ResampleOptions = {}): { kernel: Float32Array; geometry: ResampleGeometry } {
  const geo = resampleGeometry(origFreq, newFreq, opts);
  const kernel = new Float32Array(geo.new * geo.taps);
  for (let p = 0; p < geo.new; p++) {
    for (let k = 0; k < geo.taps; k++) kernel[p * geo.taps + k] = kernelTap(geo, p, k);
  }
  return { kernel, geometry: geo };
}

/** The significant taps of every phase: a common span length, per-phase first tap, weights. */
interface Polyphase {
  geo: ResampleGeometry;
  span: number;
  first: Int32Array;
  weights: Float64Array; // [n, span], zero beyond a phase's own span
}

const polyCache = new Map<string, Polyphase>();

function polyphase(origFreq: number, newFreq: number, opts: ResampleOptions): Polyphase {
  const geo = resampleGeometry(origFreq, newFreq, opts);
  const key = `${geo.orig}/${geo.new}/${geo.lowpassFilterWidth}/${geo.base}`;
  let pp = polyCache.get(key);
  if (pp) return pp;
  const { orig: o, new: n, width, base, lowpassFilterWidth: lw, taps } = geo;
  const first = new Int32Array(n);
  const last = new Int32Array(n);
  const flag = { clamped: false };
  let span = 0;
  for (let p = 0; p < n; p++) {
    // unclamped taps satisfy |((k - width)/o - p/n) * base| < lw; search a little beyond that range
    const centre = width + (o * p) / n;
    const half = (lw * o) / base;
    let a = Math.max(0, Math.floor(centre - half) - 2);
    let b = Math.min(taps - 1, Math.ceil(centre + half) + 2);
    while (a <= b) { kernelTap(geo, p, a, flag); if (!flag.clamped) break; a++; }
    while (b >= a) { kernelTap(geo, p, b, flag); if (!flag.clamped) break; b--; }
    if (a > b) { a = Math.min(Math.max(0, Math.round(centre)), taps - 1); b = a; }
    first[p] = a;
    last[p] = b;
    span = Math.max(span, b - a + 1);
  }
  const weights = new Float64Array(n * span);
  for (let p = 0; p < n; p++) {
    for (let k = first[p]; k <= last[p]; k++) weights[p * span + k - first[p]] = kernelTap(geo, p, k);
  }
  pp = { geo, span, first, weights };
  if (polyCache.size > 32) polyCache.clear();
  polyCache.set(key, pp);
  return pp;
}

/** Output length of torchaudio's resample: ceil(new * samples / orig) with the gcd-reduced rates. */
export function resampledLength(samples: number, origFreq: number, newFreq: number): number {
  if (origFreq === newFreq) return samples;
  const g = gcd(origFreq, newFreq);
  return Math.ceil(((newFreq / g) * samples) / (origFreq / g));
}

/**
 * torchaudio.functional.resample(wave, origFreq, newFreq) with sinc_interp_hann, lowpass_filter_width 6
 * and rolloff 0.99 by default; same rate returns a copy. Output length ceil(new * samples / orig).
 */
export function resample(wave: Float32Array | Float64Array, origFreq: number, newFreq: number, opts: ResampleOptions = {}): Float32Array {
  if (origFreq === newFreq) {
    resampleGeometry(origFreq, newFreq, opts);
    return Float32Array.from(wave);
  }
  const { geo, span, first, weights } = polyphase(origFreq, newFreq, opts);
  const { orig: o, new: n, width } = geo;
  const N = wave.length;
  const outLen = Math.ceil((n * N) / o);
  const out = new Float32Array(outLen);
  if (outLen === 0) return out;
  // output j = b*n + p reads wave[b*o + first[p] - width + i], i < span (zero outside the signal);
  // interior outputs read the input directly, the few near either edge take the bounds-checked path
  let j = 0;
  for (let b = 0; j < outLen; b++) {
    const bo = b * o - width;
    for (let p = 0; p < n && j < outLen; p++, j++) {
      const xs = bo + first[p];
      const ws = p * span;
      let acc = 0;
      if (xs >= 0 && xs + span <= N) {
        for (let i = 0; i < span; i++) acc += weights[ws + i] * wave[xs + i];
      } else {
        const i0 = Math.max(0, -xs);
        const i1 = Math.min(span, N - xs);
        for (let i = i0; i < i1; i++) acc += weights[ws + i] * wave[xs + i];
      }
      out[j] = acc;
    }
  }
  return out;
}

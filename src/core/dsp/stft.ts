/**
 * Framing and short-time Fourier transform shared by the mel front ends, with torch.stft's conventions:
 * frames start every `hopLength` samples, a window shorter than `nFft` is zero-padded on both sides
 * (left = floor((nFft - winLength) / 2)), `center` pads nFft/2 samples each side (reflect by default).
 * Spectra are computed in float64 and handed to a per-frame callback in reused buffers, so a caller
 * can reduce each frame (mel matmul) without ever holding the full spectrogram.
 */
import { InvalidInputError } from '../errors.ts';
import { type RealFftPlan, getRealFftPlan } from './fft.ts';

/** A real signal in float32 or float64. */
export type Signal = Float32Array | Float64Array;

/** torch.hann_window(n, periodic) computed as torch does it in float32 (periodic: denominator n, else n-1). */
export function hannWindow(n: number, periodic = true): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`hannWindow: length must be a non-negative integer, got ${n}`);
  const w = new Float32Array(n);
  if (n === 1) { w[0] = 1; return w; }
  const f = Math.fround;
  const step = f((2 * Math.PI) / (periodic ? n : n - 1));
  for (let k = 0; k < n; k++) {
    const c = f(Math.cos(f(k * step)));
    w[k] = f(f(c * -0.5) + 0.5);
  }
  return w;
}

/**
 * torch.nn.functional.pad(x, (left, right), mode='reflect') on a 1-D signal: mirrors around the edge
 * samples without repeating them; each pad must be smaller than the signal.
 */
export function reflectPad<T extends Signal>(x: T, left: number, right: number): T {
  const n = x.length;
  if (left < 0 || right < 0 || !Number.isInteger(left) || !Number.isInteger(right)) {
    throw new InvalidInputError(`reflectPad: pads must be non-negative integers, got (${left}, ${right})`);
  }
  if (left >= n || right >= n) {
    throw new InvalidInputError(`reflectPad: padding (${left}, ${right}) must be smaller than the signal length ${n}`);
  }
  const out = (x instanceof Float32Array ? new Float32Array(n + left + right) : new Float64Array(n + left + right)) as T;
  for (let i = 0; i < left; i++) out[i] = x[left - i];
  out.set(x, left);
  for (let i = 0; i < right; i++) out[left + n + i] = x[n - 2 - i];
  return out;
}

/** Options of {@link Stft}: the torch.stft parameters that matter here. */
export interface StftOptions {
  nFft: number;
  hopLength: number;
  /** Window of length `winLength` (<= nFft); default: periodic Hann of `winLength`. */
  window?: ArrayLike<number>;
  /** Default: the window's length, or nFft. */
  winLength?: number;
  /** Pad nFft/2 samples on each side before framing (torch.stft center). Default false. */
  center?: boolean;
  /** Padding used by `center`. Default 'reflect'. */
  padMode?: 'reflect' | 'constant';
}

/** What {@link Stft.forEachFrame} hands out per frame. */
export type SpectrumKind = 'power' | 'magnitude';

/** A reusable STFT: window, FFT plan and frame buffers are built once per configuration. */
export class Stft {
  readonly nFft: number;
  readonly hopLength: number;
  readonly winLength: number;
  readonly center: boolean;
  readonly padMode: 'reflect' | 'constant';
  /** Number of frequency bins, nFft/2 + 1. */
  readonly bins: number;
  /** First and one-past-last index of the window inside the nFft frame. */
  private readonly w0: number;
  private readonly w1: number;
  /** Window zero-padded to nFft, float64. */
  private readonly win: Float64Array;
  private readonly plan: RealFftPlan;
  private readonly frame: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly spec: Float64Array;

  /** Validates the options and builds the padded window, FFT plan and frame buffers. */
  constructor(opts: StftOptions) {
    const { nFft, hopLength } = opts;
    if (!Number.isInteger(nFft) || nFft < 1) throw new InvalidInputError(`stft: nFft must be a positive integer, got ${nFft}`);
    if (!Number.isInteger(hopLength) || hopLength < 1) throw new InvalidInputError(`stft: hopLength must be a positive integer, got ${hopLength}`);
    const winLength = opts.winLength ?? opts.window?.length ?? nFft;
    if (!Number.isInteger(winLength) || winLength < 1 || winLength > nFft) {
      throw new InvalidInputError(`stft: winLength must be an integer in [1, nFft=${nFft}], got ${winLength}`);
    }
    const window = opts.window ?? hannWindow(winLength, true);
    if (window.length !== winLength) throw new InvalidInputError(`stft: window has ${window.length} values, winLength is ${winLength}`);
    this.nFft = nFft;
    this.hopLength = hopLength;
    this.winLength = winLength;
    this.center = opts.center ?? false;
    this.padMode = opts.padMode ?? 'reflect';
    this.bins = Math.floor(nFft / 2) + 1;
    this.w0 = Math.floor((nFft - winLength) / 2);
    this.w1 = this.w0 + winLength;
    this.win = new Float64Array(nFft);
    for (let i = 0; i < winLength; i++) this.win[this.w0 + i] = window[i];
    this.plan = getRealFftPlan(nFft);
    this.frame = new Float64Array(nFft);
    this.re = new Float64Array(this.bins);
    this.im = new Float64Array(this.bins);
    this.spec = new Float64Array(this.bins);
  }

  /** Number of frames torch.stft returns for a signal of `nSamples`. */
  frameCount(nSamples: number): number {
    const len = this.center ? nSamples + 2 * Math.floor(this.nFft / 2) : nSamples;
    if (len < this.nFft) return 0;
    return 1 + Math.floor((len - this.nFft) / this.hopLength);
  }

  /** The signal as framed by torch.stft (center padding applied), in the input's precision. */
  private padded(signal: Signal): Signal {
    if (!this.center) return signal;
    const p = Math.floor(this.nFft / 2);
    if (this.padMode === 'constant') {
      const out = signal instanceof Float32Array ? new Float32Array(signal.length + 2 * p) : new Float64Array(signal.length + 2 * p);
      out.set(signal, p);
      return out;
    }
    if (p >= signal.length) {
      throw new InvalidInputError(`stft: center reflect padding of ${p} needs more than ${p} samples, got ${signal.length}`);
    }
    return reflectPad(signal, p, p);
  }

  /**
   * Calls `onFrame(t, re, im)` for every frame with the complex spectrum (bins values, reused buffers).
   * All-zero frames (silence, padding) skip the FFT: their spectrum is exactly zero. Returns the frame count.
   */
  forEachComplexFrame(signal: Signal, onFrame: (t: number, re: Float64Array, im: Float64Array) => void): number {
    const frames = this.frameCount(signal.length);
    if (frames === 0) return 0;
    const x = this.padded(signal);
    const { frame, win, w0, w1, re, im, plan, hopLength } = this;
    for (let t = 0; t < frames; t++) {
      const base = t * hopLength;
      let any = false;
      for (let i = w0; i < w1; i++) { const v = x[base + i] * win[i]; frame[i] = v; any ||= v !== 0; }
      if (any) plan.forward(frame, re, im);
      else { re.fill(0); im.fill(0); }
      onFrame(t, re, im);
    }
    return frames;
  }

  /**
   * Calls `onFrame(t, spec)` for every frame with the power |X|^2 or the magnitude sqrt(|X|^2 + eps)
   * (bins values, a reused buffer). Returns the frame count.
   */
  forEachFrame(signal: Signal, kind: SpectrumKind, onFrame: (t: number, spec: Float64Array) => void, magnitudeEps = 0): number {
    const spec = this.spec;
    const bins = this.bins;
    const power = kind === 'power';
    return this.forEachComplexFrame(signal, (t, re, im) => {
      if (power) {
        for (let k = 0; k < bins; k++) spec[k] = re[k] * re[k] + im[k] * im[k];
      } else {
        for (let k = 0; k < bins; k++) spec[k] = Math.sqrt(re[k] * re[k] + im[k] * im[k] + magnitudeEps);
      }
      onFrame(t, spec);
    });
  }
}

/** A spectrogram in torch's channels-first layout [bins, frames]. */
export interface Spectrogram {
  data: Float32Array;
  bins: number;
  frames: number;
}

/** torch.stft(...) followed by power or magnitude (sqrt(|X|^2 + magnitudeEps)), as [bins, frames] float32. */
export function stft(signal: Signal, opts: StftOptions & { spectrum: SpectrumKind; magnitudeEps?: number }): Spectrogram {
  const s = new Stft(opts);
  const frames = s.frameCount(signal.length);
  const bins = s.bins;
  const data = new Float32Array(bins * frames);
  s.forEachFrame(signal, opts.spectrum, (t, spec) => {
    for (let k = 0; k < bins; k++) data[k * frames + t] = spec[k];
  }, opts.magnitudeEps ?? 0);
  return { data, bins, frames };
}

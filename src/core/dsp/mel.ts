/**
 * Mel filter banks (librosa.filters.mel: Slaney or HTK mel scale, Slaney area normalisation) and the
 * Seed-VC log-mel spectrogram of modules/audio.py.
 */
import { InvalidInputError } from '../errors.ts';
import { type Signal, Stft, hannWindow, reflectPad } from './stft.ts';

const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOGSTEP = Math.log(6.4) / 27;

/** librosa.hz_to_mel: Slaney's piecewise linear/log scale, or HTK's 2595 log10(1 + f/700). */
export function hzToMel(f: number, htk = false): number {
  if (htk) return 2595 * Math.log10(1 + f / 700);
  if (f >= MIN_LOG_HZ) return MIN_LOG_MEL + Math.log(f / MIN_LOG_HZ) / LOGSTEP;
  return f / F_SP;
}

/** librosa.mel_to_hz, the inverse of {@link hzToMel}. */
export function melToHz(m: number, htk = false): number {
  if (htk) return 700 * (10 ** (m / 2595) - 1);
  if (m >= MIN_LOG_MEL) return MIN_LOG_HZ * Math.exp(LOGSTEP * (m - MIN_LOG_MEL));
  return F_SP * m;
}

/** numpy.linspace(start, stop, num) with its rounding: k*step + start, the last value exactly stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const y = new Float64Array(num);
  if (num === 0) return y;
  if (num === 1) { y[0] = start; return y; }
  const step = (stop - start) / (num - 1);
  for (let k = 0; k < num; k++) y[k] = k * step + start;
  y[num - 1] = stop;
  return y;
}

/** Options of {@link melFilterBank} (librosa.filters.mel's arguments). */
export interface MelFilterBankOptions {
  sr: number;
  nFft: number;
  nMels: number;
  /** Default 0. */
  fmin?: number;
  /** Default (and when null) sr / 2. */
  fmax?: number | null;
  /** HTK mel scale instead of Slaney's. Default false. */
  htk?: boolean;
  /** 'slaney' area normalisation (default) or none. */
  norm?: 'slaney' | null;
}

/**
 * librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm='slaney', dtype=float32): triangles built
 * in float64, stored into float32, then scaled by the float64 Slaney norm and rounded again, exactly as
 * librosa does. Returns [nMels, nFft/2 + 1] row-major.
 */
export function melFilterBank(opts: MelFilterBankOptions): Float32Array {
  const { sr, nFft, nMels } = opts;
  const fmin = opts.fmin ?? 0;
  const fmax = opts.fmax ?? sr / 2;
  const htk = opts.htk ?? false;
  const norm = opts.norm === undefined ? 'slaney' : opts.norm;
  if (!(sr > 0) || !Number.isInteger(nFft) || nFft < 1 || !Number.isInteger(nMels) || nMels < 1) {
    throw new InvalidInputError(`melFilterBank: need sr > 0 and positive integer nFft, nMels (got sr=${sr}, nFft=${nFft}, nMels=${nMels})`);
  }
  if (!(fmin >= 0) || !(fmax > fmin)) throw new InvalidInputError(`melFilterBank: need 0 <= fmin < fmax (got fmin=${fmin}, fmax=${fmax})`);
  const bins = Math.floor(nFft / 2) + 1;
  // numpy.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n_fft * (1/sr)))
  const val = 1 / (nFft * (1 / sr));
  const fftFreqs = new Float64Array(bins);
  for (let k = 0; k < bins; k++) fftFreqs[k] = k * val;
  const mels = linspace(hzToMel(fmin, htk), hzToMel(fmax, htk), nMels + 2);
  const melF = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) melF[i] = melToHz(mels[i], htk);
  const w = new Float32Array(nMels * bins);
  const f = Math.fround;
  for (let i = 0; i < nMels; i++) {
    const d0 = melF[i + 1] - melF[i];
    const d1 = melF[i + 2] - melF[i + 1];
    const enorm = norm === 'slaney' ? 2 / (melF[i + 2] - melF[i]) : 1;
    for (let k = 0; k < bins; k++) {
      const lower = -(melF[i] - fftFreqs[k]) / d0;
      const upper = (melF[i + 2] - fftFreqs[k]) / d1;
      const tri = f(Math.max(0, Math.min(lower, upper)));
      w[i * bins + k] = norm === 'slaney' ? tri * enorm : tri;
    }
  }
  return w;
}

/**
 * A filter bank stored as one contiguous run of non-zero weights per filter, applied to one spectrum
 * frame at a time.
 */
export class SparseFilterBank {
  readonly rows: number;
  readonly bins: number;
  private readonly start: Int32Array;
  private readonly len: Int32Array;
  private readonly offset: Int32Array;
  private readonly weights: Float64Array;

  /** Builds from a dense row-major [rows, bins] matrix (float32 values kept exactly). */
  constructor(dense: ArrayLike<number>, rows: number, bins: number) {
    if (dense.length !== rows * bins) throw new InvalidInputError(`filter bank: ${dense.length} values for [${rows}, ${bins}]`);
    this.rows = rows;
    this.bins = bins;
    this.start = new Int32Array(rows);
    this.len = new Int32Array(rows);
    this.offset = new Int32Array(rows);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      let a = 0;
      while (a < bins && dense[r * bins + a] === 0) a++;
      let b = bins;
      while (b > a && dense[r * bins + b - 1] === 0) b--;
      this.start[r] = a;
      this.len[r] = b - a;
      this.offset[r] = total;
      total += b - a;
    }
    this.weights = new Float64Array(total);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < this.len[r]; i++) this.weights[this.offset[r] + i] = dense[r * bins + this.start[r] + i];
    }
  }

  /** out[outOffset + r * outStride] = sum_k W[r, k] * spec[k], for every row r. */
  apply(spec: Float64Array, out: Float64Array | Float32Array, outOffset: number, outStride: number): void {
    const { start, len, offset, weights, rows } = this;
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      const s = start[r], o = offset[r], n = len[r];
      for (let i = 0; i < n; i++) acc += weights[o + i] * spec[s + i];
      out[outOffset + r * outStride] = acc;
    }
  }
}

/** Options of {@link melSpectrogram}, named as in Seed-VC's config `preprocess_params.spect_params`. */
export interface MelSpectrogramOptions {
  nFft: number;
  numMels: number;
  sampleRate: number;
  hopSize: number;
  winSize: number;
  /** Default 0. */
  fmin?: number;
  /** Default (and when null) sampleRate / 2. */
  fmax?: number | null;
}

/** A log-mel spectrogram [numMels, frames] channels-first (row-major). */
export interface MelSpectrogram {
  data: Float32Array;
  numMels: number;
  frames: number;
}

interface MelSetup { stft: Stft; bank: SparseFilterBank }
const melSetups = new Map<string, MelSetup>();

function melSetup(o: MelSpectrogramOptions): MelSetup {
  const key = [o.nFft, o.numMels, o.sampleRate, o.hopSize, o.winSize, o.fmin ?? 0, o.fmax ?? 'none'].join('|');
  let s = melSetups.get(key);
  if (!s) {
    const dense = melFilterBank({ sr: o.sampleRate, nFft: o.nFft, nMels: o.numMels, fmin: o.fmin ?? 0, fmax: o.fmax ?? null });
    s = {
      stft: new Stft({ nFft: o.nFft, hopLength: o.hopSize, window: hannWindow(o.winSize, true), center: false }),
      bank: new SparseFilterBank(dense, o.numMels, Math.floor(o.nFft / 2) + 1),
    };
    melSetups.set(key, s);
  }
  return s;
}

/**
 * Seed-VC's modules/audio.py mel_spectrogram: reflect-pad (nFft - hop)/2 each side, STFT with
 * center=False and a periodic Hann window, magnitude sqrt(re^2 + im^2 + 1e-9), Slaney mel bank,
 * ln(max(mel, 1e-5)). Frames = floor(samples / hop). Output [numMels, frames].
 */
export function melSpectrogram(wave: Signal, opts: MelSpectrogramOptions): MelSpectrogram {
  const { stft, bank } = melSetup(opts);
  const pad = Math.trunc((opts.nFft - opts.hopSize) / 2);
  const x = pad > 0 ? reflectPad(wave, pad, pad) : wave;
  const frames = stft.frameCount(x.length);
  const numMels = opts.numMels;
  const data = new Float32Array(numMels * frames);
  const mel = new Float64Array(numMels);
  stft.forEachFrame(x, 'magnitude', (t, spec) => {
    bank.apply(spec, mel, 0, 1);
    for (let m = 0; m < numMels; m++) data[m * frames + t] = Math.log(Math.max(mel[m], 1e-5));
  }, 1e-9);
  return { data, numMels, frames };
}

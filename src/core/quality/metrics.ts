/**
 * Objective comparisons of two renditions of the same conversion (A and B): log-mel distance, mel-cepstral
 * distortion, waveform SNR, cosine similarity of speaker embeddings and F0-track agreement. A and B are
 * time-aligned by construction (same source, same length), so frames are compared index by index, no DTW.
 */
import { InvalidInputError } from '../errors.ts';
import type { MelSpectrogram } from '../dsp/index.ts';

/** 20 / ln(10): natural-log magnitude to dB. */
export const LN_TO_DB = 20 / Math.LN10;

/** Mean |B - A| over mels x frames of two log-mel spectrograms (natural-log units). Frames: the shorter. */
export function logMelL1(a: MelSpectrogram, b: MelSpectrogram): { l1: number; frames: number } {
  if (a.numMels !== b.numMels) throw new InvalidInputError(`log-mel L1: ${a.numMels} vs ${b.numMels} mel bands`);
  const T = Math.min(a.frames, b.frames);
  if (T === 0) return { l1: Number.NaN, frames: 0 };
  let acc = 0;
  for (let m = 0; m < a.numMels; m++) {
    for (let t = 0; t < T; t++) acc += Math.abs(b.data[m * b.frames + t] - a.data[m * a.frames + t]);
  }
  return { l1: acc / (a.numMels * T), frames: T };
}

const dctCache = new Map<string, Float64Array>();

/** Orthonormal DCT-II matrix rows k < nCoeffs over n inputs (scipy's dct(type=2, norm='ortho')). */
function dctMatrix(n: number, nCoeffs: number): Float64Array {
  const key = `${n}|${nCoeffs}`;
  let m = dctCache.get(key);
  if (!m) {
    m = new Float64Array(nCoeffs * n);
    for (let k = 0; k < nCoeffs; k++) {
      const scale = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
      for (let i = 0; i < n; i++) m[k * n + i] = scale * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
    }
    dctCache.set(key, m);
  }
  return m;
}

/**
 * MFCC-style cepstra of a log-mel spectrogram: the orthonormal DCT-II of each frame's log-mel energies,
 * coefficients 0..nCoeffs-1. Output time-major [frames, nCoeffs].
 */
export function melCepstrum(mel: MelSpectrogram, nCoeffs: number): Float64Array {
  const n = mel.numMels;
  if (nCoeffs > n) throw new InvalidInputError(`mel cepstrum: ${nCoeffs} coefficients from ${n} mel bands`);
  const D = dctMatrix(n, nCoeffs);
  const out = new Float64Array(mel.frames * nCoeffs);
  const col = new Float64Array(n);
  for (let t = 0; t < mel.frames; t++) {
    for (let i = 0; i < n; i++) col[i] = mel.data[i * mel.frames + t];
    for (let k = 0; k < nCoeffs; k++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += D[k * n + i] * col[i];
      out[t * nCoeffs + k] = acc;
    }
  }
  return out;
}

/**
 * Mel-cepstral distortion in dB: per frame (10 / ln 10) * sqrt(2 * sum_{d=1..order} (cA_d - cB_d)^2) over
 * the cepstra of {@link melCepstrum} (c0, the energy, excluded), averaged over the common frames.
 */
export function melCepstralDistortion(a: MelSpectrogram, b: MelSpectrogram, order = 24): { mcd: number; frames: number } {
  if (a.numMels !== b.numMels) throw new InvalidInputError(`MCD: ${a.numMels} vs ${b.numMels} mel bands`);
  const T = Math.min(a.frames, b.frames);
  if (T === 0) return { mcd: Number.NaN, frames: 0 };
  const n = order + 1;
  const ca = melCepstrum(a, n);
  const cb = melCepstrum(b, n);
  const k = 10 / Math.LN10;
  let acc = 0;
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let d = 1; d < n; d++) {
      const v = ca[t * n + d] - cb[t * n + d];
      s += v * v;
    }
    acc += k * Math.sqrt(2 * s);
  }
  return { mcd: acc / T, frames: T };
}

/**
 * SNR of `test` against `ref` in dB: 10 log10(sum ref^2 / sum (test - ref)^2) over the common length.
 * Infinity when the two are identical; NaN when `ref` is silent.
 */
export function snrDb(ref: ArrayLike<number>, test: ArrayLike<number>): { snr: number; samples: number } {
  const n = Math.min(ref.length, test.length);
  let sig = 0, err = 0;
  for (let i = 0; i < n; i++) {
    sig += ref[i] * ref[i];
    const e = test[i] - ref[i];
    err += e * e;
  }
  if (err === 0) return { snr: Number.POSITIVE_INFINITY, samples: n };
  if (sig === 0) return { snr: Number.NaN, samples: n };
  return { snr: 10 * Math.log10(sig / err), samples: n };
}

/** Cosine similarity of two vectors (NaN if either is all zeros). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new InvalidInputError(`cosine similarity: vectors of ${a.length} and ${b.length} values`);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 || bb === 0) return Number.NaN;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}

export interface F0Comparison {
  /** Frames compared (the shorter track). */
  frames: number;
  voicedA: number;
  voicedB: number;
  bothVoiced: number;
  /** Fraction of frames where A and B agree on voiced / unvoiced. */
  voicingAgreement: number;
  /** RMS of 1200 log2(f0B / f0A) over frames voiced in both (null when none). */
  rmseCents: number | null;
  /** Mean of 1200 log2(f0B / f0A) (bias; null when none). */
  meanCents: number | null;
  /** Pearson correlation of f0A and f0B (Hz) over frames voiced in both (null when under 3 or constant). */
  correlation: number | null;
}

/** Compares two F0 tracks (Hz, 0 = unvoiced) frame by frame. */
export function compareF0(a: ArrayLike<number>, b: ArrayLike<number>): F0Comparison {
  const T = Math.min(a.length, b.length);
  let va = 0, vb = 0, both = 0, agree = 0;
  let sc = 0, sc2 = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let t = 0; t < T; t++) {
    const x = a[t] > 0, y = b[t] > 0;
    if (x) va++;
    if (y) vb++;
    if (x === y) agree++;
    if (x && y) {
      both++;
      const c = 1200 * Math.log2(b[t] / a[t]);
      sc += c;
      sc2 += c * c;
      sa += a[t]; sb += b[t];
      saa += a[t] * a[t]; sbb += b[t] * b[t]; sab += a[t] * b[t];
    }
  }
  let correlation: number | null = null;
  if (both >= 3) {
    const cov = sab - (sa * sb) / both;
    const varA = saa - (sa * sa) / both;
    const varB = sbb - (sb * sb) / both;
    if (varA > 1e-12 * saa && varB > 1e-12 * sbb) correlation = Math.max(-1, Math.min(1, cov / Math.sqrt(varA * varB)));
  }
  return {
    frames: T, voicedA: va, voicedB: vb, bothVoiced: both,
    voicingAgreement: T ? agree / T : Number.NaN,
    rmseCents: both ? Math.sqrt(sc2 / both) : null,
    meanCents: both ? sc / both : null,
    correlation,
  };
}

/** Voiced fraction and median voiced F0 (Hz, null when nothing is voiced) of one track. */
export function f0Summary(f0: ArrayLike<number>): { frames: number; voicedFraction: number; medianHz: number | null } {
  const voiced: number[] = [];
  for (let i = 0; i < f0.length; i++) if (f0[i] > 0) voiced.push(f0[i]);
  voiced.sort((x, y) => x - y);
  const n = voiced.length;
  const median = n === 0 ? null : n % 2 ? voiced[(n - 1) / 2] : 0.5 * (voiced[n / 2 - 1] + voiced[n / 2]);
  return { frames: f0.length, voicedFraction: f0.length ? n / f0.length : Number.NaN, medianHz: median };
}

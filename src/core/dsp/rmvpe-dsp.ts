/**
 * RMVPE's own DSP (modules/rmvpe.py): its HTK-scale log-mel front end and the salience -> F0 decoder.
 * The network between them lives elsewhere.
 */
import { InvalidInputError } from '../errors.ts';
import { SparseFilterBank, melFilterBank } from './mel.ts';
import { Stft, hannWindow, type Signal } from './stft.ts';

/** Pitch bins of the RMVPE salience. */
export const RMVPE_BINS = 360;
/** Cents of salience bin 0: 20 * i + this for bin i. */
export const RMVPE_CENTS_OFFSET = 1997.3794084376191;

/** Options of {@link rmvpeMel}; defaults are RMVPE's (16 kHz, 1024/160/1024, 128 mels, 30..8000 Hz). */
export interface RmvpeMelOptions {
  sampleRate?: number;
  nFft?: number;
  hopLength?: number;
  winLength?: number;
  nMels?: number;
  fmin?: number;
  fmax?: number;
}

/** A log-mel [nMels, frames] channels-first. */
export interface RmvpeMel {
  data: Float32Array;
  nMels: number;
  frames: number;
}

const setups = new Map<string, { stft: Stft; bank: SparseFilterBank }>();

/**
 * RMVPE MelSpectrogram(audio, center=True): centred reflect-padded STFT (periodic Hann), magnitude
 * sqrt(re^2 + im^2), librosa mel with htk=True (Slaney area norm), ln(max(mel, 1e-5)).
 * Frames = 1 + samples // hop. Output [128, frames].
 */
export function rmvpeMel(audio16k: Signal, opts: RmvpeMelOptions = {}): RmvpeMel {
  const sr = opts.sampleRate ?? 16000;
  const nFft = opts.nFft ?? 1024;
  const hop = opts.hopLength ?? 160;
  const win = opts.winLength ?? nFft;
  const nMels = opts.nMels ?? 128;
  const fmin = opts.fmin ?? 30;
  const fmax = opts.fmax ?? 8000;
  const key = [sr, nFft, hop, win, nMels, fmin, fmax].join('|');
  let s = setups.get(key);
  if (!s) {
    const dense = melFilterBank({ sr, nFft, nMels, fmin, fmax, htk: true });
    s = {
      stft: new Stft({ nFft, hopLength: hop, winLength: win, window: hannWindow(win, true), center: true, padMode: 'reflect' }),
      bank: new SparseFilterBank(dense, nMels, Math.floor(nFft / 2) + 1),
    };
    setups.set(key, s);
  }
  const frames = s.stft.frameCount(audio16k.length);
  const data = new Float32Array(nMels * frames);
  const mel = new Float64Array(nMels);
  const bank = s.bank;
  s.stft.forEachFrame(audio16k, 'magnitude', (t, spec) => {
    bank.apply(spec, mel, 0, 1);
    for (let m = 0; m < nMels; m++) data[m * frames + t] = Math.log(Math.max(mel[m], 1e-5));
  });
  return { data, nMels, frames };
}

/**
 * RMVPE.decode(hidden, thred) on salience [frames, 360]: per frame, the salience-weighted mean of the cents of the 9 bins around the
 * argmax (zero outside 0..359), 0 cents where the frame maximum (with the zero padding) <= thred, then
 * f0 = 10 * 2^(cents/1200), exactly 10 Hz -> 0. `hidden` is row-major float32; the weight sum
 * and the threshold test are float32, the cents products and the division float64, as in numpy.
 */
export function decodeSalience(hidden: Float32Array, thred = 0.03): Float64Array {
  if (hidden.length % RMVPE_BINS !== 0) {
    throw new InvalidInputError(`decodeSalience: ${hidden.length} values is not a whole number of ${RMVPE_BINS}-bin frames`);
  }
  const frames = hidden.length / RMVPE_BINS;
  const f = Math.fround;
  const th = f(thred);
  const f0 = new Float64Array(frames);
  const w = new Float64Array(9);
  const c = new Float64Array(9);
  for (let t = 0; t < frames; t++) {
    const row = t * RMVPE_BINS;
    let arg = 0;
    let max = hidden[row];
    for (let i = 1; i < RMVPE_BINS; i++) if (hidden[row + i] > max) { max = hidden[row + i]; arg = i; }
    // the zero padding takes part in the maximum of the padded salience
    const maxPadded = max > 0 ? max : 0;
    if (maxPadded <= th) { f0[t] = 0; continue; }
    for (let j = 0; j < 9; j++) {
      const bin = arg - 4 + j;
      const inside = bin >= 0 && bin < RMVPE_BINS;
      w[j] = inside ? hidden[row + bin] : 0;
      c[j] = inside ? 20 * bin + RMVPE_CENTS_OFFSET : 0;
    }
    // numpy 1.24's sum of 9 contiguous values: identity 0 + pairwise sum (8 accumulators, then the 9th)
    const wSum = f(f(f(f(w[0] + w[1]) + f(w[2] + w[3])) + f(f(w[4] + w[5]) + f(w[6] + w[7]))) + w[8]);
    const p0 = w[0] * c[0], p1 = w[1] * c[1], p2 = w[2] * c[2], p3 = w[3] * c[3];
    const p4 = w[4] * c[4], p5 = w[5] * c[5], p6 = w[6] * c[6], p7 = w[7] * c[7];
    const pSum = (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))) + w[8] * c[8];
    const cents = pSum / wSum;
    const hz = 10 * 2 ** (cents / 1200);
    f0[t] = hz === 10 ? 0 : hz;
  }
  return f0;
}

/**
 * torchaudio.compliance.kaldi.fbank as Seed-VC calls it for CAMPPlus (num_mel_bins 80, 16 kHz, dither 0,
 * all other arguments at their defaults), and the per-bin mean normalisation applied to its output.
 */
import { InvalidInputError } from '../errors.ts';
import { getRealFftPlan } from './fft.ts';
import { logf32 } from './float32-math.ts';
import { SparseFilterBank } from './mel.ts';

/** The fbank options Seed-VC uses (torchaudio defaults otherwise). */
export interface KaldiFbankOptions {
  /** Default 80. */
  numMelBins?: number;
  /** Default 16000. */
  sampleFrequency?: number;
  /** Default 25 ms. */
  frameLengthMs?: number;
  /** Default 10 ms. */
  frameShiftMs?: number;
  /** Default 20 Hz. */
  lowFreq?: number;
  /** Default 0 (= Nyquist); negative values are offsets from Nyquist. */
  highFreq?: number;
  /** Default 0.97. */
  preemphasis?: number;
}

/** Log filterbank energies, time-major [frames, numMelBins]. */
export interface KaldiFbank {
  data: Float32Array;
  frames: number;
  bins: number;
}

/** float32 machine epsilon, torchaudio's log floor. */
export const FLOAT32_EPS = 1.1920928955078125e-7;

/** Kaldi's mel scale 1127 ln(1 + f/700), float64 (torchaudio's mel_scale_scalar). */
function melScaleScalar(f: number): number {
  return 1127 * Math.log(1 + f / 700);
}

/**
 * torchaudio's get_mel_banks (no VTLN) evaluated with its float32 tensor arithmetic (torch's own float32
 * log included), padded with a zero column for the Nyquist bin: [numBins, paddedWindow/2 + 1] row-major.
 */
export function kaldiMelBanks(numBins: number, paddedWindow: number, sampleFreq: number, lowFreq: number, highFreq: number): Float32Array {
  const f = Math.fround;
  const numFftBins = paddedWindow / 2;
  const nyquist = 0.5 * sampleFreq;
  if (highFreq <= 0) highFreq += nyquist;
  if (!(lowFreq >= 0 && lowFreq < nyquist && highFreq > 0 && highFreq <= nyquist && lowFreq < highFreq)) {
    throw new InvalidInputError(`kaldi fbank: bad frequency range low=${lowFreq} high=${highFreq} (nyquist ${nyquist})`);
  }
  const fftBinWidth = sampleFreq / paddedWindow;
  const melLow = melScaleScalar(lowFreq);
  const melHigh = melScaleScalar(highFreq);
  const delta = (melHigh - melLow) / (numBins + 1);
  const deltaF = f(delta);
  const lowF = f(melLow);
  const mel = new Float64Array(numFftBins);
  for (let k = 0; k < numFftBins; k++) {
    const freq = f(f(fftBinWidth) * k);
    mel[k] = f(1127 * logf32(f(1 + f(freq / 700))));
  }
  const out = new Float32Array(numBins * (numFftBins + 1));
  for (let b = 0; b < numBins; b++) {
    const left = f(lowF + f(b * deltaF));
    const center = f(lowF + f((b + 1) * deltaF));
    const right = f(lowF + f((b + 2) * deltaF));
    const dUp = f(center - left);
    const dDown = f(right - center);
    for (let k = 0; k < numFftBins; k++) {
      const up = f(f(mel[k] - left) / dUp);
      const down = f(f(right - mel[k]) / dDown);
      out[b * (numFftBins + 1) + k] = Math.max(0, Math.min(up, down));
    }
  }
  return out;
}

/** torch.hann_window(n, periodic=False).pow(0.85) in float32: Kaldi's "povey" window. */
export function poveyWindow(n: number): Float32Array {
  const f = Math.fround;
  const w = new Float32Array(n);
  if (n === 1) { w[0] = 1; return w; }
  const step = f((2 * Math.PI) / (n - 1));
  for (let k = 0; k < n; k++) {
    const h = f(f(f(Math.cos(f(k * step))) * -0.5) + 0.5);
    w[k] = Math.pow(h, 0.85);
  }
  return w;
}

interface FbankSetup {
  windowSize: number;
  windowShift: number;
  padded: number;
  window: Float64Array;
  bank: SparseFilterBank;
  melBanks: Float32Array;
}
const setups = new Map<string, FbankSetup>();

function fbankSetup(o: Required<KaldiFbankOptions>): FbankSetup {
  const key = JSON.stringify(o);
  let s = setups.get(key);
  if (!s) {
    const windowShift = Math.trunc(o.sampleFrequency * o.frameShiftMs * 0.001);
    const windowSize = Math.trunc(o.sampleFrequency * o.frameLengthMs * 0.001);
    if (windowSize < 2 || windowShift < 1) throw new InvalidInputError(`kaldi fbank: window ${windowSize} / shift ${windowShift} samples too small`);
    let padded = 1;
    while (padded < windowSize) padded *= 2;
    const melBanks = kaldiMelBanks(o.numMelBins, padded, o.sampleFrequency, o.lowFreq, o.highFreq);
    s = {
      windowSize, windowShift, padded,
      window: Float64Array.from(poveyWindow(windowSize)),
      bank: new SparseFilterBank(melBanks, o.numMelBins, padded / 2 + 1),
      melBanks,
    };
    setups.set(key, s);
  }
  return s;
}

function withDefaults(opts: KaldiFbankOptions): Required<KaldiFbankOptions> {
  return {
    numMelBins: opts.numMelBins ?? 80,
    sampleFrequency: opts.sampleFrequency ?? 16000,
    frameLengthMs: opts.frameLengthMs ?? 25,
    frameShiftMs: opts.frameShiftMs ?? 10,
    lowFreq: opts.lowFreq ?? 20,
    highFreq: opts.highFreq ?? 0,
    preemphasis: opts.preemphasis ?? 0.97,
  };
}

/**
 * torchaudio.compliance.kaldi.fbank(wave, num_mel_bins=80, dither=0, sample_frequency=16000): snip_edges
 * framing (1 + (N - 400) // 160 frames), DC removal, pre-emphasis 0.97, povey window, zero-pad to 512,
 * power spectrum, Kaldi mel banks 20 Hz..Nyquist, ln(max(e, float32 eps)). Output [frames, 80].
 * The waveform is used as given (Seed-VC passes floats in [-1, 1], not int16-scaled).
 */
export function kaldiFbank(wave: Float32Array | Float64Array, opts: KaldiFbankOptions = {}): KaldiFbank {
  const o = withDefaults(opts);
  const { windowSize, windowShift, padded, window, bank } = fbankSetup(o);
  const nBins = o.numMelBins;
  const N = wave.length;
  const frames = N < windowSize ? 0 : 1 + Math.floor((N - windowSize) / windowShift);
  const data = new Float32Array(frames * nBins);
  const plan = getRealFftPlan(padded);
  const frame = new Float64Array(padded);
  const re = new Float64Array(padded / 2 + 1);
  const im = new Float64Array(padded / 2 + 1);
  const power = new Float64Array(padded / 2 + 1);
  const mel = new Float64Array(nBins);
  const pre = Math.fround(o.preemphasis);
  for (let t = 0; t < frames; t++) {
    const s = t * windowShift;
    let mean = 0;
    for (let i = 0; i < windowSize; i++) mean += wave[s + i];
    mean /= windowSize;
    // pre-emphasis on the DC-removed frame, x[-1] := x[0]; walk backwards so x[i-1] is still unmodified
    for (let i = windowSize - 1; i >= 1; i--) {
      frame[i] = ((wave[s + i] - mean) - pre * (wave[s + i - 1] - mean)) * window[i];
    }
    const x0 = wave[s] - mean;
    frame[0] = (x0 - pre * x0) * window[0];
    plan.forward(frame, re, im);
    for (let k = 0; k < re.length; k++) power[k] = re[k] * re[k] + im[k] * im[k];
    bank.apply(power, mel, 0, 1);
    const row = t * nBins;
    for (let m = 0; m < nBins; m++) data[row + m] = Math.log(Math.max(mel[m], FLOAT32_EPS));
  }
  return { data, frames, bins: nBins };
}

/** fbank - fbank.mean(dim=0): subtracts each bin's mean over time (CAMPPlus input), time-major in and out. */
export function meanNormalize(feats: Float32Array, frames: number, bins: number): Float32Array {
  if (feats.length !== frames * bins) throw new InvalidInputError(`meanNormalize: ${feats.length} values for [${frames}, ${bins}]`);
  const mean = new Float64Array(bins);
  for (let t = 0; t < frames; t++) for (let m = 0; m < bins; m++) mean[m] += feats[t * bins + m];
  for (let m = 0; m < bins; m++) mean[m] = Math.fround(mean[m] / frames);
  const out = new Float32Array(feats.length);
  for (let t = 0; t < frames; t++) for (let m = 0; m < bins; m++) out[t * bins + m] = feats[t * bins + m] - mean[m];
  return out;
}

/**
 * The WhisperFeatureExtractor log-mel front end (openai/whisper-*, torch path of transformers): pad or
 * truncate to 30 s, centred STFT (n_fft 400, hop 160, periodic Hann), drop the last frame, power,
 * Slaney mel filters 0..8 kHz, log10 with a 1e-10 floor, clamp at (max - 8), (x + 4) / 4.
 */
import { InvalidInputError } from '../errors.ts';
import { Stft, hannWindow } from './stft.ts';
import { SparseFilterBank, hzToMel, linspace, melToHz } from './mel.ts';

/** Options of {@link whisperLogMel}; the defaults are those of every Whisper checkpoint Seed-VC uses. */
export interface WhisperFeatureOptions {
  /** Default 400. */
  nFft?: number;
  /** Default 160. */
  hopLength?: number;
  /** Default 80. */
  nMels?: number;
  /** Default 16000. */
  samplingRate?: number;
  /** Samples per item after padding / truncation. Default 480000 (30 s). */
  nSamples?: number;
}

/** Whisper input features [nMels, frames] (frames = nSamples / hop = 3000) and the frame mask. */
export interface WhisperFeatures {
  data: Float32Array;
  nMels: number;
  frames: number;
  /** 1 for frames i < ceil(min(samples, nSamples) / hop), else 0. */
  attentionMask: Int32Array;
}

/**
 * transformers' mel_filter_bank(nFft/2+1 bins, nMels, 0, sr/2, sr, norm='slaney', mel_scale='slaney'),
 * built in float64 and cast to float32, TRANSPOSED to [nMels, nFft/2 + 1] row-major.
 */
export function whisperMelFilters(nFft = 400, nMels = 80, samplingRate = 16000): Float32Array {
  const bins = Math.floor(nFft / 2) + 1;
  const fftFreqs = linspace(0, Math.floor(samplingRate / 2), bins);
  const mels = linspace(hzToMel(0), hzToMel(samplingRate / 2), nMels + 2);
  const filt = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) filt[i] = melToHz(mels[i]);
  const out = new Float32Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const dDown = filt[m + 1] - filt[m];
    const dUp = filt[m + 2] - filt[m + 1];
    const enorm = 2 / (filt[m + 2] - filt[m]);
    for (let k = 0; k < bins; k++) {
      const down = -(filt[m] - fftFreqs[k]) / dDown;
      const up = (filt[m + 2] - fftFreqs[k]) / dUp;
      out[m * bins + k] = Math.max(0, Math.min(down, up)) * enorm;
    }
  }
  return out;
}

interface WhisperSetup { stft: Stft; bank: SparseFilterBank }
const setups = new Map<string, WhisperSetup>();

/**
 * WhisperFeatureExtractor(...)(wave16k, return_attention_mask=True) for one item: returns the
 * [80, 3000] log-mel input features and the per-frame attention mask.
 */
export function whisperLogMel(wave16k: Float32Array | Float64Array, opts: WhisperFeatureOptions = {}): WhisperFeatures {
  const nFft = opts.nFft ?? 400;
  const hop = opts.hopLength ?? 160;
  const nMels = opts.nMels ?? 80;
  const sr = opts.samplingRate ?? 16000;
  const nSamples = opts.nSamples ?? 480000;
  if (!Number.isInteger(nSamples) || nSamples <= nFft / 2) throw new InvalidInputError(`whisperLogMel: nSamples must be an integer above nFft/2, got ${nSamples}`);
  const key = `${nFft}|${hop}|${nMels}|${sr}`;
  let s = setups.get(key);
  if (!s) {
    s = {
      stft: new Stft({ nFft, hopLength: hop, window: hannWindow(nFft, true), center: true, padMode: 'reflect' }),
      bank: new SparseFilterBank(whisperMelFilters(nFft, nMels, sr), nMels, Math.floor(nFft / 2) + 1),
    };
    setups.set(key, s);
  }
  const used = Math.min(wave16k.length, nSamples);
  const x = new Float32Array(nSamples);
  x.set(wave16k.subarray(0, used));
  const frames = s.stft.frameCount(nSamples) - 1; // the last frame is dropped
  const logSpec = new Float64Array(nMels * frames);
  const mel = new Float64Array(nMels);
  const bank = s.bank;
  let maxLog = -Infinity;
  // frames lying entirely in the zero padding cost no FFT (Stft skips all-zero frames)
  s.stft.forEachFrame(x, 'power', (t, spec) => {
    if (t >= frames) return;
    bank.apply(spec, mel, 0, 1);
    for (let m = 0; m < nMels; m++) {
      const v = Math.log10(Math.max(mel[m], 1e-10));
      logSpec[m * frames + t] = v;
      if (v > maxLog) maxLog = v;
    }
  });
  const floor = maxLog - 8;
  const data = new Float32Array(nMels * frames);
  for (let i = 0; i < data.length; i++) data[i] = (Math.max(logSpec[i], floor) + 4) / 4;
  const attentionMask = new Int32Array(frames);
  const valid = Math.min(frames, Math.ceil(used / hop));
  attentionMask.fill(1, 0, valid);
  return { data, nMels, frames, attentionMask };
}

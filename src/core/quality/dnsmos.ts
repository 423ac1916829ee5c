/**
 * DNSMOS (Microsoft's non-intrusive speech-quality predictor, from the DNS-Challenge repository's DNSMOS
 * folder) scored the way its reference script does, over sessions of its two ONNX models:
 *
 * - `sig_bak_ovr.onnx`: raw 16 kHz samples [N, 144160] (9.01 s) -> raw [SIG, BAK, OVRL], then the
 *   non-personalised quadratic calibration of each score;
 * - `model_v8.onnx`: P.808 MOS from [N, 900, 120] log-mel frames of the same window less its last 160
 *   samples: librosa.feature.melspectrogram(n_fft=321, hop 160, 120 Slaney-normalised mel bands, power 2,
 *   centred frames), power_to_db relative to the window's maximum (floor 1e-10, 80 dB range), then
 *   (dB + 40) / 40.
 *
 * Clips shorter than 9.01 s are repeated (doubling) until long enough; windows of 9.01 s start every
 * second (floor(seconds) - 9.01 + 1 of them, with the script's float arithmetic for the bounds, so a
 * window that comes out one sample short is skipped just as there), and the per-window scores are
 * averaged. Differences from the script: the input is brought to 16 kHz with this project's sinc
 * resampler (librosa uses soxr), and the centre padding is zeros (librosa >= 0.10's default).
 */
import { InvalidInputError } from '../errors.ts';
import { SparseFilterBank, Stft, melFilterBank, resample } from '../dsp/index.ts';
import type { NetSession } from '../runtime.ts';
import { tensor, toFloat32 } from '../tensor.ts';

export const DNSMOS_SR = 16000;
/** Window length in seconds, and in samples (Python's int(9.01 * 16000)). */
export const DNSMOS_WINDOW_SECONDS = 9.01;
export const DNSMOS_WINDOW_SAMPLES = Math.trunc(DNSMOS_WINDOW_SECONDS * DNSMOS_SR);
export const P808_MELS = 120;
const P808_NFFT = 321;
const P808_HOP = 160;

/** The two DNSMOS networks, as sessions. */
export interface DnsmosSessions {
  /** sig_bak_ovr.onnx */
  primary: NetSession;
  /** model_v8.onnx */
  p808: NetSession;
}

export interface DnsmosScore {
  /** Calibrated speech quality, background-noise quality and overall quality (1..5, higher is better). */
  SIG: number;
  BAK: number;
  OVRL: number;
  /** ITU-T P.808 MOS prediction (1..5, higher is better). */
  P808_MOS: number;
  /** The uncalibrated network outputs, averaged. */
  SIG_raw: number;
  BAK_raw: number;
  OVRL_raw: number;
  /** Windows the script would consider, and how many were scored. */
  numHops: number;
  windows: number;
  /** Duration of the clip at 16 kHz, seconds. */
  seconds: number;
}

/** The non-personalised DNSMOS calibration: quadratic polynomials of the raw scores. */
export function calibrateDnsmos(sig: number, bak: number, ovr: number): { SIG: number; BAK: number; OVRL: number } {
  const poly = (c2: number, c1: number, c0: number, x: number) => (c2 * x + c1) * x + c0;
  return {
    SIG: poly(-0.08397278, 1.22083953, 0.0052439, sig),
    BAK: poly(-0.13166888, 1.60915514, -0.39604546, bak),
    OVRL: poly(-0.06766283, 1.11546468, 0.04602535, ovr),
  };
}

/** The 9.01 s windows of a 16 kHz clip, as the reference script cuts them (see the module comment). */
export function dnsmosWindows(audio16k: Float32Array): { windows: Float32Array[]; numHops: number } {
  if (audio16k.length === 0) throw new InvalidInputError('DNSMOS: empty audio');
  let audio = audio16k;
  while (audio.length < DNSMOS_WINDOW_SAMPLES) {
    const doubled = new Float32Array(audio.length * 2);
    doubled.set(audio);
    doubled.set(audio, audio.length);
    audio = doubled;
  }
  const numHops = Math.trunc(Math.floor(audio.length / DNSMOS_SR) - DNSMOS_WINDOW_SECONDS) + 1;
  const windows: Float32Array[] = [];
  for (let idx = 0; idx < numHops; idx++) {
    const start = Math.trunc(idx * DNSMOS_SR);
    const end = Math.min(audio.length, Math.trunc((idx + DNSMOS_WINDOW_SECONDS) * DNSMOS_SR));
    if (end - start < DNSMOS_WINDOW_SAMPLES) continue;
    windows.push(audio.subarray(start, end));
  }
  return { windows, numHops };
}

let p808Setup: { stft: Stft; bank: SparseFilterBank } | undefined;

/**
 * The P.808 model's input for one window: log-mel frames time-major [frames, 120] of `segment` (the
 * caller drops the window's last 160 samples first, as the script does: 144000 samples -> 900 frames).
 */
export function p808Features(segment: Float32Array): { data: Float32Array; frames: number } {
  if (!p808Setup) {
    const window = new Float64Array(P808_NFFT);
    // scipy.signal.get_window('hann', 321, fftbins=True): the periodic Hann window, in float64.
    for (let k = 0; k < P808_NFFT; k++) window[k] = 0.5 - 0.5 * Math.cos((2 * Math.PI * k) / P808_NFFT);
    p808Setup = {
      stft: new Stft({ nFft: P808_NFFT, hopLength: P808_HOP, window, center: true, padMode: 'constant' }),
      bank: new SparseFilterBank(melFilterBank({ sr: DNSMOS_SR, nFft: P808_NFFT, nMels: P808_MELS }), P808_MELS, Math.floor(P808_NFFT / 2) + 1),
    };
  }
  const { stft, bank } = p808Setup;
  const frames = stft.frameCount(segment.length);
  const power = new Float64Array(frames * P808_MELS);
  stft.forEachFrame(segment, 'power', (t, spec) => bank.apply(spec, power, t * P808_MELS, 1));
  // librosa.power_to_db(S, ref=np.max, amin=1e-10, top_db=80)
  const amin = 1e-10;
  let ref = 0;
  for (let i = 0; i < power.length; i++) if (power[i] > ref) ref = power[i];
  const refDb = 10 * Math.log10(Math.max(amin, ref));
  const db = new Float64Array(power.length);
  let top = -Infinity;
  for (let i = 0; i < power.length; i++) {
    db[i] = 10 * Math.log10(Math.max(amin, power[i])) - refDb;
    if (db[i] > top) top = db[i];
  }
  const data = new Float32Array(power.length);
  for (let i = 0; i < power.length; i++) data[i] = (Math.max(db[i], top - 80) + 40) / 40;
  return { data, frames };
}

async function runOne(session: NetSession, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const name = session.inputNames[0];
  const out = await session.run({ [name]: tensor('float32', shape, input) });
  return toFloat32(out[session.outputNames[0]]).data;
}

/** DNSMOS SIG / BAK / OVRL and P.808 MOS of one clip (any sample rate; brought to 16 kHz). */
export async function scoreDnsmos(audio: { samples: Float32Array; sampleRate: number }, sessions: DnsmosSessions): Promise<DnsmosScore> {
  const x = audio.sampleRate === DNSMOS_SR ? audio.samples : resample(audio.samples, audio.sampleRate, DNSMOS_SR);
  const { windows, numHops } = dnsmosWindows(x);
  const sum = { sig: 0, bak: 0, ovr: 0, SIG: 0, BAK: 0, OVRL: 0, p808: 0 };
  for (const seg of windows) {
    const raw = await runOne(sessions.primary, Float32Array.from(seg), [1, seg.length]);
    const feats = p808Features(seg.subarray(0, seg.length - P808_HOP));
    const p808 = await runOne(sessions.p808, feats.data, [1, feats.frames, P808_MELS]);
    const cal = calibrateDnsmos(raw[0], raw[1], raw[2]);
    sum.sig += raw[0]; sum.bak += raw[1]; sum.ovr += raw[2];
    sum.SIG += cal.SIG; sum.BAK += cal.BAK; sum.OVRL += cal.OVRL;
    sum.p808 += p808[0];
  }
  const n = windows.length;
  const mean = (v: number) => (n ? v / n : Number.NaN);
  return {
    SIG: mean(sum.SIG), BAK: mean(sum.BAK), OVRL: mean(sum.OVRL), P808_MOS: mean(sum.p808),
    SIG_raw: mean(sum.sig), BAK_raw: mean(sum.bak), OVRL_raw: mean(sum.ovr),
    numHops, windows: n, seconds: x.length / DNSMOS_SR,
  };
}

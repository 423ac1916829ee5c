/**
 * Real-time voice conversion: Seed-VC's streaming loop (real-time-gui.py, audio_callback + custom_infer) as a
 * runtime-free class. Audio arrives in blocks at the model rate; per block:
 *
 *   input window (22.05 kHz) <- block;  16 kHz window <- soxr(last block + 2 zc)[320:] over its end
 *   content encoder on the whole 16 kHz window, first int((extra_ce - extra) * 50) frames dropped
 *   length regulator to T frames;  CFM on [prompt condition | cond] with the cached reference prompt
 *   vocoder -> the slice [-(output_len + tail_len) : -tail_len]
 *   SOLA: normalised cross-correlation against the carried buffer, sin^2 crossfade, emit one block
 *
 * Sizes follow the GUI exactly (time settings rounded to 20 ms with numpy's half-to-even rule; Python float
 * arithmetic for the frame counts). The reference cache (prompt content, condition, mel, speaker style) is
 * computed once and again only when the reference or the prompt length changes.
 */
import { kaldiFbank, meanNormalize, melSpectrogram, resample, resampleSoxr } from '../dsp/index.ts';
import { roundHalfEven } from '../dsp/f0.ts';
import { InvalidInputError } from '../errors.ts';
import type { SeedVcConfig } from '../models/config.ts';
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';
import { solveEuler } from './cfm.ts';
import type { ContentEncoder } from './content.ts';
import type { ConverterSessions } from './convert.ts';
import { type GuardEvent, fp16Hazard, guarded } from './guard.ts';
import { Rng } from './random.ts';
import type { VocoderDraws, VocoderOutput } from './vocoder.ts';

const fr = Math.fround;
/** The content encoders' rate and frame rate (16 kHz, 50 frames/s: 320 samples per frame). */
const SR16K = 16000;
const HOP16K = 320;

/** The GUI's settings (real-time-gui.py names, in seconds), defaults = Seed-VC README's recommended values. */
export interface StreamSettings {
  blockTime: number;
  crossfadeTime: number;
  /** Left context of the content encoder. */
  extraTimeCe: number;
  /** Left context of the DiT (must not exceed extraTimeCe). */
  extraTime: number;
  /** Right (future) context: adds latency. */
  extraTimeRight: number;
  diffusionSteps: number;
  inferenceCfgRate: number;
  /** Reference prompt cut, seconds. */
  maxPromptLength: number;
}

export const STREAM_DEFAULTS: Readonly<StreamSettings> = {
  blockTime: 0.18,
  crossfadeTime: 0.04,
  extraTimeCe: 2.5,
  extraTime: 0.5,
  extraTimeRight: 0.02,
  diffusionSteps: 10,
  inferenceCfgRate: 0.7,
  maxPromptLength: 3,
};

/** Every size the loop derives from the settings (samples at the model rate unless named 16k). */
export interface StreamSizes {
  sampleRate: number;
  hop: number;
  zc: number;
  blockFrame: number;
  blockFrame16k: number;
  crossfadeFrame: number;
  solaBufferFrame: number;
  solaSearchFrame: number;
  extraFrame: number;
  extraFrameRight: number;
  inputWavLength: number;
  inputWavResLength: number;
  skipHead: number;
  skipTail: number;
  returnLength: number;
  resampleInputLength: number;
  resampleWrittenLength: number;
  ceDitFrameDifference: number;
  targetLength: number;
  outputLen: number;
  tailLen: number;
}

/** Python's float floor division (float_floor_div), which can differ from Math.floor(a / b) by one ulp cases. */
export function pyFloorDiv(a: number, b: number): number {
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod && (b < 0) !== (mod < 0)) { mod += b; div -= 1; }
  if (!div) return 0;
  let fd = Math.floor(div);
  if (div - fd > 0.5) fd += 1;
  return fd;
}

/** Derives the loop's sizes as the GUI's start_vc() and custom_infer() do; throws on settings the GUI cannot run. */
export function streamSizes(s: StreamSettings, sampleRate: number, hop: number): StreamSizes {
  for (const k of ['blockTime', 'crossfadeTime', 'extraTimeCe', 'extraTime', 'extraTimeRight', 'maxPromptLength', 'inferenceCfgRate'] as const) {
    if (!Number.isFinite(s[k]) || s[k] < 0) throw new InvalidInputError(`stream setting ${k} must be a finite number >= 0, got ${s[k]}`);
  }
  if (!Number.isInteger(s.diffusionSteps) || s.diffusionSteps < 1 || s.diffusionSteps > 1000) {
    throw new InvalidInputError(`diffusion steps must be an integer in 1..1000, got ${s.diffusionSteps}`);
  }
  if (s.extraTimeCe < s.extraTime) {
    throw new InvalidInputError(`extra time (content encoder) ${s.extraTimeCe} s must be at least the DiT extra time ${s.extraTime} s`);
  }
  const zc = Math.floor(sampleRate / 50);
  const frames = (t: number) => roundHalfEven((t * sampleRate) / zc) * zc;
  const blockFrame = frames(s.blockTime);
  const crossfadeFrame = frames(s.crossfadeTime);
  const extraFrame = frames(s.extraTimeCe);
  const extraFrameRight = frames(s.extraTimeRight);
  if (blockFrame < zc) throw new InvalidInputError(`block time ${s.blockTime} s rounds to ${blockFrame} samples; at least 0.02 s is needed`);
  if (crossfadeFrame < zc) throw new InvalidInputError(`crossfade time ${s.crossfadeTime} s rounds to 0; at least 0.02 s is needed`);
  if (extraFrameRight < zc) {
    throw new InvalidInputError(`extra time right ${s.extraTimeRight} s rounds to 0 samples; the returned slice would be empty (at least 0.02 s, as in the GUI)`);
  }
  const solaBufferFrame = Math.min(crossfadeFrame, 4 * zc);
  const solaSearchFrame = zc;
  const inputWavLength = extraFrame + crossfadeFrame + solaSearchFrame + blockFrame + extraFrameRight;
  const skipHead = Math.floor(extraFrame / zc);
  const skipTail = Math.floor(extraFrameRight / zc);
  const returnLength = Math.floor((blockFrame + solaBufferFrame + solaSearchFrame) / zc);
  const ceDitFrameDifference = Math.trunc((s.extraTimeCe - s.extraTime) * 50);
  const targetLength = Math.trunc(pyFloorDiv(((skipHead + returnLength + skipTail - ceDitFrameDifference) / 50) * sampleRate, hop));
  const outputLen = Math.floor((returnLength * sampleRate) / 50);
  const tailLen = Math.floor((skipTail * sampleRate) / 50);
  if (targetLength < 1 || targetLength * hop < outputLen + tailLen) {
    throw new InvalidInputError(`these settings give ${targetLength} mel frames per block, fewer than the ${outputLen + tailLen} returned samples need`);
  }
  return {
    sampleRate, hop, zc, blockFrame,
    blockFrame16k: Math.floor((HOP16K * blockFrame) / zc),
    crossfadeFrame, solaBufferFrame, solaSearchFrame, extraFrame, extraFrameRight, inputWavLength,
    inputWavResLength: Math.floor((HOP16K * inputWavLength) / zc),
    skipHead, skipTail, returnLength,
    resampleInputLength: blockFrame + 2 * zc,
    resampleWrittenLength: HOP16K * (Math.floor(blockFrame / zc) + 1),
    ceDitFrameDifference, targetLength, outputLen, tailLen,
  };
}

/**
 * Algorithmic latency in seconds: a sample waits for its block to fill (block), then the returned slice ends
 * right-context + SOLA buffer + search before the newest input (minus the SOLA offset, 0..search, chosen per
 * block). Compute time per block comes on top (it must stay below the block time), device buffers too.
 */
export function algorithmicLatency(z: StreamSizes): { seconds: number; minSeconds: number } {
  const max = z.blockFrame + z.extraFrameRight + z.solaBufferFrame + z.solaSearchFrame;
  return { seconds: max / z.sampleRate, minSeconds: (max - z.solaSearchFrame) / z.sampleRate };
}

/** torch.linspace(0, 1, n) in float32, then sin(0.5 pi x)^2 and its complement: the SOLA fades. */
export function solaFades(n: number): { fadeIn: Float32Array; fadeOut: Float32Array } {
  const fadeIn = new Float32Array(n);
  const fadeOut = new Float32Array(n);
  const step = n > 1 ? fr(1 / (n - 1)) : 0;
  const half = Math.floor(n / 2);
  const halfPi = fr(0.5 * Math.PI);
  for (let i = 0; i < n; i++) {
    const x = i < half ? fr(step * i) : fr(1 - fr(step * (n - 1 - i)));
    const s = fr(Math.sin(fr(halfPi * x)));
    fadeIn[i] = fr(s * s);
    fadeOut[i] = fr(1 - fadeIn[i]);
  }
  return { fadeIn, fadeOut };
}

/** One SOLA step's results. */
export interface SolaResult {
  /** The emitted block (blockFrame samples). */
  emitted: Float32Array;
  /** The new carried buffer (solaBufferFrame samples). */
  buffer: Float32Array;
  offset: number;
  /** Normalised cross-correlation per candidate offset (solaSearchFrame + 1 values). */
  corr: Float32Array;
}

/**
 * SOLA (from DDSP-SVC, as the GUI runs it): corr[i] = sum_j w[i+j] b[j] / sqrt(sum_j w[i+j]^2 + 1e-8) over the
 * first buffer + search samples w of the slice, offset = first maximum; the slice from the offset is faded in
 * against the faded-out buffer (multiply, then add); its first block is emitted, the next buffer kept.
 */
export function solaStep(
  slice: Float32Array, buffer: Float32Array, z: Pick<StreamSizes, 'blockFrame' | 'solaBufferFrame' | 'solaSearchFrame'>,
  fades: { fadeIn: Float32Array; fadeOut: Float32Array },
): SolaResult {
  const sb = z.solaBufferFrame, search = z.solaSearchFrame;
  const corr = new Float32Array(search + 1);
  const eps = fr(1e-8);
  let offset = 0;
  for (let i = 0; i <= search; i++) {
    let num = 0, den = 0;
    for (let j = 0; j < sb; j++) {
      const w = slice[i + j];
      num += w * buffer[j];
      den += w * w;
    }
    corr[i] = fr(fr(num) / fr(Math.sqrt(fr(fr(den) + eps))));
    if (corr[i] > corr[offset]) offset = i;
  }
  const y = slice.slice(offset);
  for (let j = 0; j < sb; j++) y[j] = fr(fr(y[j] * fades.fadeIn[j]) + fr(buffer[j] * fades.fadeOut[j]));
  return { emitted: y.slice(0, z.blockFrame), buffer: y.slice(z.blockFrame, z.blockFrame + sb), offset, corr };
}

/**
 * Steps 1-2 of a block: shift the model-rate window by one block and append the block; shift the 16 kHz window
 * by one block and write soxr(last block + 2 zc samples)[320:] over its end — 320 samples more than the shift,
 * so the previous block's last 320 samples are recomputed with right context.
 */
export function updateInputWindows(inputWav: Float32Array, inputWavRes: Float32Array, block: Float32Array, z: StreamSizes): void {
  inputWav.copyWithin(0, z.blockFrame);
  inputWav.set(block, inputWav.length - z.blockFrame);
  inputWavRes.copyWithin(0, z.blockFrame16k);
  const res = resampleSoxr(inputWav.subarray(inputWav.length - z.resampleInputLength), z.sampleRate, SR16K);
  const fresh = res.subarray(HOP16K, HOP16K + z.resampleWrittenLength);
  inputWavRes.set(fresh, inputWavRes.length - fresh.length);
}

/** The reference cache of the loop (custom_infer's globals). */
export interface ReferenceCache {
  /** Content of the 16 kHz prompt [1, F, D]. */
  sOri: Tensor<'float32'>;
  /** length_regulator(sOri, P) [1, P, D]. */
  promptCondition: Tensor<'float32'>;
  /** Log-mel of the prompt [1, mels, P] (the CFM prompt). */
  mel2: Tensor<'float32'>;
  /** Speaker embedding [1, S]. */
  style2: Tensor<'float32'>;
}

/** Per-block options: injected random draws, voice activity, intermediates. */
export interface StreamBlockOptions {
  /** CFM start noise of this block, shape [1, mels, P + T] (default: the converter's seeded generator). */
  noise?: (block: number, shape: readonly number[]) => Float32Array;
  /** HiFT's source draws of this block (default: the vocoder's seeded generator). */
  vocoderDraws?: (block: number, samples: number) => VocoderDraws;
  /** false: a non-speech block: no inference, the loop continues with a silent slice (the VAD decided). */
  speech?: boolean;
  /** Keep this block's intermediate tensors in the result. */
  keepIntermediates?: boolean;
}

export interface StreamBlockIntermediates {
  wav16k: Float32Array;
  content: Tensor<'float32'>;
  cond: Tensor<'float32'>;
  mel: Tensor<'float32'>;
  f0?: Float32Array;
  vocoder: Float32Array;
  solaCorr: Float32Array;
  solaBuffer: Float32Array;
}

export interface StreamBlockResult {
  /** The converted block (blockFrame samples at the model rate). */
  output: Float32Array;
  block: number;
  offset: number;
  /** True when the block was not converted (speech: false). */
  skipped: boolean;
  /** Wall time of this block in ms, in total and per stage. */
  ms: { total: number; reference: number; content: number; lengthRegulator: number; diffusion: number; vocoder: number };
  guard: GuardEvent[];
  intermediates?: StreamBlockIntermediates;
}

/**
 * The streaming converter. Feed blocks of `sizes.blockFrame` samples at `sizes.sampleRate` to `process()`,
 * in order; each call returns one converted block.
 */
export class StreamingConverter {
  readonly settings: Readonly<StreamSettings>;
  readonly sizes: StreamSizes;
  private readonly inputWav: Float32Array;
  private readonly inputWavRes: Float32Array;
  private solaBuffer: Float32Array;
  private readonly fades: { fadeIn: Float32Array; fadeOut: Float32Array };
  private reference: Float32Array | undefined;
  private cache: ReferenceCache | undefined;
  private readonly rng: Rng;
  private blocks = 0;

  constructor(readonly config: SeedVcConfig, readonly sessions: ConverterSessions, settings: Partial<StreamSettings> = {}, options: { seed?: number } = {}) {
    if (config.lengthRegulator.f0Condition) {
      throw new InvalidInputError('F0-conditioned (singing) models do not stream: the real-time loop has no pitch path; use the realtime or offline model');
    }
    this.settings = { ...STREAM_DEFAULTS, ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) };
    this.sizes = streamSizes(this.settings, config.mel.sampleRate, config.mel.hopLength);
    this.inputWav = new Float32Array(this.sizes.inputWavLength);
    this.inputWavRes = new Float32Array(this.sizes.inputWavResLength);
    this.solaBuffer = new Float32Array(this.sizes.solaBufferFrame);
    this.fades = solaFades(this.sizes.solaBufferFrame);
    this.rng = new Rng(options.seed ?? 0);
  }

  get sampleRate(): number { return this.sizes.sampleRate; }
  get blockCount(): number { return this.blocks; }

  /** Sets the target voice (mono, at the model rate); the cache is rebuilt on the next block. */
  setReference(samples: Float32Array): void {
    if (samples.length < this.sizes.sampleRate * 0.5) throw new InvalidInputError(`reference audio is ${(samples.length / this.sizes.sampleRate).toFixed(2)} s long; at least 0.5 s is needed`);
    this.reference = samples;
    this.cache = undefined;
  }

  /** Changes the prompt length (seconds); like the GUI, this rebuilds the reference cache. */
  setMaxPromptLength(seconds: number): void {
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new InvalidInputError(`max prompt length must be > 0 s, got ${seconds}`);
    if (seconds !== this.settings.maxPromptLength) {
      (this.settings as StreamSettings).maxPromptLength = seconds;
      this.cache = undefined;
    }
  }

  /** The reference cache, computed on demand from the reference cut to the max prompt length. */
  async referenceCache(report: (e: GuardEvent) => void = () => {}): Promise<ReferenceCache> {
    if (this.cache) return this.cache;
    if (!this.reference) throw new InvalidInputError('no reference voice: call setReference() before streaming');
    const sr = this.sizes.sampleRate;
    const mel = this.config.mel;
    const prompt = this.reference.subarray(0, Math.trunc(sr * this.settings.maxPromptLength));
    const prompt16k = resample(prompt, sr, SR16K); // torchaudio's sinc, as custom_infer (not soxr)
    const sOri = await this.encode(prompt16k, 0, report);
    const fb = kaldiFbank(prompt16k);
    const feat = meanNormalize(fb.data, fb.frames, fb.bins);
    const style2 = (await this.sessions.speaker.run({ feat: tensor('float32', [1, fb.frames, fb.bins], feat) })).embedding as Tensor<'float32'>;
    const m = melSpectrogram(prompt, { nFft: mel.nFft, numMels: mel.nMels, sampleRate: sr, hopSize: mel.hopLength, winSize: mel.winLength, fmin: mel.fmin, fmax: mel.fmax ?? undefined });
    const mel2 = tensor('float32', [1, m.numMels, m.frames], m.data);
    const promptCondition = await this.regulate(sOri, m.frames);
    this.cache = { sOri, promptCondition, mel2, style2 };
    return this.cache;
  }

  /** Step 1-2 on the converter's windows; returns the 16 kHz window (the content encoder's input). */
  pushInput(block: Float32Array): Float32Array {
    if (block.length !== this.sizes.blockFrame) {
      throw new InvalidInputError(`a stream block must have ${this.sizes.blockFrame} samples (${this.settings.blockTime} s at ${this.sizes.sampleRate} Hz), got ${block.length}`);
    }
    updateInputWindows(this.inputWav, this.inputWavRes, block, this.sizes);
    return this.inputWavRes;
  }

  /** Content of a 16 kHz waveform [1, F, D], through the fp16 guard. */
  async encode(wave16k: Float32Array, block: number, report: (e: GuardEvent) => void): Promise<Tensor<'float32'>> {
    const fb = this.sessions.fp32Fallback?.content;
    const hazard = this.sessions.fp32Fallback?.hazard?.content ?? fp16Hazard;
    return guarded('content', block + 1, () => this.sessions.content.encode(wave16k),
      fb && (async () => (await fb() as ContentEncoder).encode(wave16k)), (t) => hazard(t.data), report);
  }

  /** Step 4: the window's content without the first ceDitFrameDifference frames. */
  async content(wav16k: Float32Array, block: number, report: (e: GuardEvent) => void): Promise<Tensor<'float32'>> {
    const s = await this.encode(wav16k, block, report);
    const [, F, D] = s.shape;
    const cut = Math.min(this.sizes.ceDitFrameDifference, F);
    return tensor('float32', [1, F - cut, D], s.data.slice(cut * D));
  }

  /** The length regulator to `frames` frames. */
  async regulate(content: Tensor<'float32'>, frames: number): Promise<Tensor<'float32'>> {
    const out = await this.sessions.lengthRegulator.run({ x: content, ylens: tensor('int64', [1], new BigInt64Array([BigInt(frames)])) });
    return out.cond as Tensor<'float32'>;
  }

  /** Step 6: CFM over [prompt condition | cond] with the prompt mel; returns the mel without the prompt frames [1, C, T]. */
  async diffuse(cond: Tensor<'float32'>, z: Float32Array, cache: ReferenceCache, block: number, report: (e: GuardEvent) => void): Promise<Tensor<'float32'>> {
    const P = cache.mel2.shape[2];
    const C = cache.mel2.shape[1];
    const T = cond.shape[1];
    const D = cond.shape[2];
    const mu = new Float32Array((P + T) * D);
    mu.set(cache.promptCondition.data.subarray(0, P * D));
    mu.set(cond.data.subarray(0, T * D), P * D);
    if (z.length !== C * (P + T)) throw new InvalidInputError(`block ${block}: CFM noise has ${z.length} values, needs [1, ${C}, ${P + T}]`);
    const ditHazard = this.sessions.fp32Fallback?.hazard?.estimator ?? fp16Hazard;
    const solve = async (estimator: NetSession) => {
      let hazard: string | null = null;
      const x = await solveEuler(estimator, {
        mu: tensor('float32', [1, P + T, D], mu), prompt: cache.mel2, style: cache.style2,
        noise: tensor('float32', [1, C, P + T], Float32Array.from(z)), steps: this.settings.diffusionSteps, cfgRate: this.settings.inferenceCfgRate,
      }, (e) => { if (e.estimatorOut) hazard ??= ditHazard(e.estimatorOut.data); });
      return { x, hazard: hazard ?? ditHazard(x.data) };
    };
    const fb = this.sessions.fp32Fallback?.estimator;
    const { x } = await guarded('dit', block + 1, () => solve(this.sessions.estimator), fb && (async () => solve(await fb())), (r) => r.hazard, report);
    const out = new Float32Array(C * T);
    for (let c = 0; c < C; c++) out.set(x.data.subarray(c * (P + T) + P, (c + 1) * (P + T)), c * T);
    return tensor('float32', [1, C, T], out);
  }

  /** Step 7: the vocoder (through the guard). */
  async vocode(mel: Tensor<'float32'>, draws: VocoderDraws | undefined, block: number, report: (e: GuardEvent) => void): Promise<VocoderOutput> {
    const fb = this.sessions.fp32Fallback?.vocoder;
    const hazard = this.sessions.fp32Fallback?.hazard?.vocoder ?? fp16Hazard;
    return guarded('vocoder', block + 1, () => this.sessions.vocoder.run(mel, draws),
      fb && (async () => (await fb()).run(mel, draws)), (o) => hazard(o.waveform), report);
  }

  /** Step 8: the returned slice of the vocoder output: [-(outputLen + tailLen) : -tailLen]. */
  returnedSlice(wave: Float32Array): Float32Array {
    const { outputLen, tailLen } = this.sizes;
    if (wave.length < outputLen + tailLen) throw new Error(`vocoder returned ${wave.length} samples, the slice needs ${outputLen + tailLen}`);
    return wave.slice(wave.length - outputLen - tailLen, wave.length - tailLen);
  }

  /** Converts the next block. */
  async process(block: Float32Array, opts: StreamBlockOptions = {}): Promise<StreamBlockResult> {
    const t0 = now();
    const k = this.blocks;
    const guard: GuardEvent[] = [];
    const report = (e: GuardEvent) => { guard.push(e); };
    const ms = { total: 0, reference: 0, content: 0, lengthRegulator: 0, diffusion: 0, vocoder: 0 };
    const timed = async <T>(key: keyof typeof ms, fn: () => Promise<T>): Promise<T> => {
      const s = now();
      const r = await fn();
      ms[key] += now() - s;
      return r;
    };
    const wav16k = this.pushInput(block);
    const z = this.sizes;
    let slice: Float32Array;
    let inter: Partial<StreamBlockIntermediates> | undefined;
    const skipped = opts.speech === false;
    if (skipped) {
      slice = new Float32Array(z.outputLen);
    } else {
      const cache = await timed('reference', () => this.referenceCache(report));
      const content = await timed('content', () => this.content(wav16k, k, report));
      const cond = await timed('lengthRegulator', () => this.regulate(content, z.targetLength));
      const P = cache.mel2.shape[2], C = cache.mel2.shape[1];
      const shape = [1, C, P + z.targetLength];
      const noise = opts.noise ? opts.noise(k, shape) : this.rng.normals(C * (P + z.targetLength));
      const mel = await timed('diffusion', () => this.diffuse(cond, noise, cache, k, report));
      const voc = await timed('vocoder', () => this.vocode(mel, opts.vocoderDraws?.(k, mel.shape[2] * z.hop), k, report));
      slice = this.returnedSlice(voc.waveform);
      if (opts.keepIntermediates) inter = { wav16k: wav16k.slice(), content, cond, mel, f0: voc.f0, vocoder: voc.waveform };
    }
    const sola = solaStep(slice, this.solaBuffer, z, this.fades);
    this.solaBuffer = sola.buffer;
    this.blocks++;
    ms.total = now() - t0;
    const result: StreamBlockResult = { output: sola.emitted, block: k, offset: sola.offset, skipped, ms, guard };
    if (inter) result.intermediates = { ...(inter as StreamBlockIntermediates), solaCorr: sola.corr, solaBuffer: sola.buffer };
    return result;
  }
}

function now(): number { return globalThis.performance.now(); }

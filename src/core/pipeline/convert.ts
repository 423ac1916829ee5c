/**
 * Voice conversion, inference.py's main() as a runtime-free pipeline over NetSessions:
 *
 *   source, reference (model rate) -> 16 kHz -> content features (windowed encoder)
 *   reference -> Kaldi fbank -> CAMPPlus speaker embedding; reference -> mel prompt
 *   [singing] RMVPE F0 of both -> median shift + semitones -> coarse bins
 *   length regulator (source to int(frames * length_adjust) frames; reference to its mel length)
 *   DiT windows: CFG Euler solve with the prompt -> vocoder -> crossfaded waveform
 */
import { kaldiFbank, meanNormalize, melSpectrogram, resample, resampleSoxr, shiftF0, f0ToCoarse } from '../dsp/index.ts';
import { InvalidInputError } from '../errors.ts';
import type { SeedVcConfig } from '../models/config.ts';
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';
import { solveEuler } from './cfm.ts';
import { type ContentEncoder, encodeContent } from './content.ts';
import { Rng } from './random.ts';
import { type GuardEvent, fp16Hazard, guarded } from './guard.ts';
import type { Vocoder } from './vocoder.ts';
import { OVERLAP_FRAMES, WHISPER_SR, WaveJoiner, ditWindows } from './windows.ts';

/** Conversion options, with Seed-VC's names (inference.py flags) and defaults. */
export interface ConvertOptions {
  /** Euler steps (default 30). */
  diffusionSteps?: number;
  /** Output length factor: target frames = int(source frames * lengthAdjust) (default 1.0). */
  lengthAdjust?: number;
  /** Classifier-free guidance rate (default 0.7; 0 runs the estimator once per step). */
  inferenceCfgRate?: number;
  /** Singing models: shift the source F0 median to the reference's (default false). */
  autoF0Adjust?: boolean;
  /** Singing models: pitch shift in semitones (default 0). */
  semiToneShift?: number;
  /** Seed of the initial noise (ignored when `noise` is given). Default: a random seed, reported in the result. */
  seed?: number;
  /** Supplies the initial noise of DiT window k, shape [1, mels, prompt + window frames] (e.g. from a noise file). */
  noise?: (window: number, shape: readonly number[]) => Float32Array;
  onProgress?: (e: ConvertEvent) => void;
  signal?: AbortSignal;
}

export type ConvertStage = 'content' | 'speaker' | 'f0' | 'length_regulator' | 'diffusion' | 'vocoder';

export type ConvertEvent =
  | { type: 'stage'; stage: ConvertStage; status: 'start' | 'done'; ms?: number }
  | { type: 'content'; window: number; windows: number }
  | { type: 'diffusion'; window: number; windows: number; step: number; steps: number }
  | ({ type: 'guard' } & GuardEvent);

export interface ConvertResult {
  /** Converted waveform at `sampleRate`. */
  audio: Float32Array;
  sampleRate: number;
  /** Wall time per stage in ms. */
  timings: Record<ConvertStage | 'total', number>;
  /** Real-time factor: total processing time / output duration. */
  rtf: number;
  /** The seed used for the noise (undefined when the caller supplied noise). */
  seed?: number;
  /** fp16 guard events: windows that were recomputed in fp32 (empty when all went well). */
  guard: GuardEvent[];
  /** Intermediates, for inspection and parity checks. */
  intermediates: ConvertIntermediates;
}

export interface ConvertIntermediates {
  sAlt: Tensor<'float32'>;
  sOri: Tensor<'float32'>;
  style: Tensor<'float32'>;
  prompt: Tensor<'float32'>;
  speakerFeatures: Tensor<'float32'>;
  cond: Tensor<'float32'>;
  promptCondition: Tensor<'float32'>;
  vcTargets: Tensor<'float32'>[];
  targetLength: number;
}

/** The networks a conversion runs, as sessions (and the content encoder built on one). */
export interface ConverterSessions {
  content: ContentEncoder;
  speaker: NetSession;
  lengthRegulator: NetSession;
  estimator: NetSession;
  /**
   * The Euler update (buildEulerStepGraph) as a session on the estimator's device: with an estimator that
   * can run on the device too (WebGPU, `outputsOnDevice`), x stays in GPU memory between the DiT steps.
   */
  eulerStep?: NetSession;
  vocoder: Vocoder;
  /** RMVPE, for F0-conditioned (singing) models. */
  pitch?: PitchExtractor;
  /**
   * fp32 versions of the stages that run in fp16, created on first use: the fp16 guard recomputes a
   * window with them when the fp16 result is non-finite or near the fp16 limit.
   */
  fp32Fallback?: {
    content?: () => Promise<ContentEncoder>;
    estimator?: () => Promise<NetSession>;
    vocoder?: () => Promise<Vocoder>;
    /** What makes a window unsafe, per stage (default: the fp16 check; int8 stages check finiteness). */
    hazard?: { content?: Hazard; estimator?: Hazard; vocoder?: Hazard };
  };
}

type Hazard = (data: ArrayLike<number>) => string | null;

/** F0 (Hz, 100 frames/s, 0 = unvoiced) of a 16 kHz waveform, in float64 as RMVPE returns it. */
export interface PitchExtractor {
  f0(wave16k: Float32Array): Promise<Float64Array>;
}

export const DEFAULTS: Readonly<Required<Pick<ConvertOptions, 'diffusionSteps' | 'lengthAdjust' | 'inferenceCfgRate' | 'autoF0Adjust' | 'semiToneShift'>>> = {
  diffusionSteps: 30,
  lengthAdjust: 1.0,
  inferenceCfgRate: 0.7,
  autoF0Adjust: false,
  semiToneShift: 0,
};

type ResolvedOptions = ConvertOptions & typeof DEFAULTS;

/** Shortest accepted input, in seconds (shorter clips give the encoders too few frames to mean anything). */
export const MIN_SECONDS = 0.5;
/** Reference audio beyond this is cut, as inference.py does. */
export const MAX_REFERENCE_SECONDS = 25;

export class VoiceConverter {
  constructor(readonly config: SeedVcConfig, readonly sessions: ConverterSessions) {
    if (config.lengthRegulator.f0Condition && !sessions.pitch) {
      throw new InvalidInputError('this model is F0-conditioned (singing) and needs a pitch extractor (RMVPE)');
    }
  }

  get sampleRate(): number { return this.config.mel.sampleRate; }

  /**
   * Converts `source` to the voice of `reference`. Both are mono waveforms at any sample rate; they are
   * resampled to the model rate first with libsoxr HQ, as inference.py's `librosa.load(sr=...)` does.
   */
  async convert(
    source: { samples: Float32Array; sampleRate: number },
    reference: { samples: Float32Array; sampleRate: number },
    options: ConvertOptions = {},
  ): Promise<ConvertResult> {
    const opts = { ...DEFAULTS, ...stripUndefined(options) };
    validateOptions(opts);
    const sr = this.sampleRate;
    const mel = this.config.mel;
    const src = toModelRate(source, sr, 'source');
    const ref = toModelRate(reference, sr, 'reference').subarray(0, sr * MAX_REFERENCE_SECONDS);
    const run = new Run(opts);
    const { stage, emit, report } = run;
    const fallback = this.sessions.fp32Fallback ?? {};

    const src16k = resample(src, sr, WHISPER_SR);
    const ref16k = resample(ref, sr, WHISPER_SR);
    const contentGuard = { fallback: fallback.content, report, hazard: fallback.hazard?.content };
    const { sAlt, sOri } = await stage('content', async () => ({
      sAlt: await encodeContent(this.sessions.content, src16k, (window, windows) => emit({ type: 'content', window, windows }), contentGuard),
      sOri: await encodeContent(this.sessions.content, ref16k, undefined, contentGuard),
    }));

    const melOpts = { nFft: mel.nFft, numMels: mel.nMels, sampleRate: sr, hopSize: mel.hopLength, winSize: mel.winLength, fmin: mel.fmin, fmax: mel.fmax ?? undefined };
    const srcFrames = Math.floor(src.length / mel.hopLength);
    const prompt = melSpectrogram(ref, melOpts);
    const promptT = tensor('float32', [1, prompt.numMels, prompt.frames], prompt.data);

    const { style, feats } = await stage('speaker', async () => {
      const fb = kaldiFbank(ref16k);
      const feat = meanNormalize(fb.data, fb.frames, fb.bins);
      const featT = tensor('float32', [1, fb.frames, fb.bins], feat);
      const out = await this.sessions.speaker.run({ feat: featT });
      return { style: out.embedding as Tensor<'float32'>, feats: tensor('float32', [fb.frames, fb.bins], feat) };
    });

    let srcCoarse: Tensor<'int64'> | undefined;
    let refCoarse: Tensor<'int64'> | undefined;
    if (this.config.lengthRegulator.f0Condition) {
      await stage('f0', async () => {
        const pitch = this.sessions.pitch!;
        const f0Ori = await pitch.f0(ref16k);
        const f0Alt = await pitch.f0(src16k);
        const shifted = shiftF0(f0Alt, f0Ori, { autoF0Adjust: opts.autoF0Adjust, semitoneShift: opts.semiToneShift });
        const bins = this.config.lengthRegulator.nF0Bins;
        srcCoarse = coarseTensor(f0ToCoarse(shifted, bins));
        refCoarse = coarseTensor(f0ToCoarse(f0Ori, bins));
      });
    }

    // Python int(): truncation of the float64 product.
    const targetLength = Math.trunc(srcFrames * opts.lengthAdjust);
    if (targetLength < 1) throw new InvalidInputError(`length adjust ${opts.lengthAdjust} leaves no output frames`);
    const { cond, promptCondition } = await stage('length_regulator', async () => {
      const run = async (content: Tensor<'float32'>, frames: number, coarse?: Tensor<'int64'>) => {
        const feeds: Record<string, Tensor> = { x: content, ylens: tensor('int64', [1], new BigInt64Array([BigInt(frames)])) };
        if (coarse) feeds.f0_coarse = coarse;
        return (await this.sessions.lengthRegulator.run(feeds)).cond as Tensor<'float32'>;
      };
      return { cond: await run(sAlt, targetLength, srcCoarse), promptCondition: await run(sOri, prompt.frames, refCoarse) };
    });

    const synth = await this.synthesizeIn(run, { cond, promptCondition, prompt: promptT, style }, opts);
    run.timings.total = now() - run.t0;
    return {
      audio: synth.audio,
      sampleRate: sr,
      timings: run.timings,
      rtf: run.timings.total / 1000 / (synth.audio.length / sr),
      seed: synth.seed,
      guard: run.guard,
      intermediates: { sAlt, sOri, style, prompt: promptT, speakerFeatures: feats, cond, promptCondition, vcTargets: synth.vcTargets, targetLength },
    };
  }

  /**
   * The second half of a conversion: inference.py's loop over DiT context windows (CFG Euler solve with the
   * reference mel as prompt, prompt frames dropped) and the vocoder, joined by the crossfade. Takes the
   * length-regulated content of source (`cond` [1, T, D]) and reference (`promptCondition` [1, P, D]), the
   * reference mel (`prompt` [1, mels, P]) and the speaker embedding (`style` [1, S]).
   */
  async synthesize(inputs: SynthesisInputs, options: ConvertOptions & { maxContextFrames?: number } = {}): Promise<SynthesisResult> {
    const opts = { ...DEFAULTS, ...stripUndefined(options) };
    validateOptions(opts);
    return this.synthesizeIn(new Run(opts), inputs, opts);
  }

  private async synthesizeIn(run: Run, inp: SynthesisInputs, opts: ResolvedOptions & { maxContextFrames?: number }): Promise<SynthesisResult> {
    const { stage, emit, report } = run;
    const fallback = this.sessions.fp32Fallback ?? {};
    const mel = this.config.mel;
    const { cond, promptCondition, style } = inp;
    const P = inp.prompt.shape[2];
    const C = mel.nMels;
    const D = cond.shape[2];
    const maxContext = opts.maxContextFrames ?? Math.floor(mel.sampleRate / mel.hopLength) * 30;
    const windows = ditWindows(cond.shape[1], P, maxContext);
    const joiner = new WaveJoiner(OVERLAP_FRAMES * mel.hopLength);
    const seed = opts.noise ? undefined : (opts.seed ?? randomSeed());
    const rng = seed === undefined ? undefined : new Rng(seed);
    const vcTargets: Tensor<'float32'>[] = [];
    const ditHazard = fallback.hazard?.estimator ?? fp16Hazard;
    const vocoderHazard = fallback.hazard?.vocoder ?? fp16Hazard;
    for (let k = 0; k < windows.length; k++) {
      const w = windows[k];
      const T = P + w.end - w.start;
      const mu = new Float32Array(T * D);
      mu.set(promptCondition.data.subarray(0, P * D));
      mu.set(cond.data.subarray(w.start * D, w.end * D), P * D);
      const shape = [1, C, T];
      const z = opts.noise ? opts.noise(k, shape) : rng!.normals(C * T);
      if (z.length !== C * T) throw new InvalidInputError(`noise for DiT window ${k} has ${z.length} values, needs shape [${shape.join(', ')}]`);
      // Each solve gets its own copy of the noise: the Euler state is updated in place.
      const solve = async (estimator: NetSession) => {
        let hazard: string | null = null;
        const x = await solveEuler(estimator, {
          mu: tensor('float32', [1, T, D], mu), prompt: inp.prompt, style,
          noise: tensor('float32', shape, Float32Array.from(z)), steps: opts.diffusionSteps, cfgRate: opts.inferenceCfgRate,
        }, (e) => {
          // On the device-resident path only the final x is read back; the hazard check then looks at that.
          if (e.estimatorOut) hazard ??= ditHazard(e.estimatorOut.data);
          emit({ type: 'diffusion', window: k + 1, windows: windows.length, step: e.step, steps: e.steps });
          // Cancellation lands between diffusion steps, not only between stages.
          opts.signal?.throwIfAborted();
        }, this.sessions.eulerStep);
        return { x, hazard: hazard ?? ditHazard(x.data) };
      };
      const fbEstimator = fallback.estimator;
      const { x } = await stage('diffusion', () => guarded('dit', k + 1, () => solve(this.sessions.estimator),
        fbEstimator && (async () => solve(await fbEstimator())), (r) => r.hazard, report));
      const target = dropPromptFrames(x, P);
      vcTargets.push(target);
      const fbVocoder = fallback.vocoder;
      const wave = await stage('vocoder', () => guarded('vocoder', k + 1, () => this.sessions.vocoder.synthesize(target),
        fbVocoder && (async () => (await fbVocoder()).synthesize(target)), vocoderHazard, report));
      joiner.push(wave, w.isLast);
    }
    return { audio: joiner.result(), vcTargets, seed, guard: run.guard };
  }
}

export interface SynthesisInputs {
  cond: Tensor<'float32'>;
  promptCondition: Tensor<'float32'>;
  prompt: Tensor<'float32'>;
  style: Tensor<'float32'>;
}

export interface SynthesisResult {
  audio: Float32Array;
  /** The vocoder input of each DiT window ([1, mels, frames], prompt frames removed). */
  vcTargets: Tensor<'float32'>[];
  seed?: number;
  guard: GuardEvent[];
}

/** One conversion's bookkeeping: stage timings, progress events, guard events, cancellation. */
class Run {
  readonly t0 = now();
  readonly timings: Record<ConvertStage | 'total', number> = { content: 0, speaker: 0, f0: 0, length_regulator: 0, diffusion: 0, vocoder: 0, total: 0 };
  readonly guard: GuardEvent[] = [];
  readonly emit: (e: ConvertEvent) => void;

  constructor(private readonly opts: ConvertOptions) {
    this.emit = opts.onProgress ?? (() => {});
  }

  readonly report = (e: GuardEvent): void => {
    this.guard.push(e);
    this.emit({ type: 'guard', ...e });
  };

  /** Runs one stage, timing it and announcing its start and end. */
  readonly stage = async <T>(name: ConvertStage, fn: () => Promise<T>): Promise<T> => {
    this.opts.signal?.throwIfAborted();
    this.emit({ type: 'stage', stage: name, status: 'start' });
    const s = now();
    const out = await fn();
    const ms = now() - s;
    this.timings[name] += ms;
    this.emit({ type: 'stage', stage: name, status: 'done', ms });
    return out;
  };
}

/** [1, C, T] -> [1, C, T - P] without the prompt frames. */
function dropPromptFrames(x: Tensor<'float32'>, P: number): Tensor<'float32'> {
  const [, C, T] = x.shape;
  const out = new Float32Array(C * (T - P));
  for (let c = 0; c < C; c++) out.set(x.data.subarray(c * T + P, (c + 1) * T), c * (T - P));
  return tensor('float32', [1, C, T - P], out);
}

function coarseTensor(bins: Int32Array): Tensor<'int64'> {
  return tensor('int64', [1, bins.length], BigInt64Array.from(bins, (v) => BigInt(v)));
}

/** Checks an input waveform and brings it to the model rate (libsoxr HQ, librosa.load's resampler). */
export function toModelRate(a: { samples: Float32Array; sampleRate: number }, sr: number, what: string): Float32Array {
  checkInputAudio(a, what);
  return a.sampleRate === sr ? a.samples : resampleSoxr(a.samples, a.sampleRate, sr);
}

/**
 * The checks `convert` makes on each input (a valid rate, at least MIN_SECONDS, finite, not silent),
 * for callers that want them before loading a model. `what` names the input in the message.
 */
export function checkInputAudio(a: { samples: Float32Array; sampleRate: number }, what: string): void {
  if (!(a.sampleRate > 0)) throw new InvalidInputError(`${what} audio: invalid sample rate ${a.sampleRate}`);
  const seconds = a.samples.length / a.sampleRate;
  if (seconds < MIN_SECONDS) {
    throw new InvalidInputError(`${what} audio is ${seconds.toFixed(2)} s long; at least ${MIN_SECONDS} s is needed`);
  }
  let peak = 0;
  for (const v of a.samples) {
    if (!Number.isFinite(v)) throw new InvalidInputError(`${what} audio contains NaN or infinite samples`);
    const m = Math.abs(v);
    if (m > peak) peak = m;
  }
  if (peak < 1e-4) throw new InvalidInputError(`${what} audio is silent (peak ${peak.toExponential(1)}); it needs audible speech`);
}

/** The option checks `convert` makes, for callers that want them before loading a model. */
export function validateConvertOptions(options: ConvertOptions = {}): void {
  validateOptions({ ...DEFAULTS, ...stripUndefined(options) });
}

function validateOptions(o: Required<Omit<ConvertOptions, 'seed' | 'noise' | 'onProgress' | 'signal'>>): void {
  if (!Number.isInteger(o.diffusionSteps) || o.diffusionSteps < 1 || o.diffusionSteps > 1000) {
    throw new InvalidInputError(`diffusion steps must be an integer in 1..1000, got ${o.diffusionSteps}`);
  }
  if (!(o.lengthAdjust > 0 && o.lengthAdjust <= 10)) throw new InvalidInputError(`length adjust must be in (0, 10], got ${o.lengthAdjust}`);
  if (!(o.inferenceCfgRate >= 0 && o.inferenceCfgRate <= 10)) throw new InvalidInputError(`inference CFG rate must be in [0, 10], got ${o.inferenceCfgRate}`);
  if (!Number.isFinite(o.semiToneShift) || Math.abs(o.semiToneShift) > 48) throw new InvalidInputError(`semitone shift must be within ±48, got ${o.semiToneShift}`);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function now(): number { return globalThis.performance.now(); }

function randomSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0];
}

/**
 * A Seed-VC v2 conversion (VoiceConversionWrapper.convert_voice_with_streaming, as inference_v2.py runs it):
 *
 *   source, reference (22.05 kHz; reference cut to 25 s) -> 16 kHz by libsoxr HQ
 *   -> HuBERT + ASTRAL wide tokens (30 s windows with 5 s overlap), CAMPPlus style, mels
 *   -> prompt_condition = length_regulator(reference wide ids, P)
 *   default path:   cond = length_regulator(source wide ids, S); DiT windows of 2580 - P frames advancing by
 *                   window - 16; the CFM runs in fp32 whatever the mode (the reference forces it);
 *   convert_style:  narrow ids, duration reduction, source split into chunks of 1500 - |reduced reference|;
 *                   per chunk the AR generates wide ids (anonymization: no reference context, empty target
 *                   prompt), M = int(S / Ns * N * length_adjust) frames, length_regulator, CFM;
 *   each chunk: mel prompt dropped -> BigVGAN -> cos^2 crossfade of 4096 samples with the previous tail.
 */
import { kaldiFbank, meanNormalize, melSpectrogram, resampleSoxr } from '../../dsp/index.ts';
import { crossfade } from '../../dsp/crossfade.ts';
import { InvalidInputError } from '../../errors.ts';
import type { V2NetSessions } from '../../models/v2-registry.ts';
import type { V2WrapperConfig } from '../../models/v2-config.ts';
import { astralTokens } from '../../nets/v2/astral.ts';
import { arCondition } from '../../nets/v2/ar.ts';
import type { NetSession } from '../../runtime.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import { type GuardEvent, fp16Hazard, guarded } from '../guard.ts';
import { Rng } from '../random.ts';
import { toModelRate } from '../convert.ts';
import { type ArDraws, seededDraws } from './ar-sampler.ts';
import { solveV2Cfm } from './cfm.ts';
import { reduceDurations } from './tokens.ts';

/** inference_v2.py's flags and defaults. */
export interface V2ConvertOptions {
  diffusionSteps?: number;
  /** Output length factor (convert-style path only; the default path ignores it, as the reference does). */
  lengthAdjust?: number;
  intelligibilityCfgRate?: number;
  similarityCfgRate?: number;
  topP?: number;
  temperature?: number;
  repetitionPenalty?: number;
  /** Convert accent and emotion too, through the AR model (default false: timbre only). */
  convertStyle?: boolean;
  /** Anonymize: no reference prompt or style in the CFM, and no reference context for the AR (convert-style). */
  anonymizationOnly?: boolean;
  /** Seed of the CFM noise and the AR draws (ignored for what `noise` / `draws` supply). */
  seed?: number;
  /** Initial noise of chunk k, shape [1, mels, prompt + chunk frames]. */
  noise?: (chunk: number, shape: readonly number[]) => Float32Array;
  /** Exp(1) draws of AR sampling step i (counted over all chunks). */
  draws?: ArDraws;
  /**
   * Run the default path's CFM in fp32 whatever the plan, as the reference forces it (default true). `seed-vc ab`
   * turns it off to show what an fp16 CFM would cost there.
   */
  forceFp32Cfm?: boolean;
  onProgress?: (e: V2ConvertEvent) => void;
  signal?: AbortSignal;
}

export const V2_DEFAULTS = {
  diffusionSteps: 30,
  lengthAdjust: 1.0,
  intelligibilityCfgRate: 0.7,
  similarityCfgRate: 0.7,
  topP: 0.9,
  temperature: 1.0,
  repetitionPenalty: 1.0,
  convertStyle: false,
  anonymizationOnly: false,
} as const;

export type V2ConvertStage = 'content' | 'speaker' | 'length_regulator' | 'ar' | 'diffusion' | 'vocoder';

export type V2ConvertEvent =
  | { type: 'stage'; stage: V2ConvertStage; status: 'start' | 'done'; ms?: number }
  | { type: 'content'; window: number; windows: number }
  | { type: 'ar'; chunk: number; chunks: number; tokens: number }
  | { type: 'diffusion'; window: number; windows: number; step: number; steps: number }
  | ({ type: 'guard' } & GuardEvent);

export interface V2ConvertResult {
  audio: Float32Array;
  sampleRate: number;
  timings: Record<V2ConvertStage | 'total', number>;
  rtf: number;
  seed?: number;
  guard: GuardEvent[];
  intermediates: V2Intermediates;
}

export interface V2Intermediates {
  wave16kSource: Float32Array;
  wave16kReference: Float32Array;
  sourceMel: Tensor<'float32'>;
  referenceMel: Tensor<'float32'>;
  sourceWide: Tensor<'int64'>;
  referenceWide: Tensor<'int64'>;
  sourceNarrow?: Tensor<'int64'>;
  referenceNarrow?: Tensor<'int64'>;
  style: Tensor<'float32'>;
  promptCondition: Tensor<'float32'>;
  /** Default path: the regulated source content. */
  cond?: Tensor<'float32'>;
  chunks: { arTokens?: Int32Array; cond?: Tensor<'float32'>; vcMel: Tensor<'float32'> }[];
}

/** Reference audio beyond this is cut (dit_max_context_len - 5 seconds). */
const MAX_REFERENCE_SECONDS = 25;
/** DiT context in seconds (dit_max_context_len). */
const DIT_CONTEXT_SECONDS = 30;
/** AR content budget (ar_max_content_len): reduced reference + source chunk ids. */
const AR_MAX_CONTENT = 1500;
/** Frames shared by consecutive chunks (overlap_frame_len). */
const OVERLAP_FRAMES = 16;

export class V2VoiceConverter {
  constructor(readonly config: V2WrapperConfig, readonly sessions: V2NetSessions) {}

  get sampleRate(): number { return this.config.sampleRate; }

  /** Opens the AR model's sessions now (they open on the first convert-style conversion otherwise). */
  async openAr(): Promise<void> { await this.sessions.ar(); }

  async convert(
    source: { samples: Float32Array; sampleRate: number },
    reference: { samples: Float32Array; sampleRate: number },
    options: V2ConvertOptions = {},
  ): Promise<V2ConvertResult> {
    const o = { ...V2_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof V2_DEFAULTS & V2ConvertOptions;
    validate(o);
    // anonymization drops the reference from the AR context (convert-style path) and from the CFM (both paths)
    const styled = o.convertStyle;
    const s = this.sessions;
    const sr = this.sampleRate;
    const mel = this.config.mel;
    const emit = o.onProgress ?? (() => {});
    const guard: GuardEvent[] = [];
    const report = (e: GuardEvent) => { guard.push(e); emit({ type: 'guard', ...e }); };
    const timings: Record<V2ConvertStage | 'total', number> = { content: 0, speaker: 0, length_regulator: 0, ar: 0, diffusion: 0, vocoder: 0, total: 0 };
    const t0 = now();
    const stage = async <T>(name: V2ConvertStage, fn: () => Promise<T>): Promise<T> => {
      o.signal?.throwIfAborted();
      emit({ type: 'stage', stage: name, status: 'start' });
      const st = now();
      const out = await fn();
      const ms = now() - st;
      timings[name] += ms;
      emit({ type: 'stage', stage: name, status: 'done', ms });
      return out;
    };
    const seed = o.noise && (o.draws || !styled) ? undefined : (o.seed ?? randomSeed());
    const noiseRng = seed === undefined ? undefined : new Rng(seed);
    const draws = o.draws ?? seededDraws((seed ?? 0) + 1);

    const src = toModelRate(source, sr, 'source');
    const ref = toModelRate(reference, sr, 'reference').subarray(0, sr * MAX_REFERENCE_SECONDS);
    const src16 = resampleSoxr(src, sr, 16000);
    const ref16 = resampleSoxr(ref, sr, 16000);
    const melOpts = { nFft: mel.nFft, numMels: mel.numMels, sampleRate: sr, hopSize: mel.hopSize, winSize: mel.winSize, fmin: mel.fmin, fmax: mel.fmax ?? undefined };
    const sm = melSpectrogram(src, melOpts);
    const rm = melSpectrogram(ref, melOpts);
    const sourceMel = tensor('float32', [1, sm.numMels, sm.frames], sm.data);
    const referenceMel = tensor('float32', [1, rm.numMels, rm.frames], rm.data);
    const S = sm.frames, P = rm.frames;

    const run = (x: NetSession) => x.run.bind(x);
    const extractors = styled ? [run(s.astralWide), run(s.astralNarrow)] : [run(s.astralWide)];
    const [[sourceWide, sourceNarrow], [referenceWide, referenceNarrow]] = await stage('content', async () => [
      await astralTokens(run(s.hubert), extractors, src16, (window, windows) => emit({ type: 'content', window: window + 1, windows })),
      await astralTokens(run(s.hubert), extractors, ref16),
    ]);
    const style = await stage('speaker', async () => {
      const fb = kaldiFbank(ref16);
      const feat = tensor('float32', [1, fb.frames, fb.bins], meanNormalize(fb.data, fb.frames, fb.bins));
      return (await s.speaker.run({ feat })).embedding as Tensor<'float32'>;
    });
    const regulate = (ids: Tensor<'int64'>, frames: number) => stage('length_regulator', async () =>
      (await s.lengthRegulator.run({ tokens: ids, ylens: tensor('int64', [1], BigInt64Array.of(BigInt(frames))) })).cond as Tensor<'float32'>);
    const promptCondition = await regulate(referenceWide, P);

    const chunks: V2Intermediates['chunks'] = [];
    const joiner = new StreamJoiner(OVERLAP_FRAMES * this.config.hopSize);
    const D = promptCondition.shape[2];
    const C = mel.numMels;
    const rates: [number, number] = [o.intelligibilityCfgRate, o.similarityCfgRate];
    const fallback = s.fp32Fallback;
    // The default path forces the CFM to fp32 (an autocast(float32) block in the reference).
    const forced = o.forceFp32Cfm ?? true;
    const defaultEstimator = async () => (forced && fallback.dit ? fallback.dit() : s.estimator);

    let chunkCount = 1; // DiT windows (default path) or AR chunks (style path), set below
    const synthesize = async (k: number, chunkCond: Tensor<'float32'>, estimator: () => Promise<NetSession>, twin?: () => Promise<NetSession>) => {
      const L = chunkCond.shape[1];
      const T = P + L;
      const mu = new Float32Array(T * D);
      mu.set(promptCondition.data);
      mu.set(chunkCond.data, P * D);
      const shape = [1, C, T];
      const z = o.noise ? o.noise(k, shape) : noiseRng!.normals(C * T);
      if (z.length !== C * T) throw new InvalidInputError(`noise for chunk ${k} has ${z.length} values, needs shape [${shape.join(', ')}]`);
      const solve = async (est: NetSession) => {
        let hazard: string | null = null;
        const x = await solveV2Cfm(est, {
          mu: tensor('float32', [1, T, D], mu), prompt: referenceMel, style,
          noise: tensor('float32', shape, Float32Array.from(z)), steps: o.diffusionSteps, cfgRates: rates, randomVoice: o.anonymizationOnly,
        }, (e) => {
          hazard ??= fp16Hazard(e.estimatorOut.data);
          emit({ type: 'diffusion', window: k + 1, windows: chunkCount, step: e.step, steps: e.steps });
        });
        return { x, hazard: hazard ?? fp16Hazard(x.data) };
      };
      const { x } = await stage('diffusion', async () => guarded('dit', k + 1, async () => solve(await estimator()),
        twin && (async () => solve(await twin())), (r) => r.hazard, report));
      const vcMel = dropFrames(x, P);
      const fbVoc = fallback.vocoder;
      const wave = await stage('vocoder', () => guarded('vocoder', k + 1, () => vocode(s.vocoder, vcMel),
        fbVoc && (async () => vocode(await fbVoc(), vcMel)), fp16Hazard, report));
      return { vcMel, wave };
    };

    let cond: Tensor<'float32'> | undefined;
    if (!styled) {
      cond = await regulate(sourceWide, S);
      const window = Math.floor(sr / this.config.hopSize) * DIT_CONTEXT_SECONDS - P;
      if (window <= OVERLAP_FRAMES) throw new InvalidInputError(`reference too long: ${P} mel frames leave no DiT window`);
      chunkCount = 0;
      for (let p = 0; ; p += window - OVERLAP_FRAMES) { chunkCount++; if (p + window >= S) break; }
      let processed = 0;
      for (let k = 0; processed < S; k++) {
        const end = Math.min(S, processed + window);
        const isLast = processed + window >= S;
        const chunkCond = tensor('float32', [1, end - processed, D], cond.data.slice(processed * D, end * D));
        const { vcMel, wave } = await synthesize(k, chunkCond, defaultEstimator, forced ? undefined : fallback.dit);
        chunks.push({ vcMel });
        joiner.push(wave, isLast);
        if (isLast) break;
        processed += vcMel.shape[2] - OVERLAP_FRAMES;
      }
    } else {
      const { generator: ar, conditionTable: table } = await stage('ar', () => s.ar());
      const srcRed = reduceDurations(ints(sourceNarrow));
      const refRed = reduceDurations(ints(referenceNarrow));
      const maxChunk = AR_MAX_CONTENT - refRed.length;
      if (maxChunk < 1) throw new InvalidInputError(`reference too long for the AR model: ${refRed.length} reduced ids (at most ${AR_MAX_CONTENT - 1})`);
      const nChunks = Math.ceil(srcRed.length / maxChunk);
      chunkCount = nChunks;
      const prompt = o.anonymizationOnly ? [] : ints(referenceWide);
      let drawOffset = 0;
      const Ns = sourceWide.shape[1];
      for (let k = 0, i = 0; i < srcRed.length; k++, i += maxChunk) {
        const isLast = i + maxChunk >= srcRed.length;
        const chunk = srcRed.slice(i, i + maxChunk);
        const ids = o.anonymizationOnly ? chunk : [...refRed, ...chunk];
        const gen = await stage('ar', () => ar.generate(arCondition(table, ids), prompt, {
          topP: o.topP, temperature: o.temperature, repetitionPenalty: o.repetitionPenalty, draws, drawOffset, signal: o.signal,
          onStep: (e) => { if (e.step % 25 === 0) emit({ type: 'ar', chunk: k + 1, chunks: nChunks, tokens: e.step + 1 }); },
        }));
        drawOffset += gen.steps;
        emit({ type: 'ar', chunk: k + 1, chunks: nChunks, tokens: gen.tokens.length });
        if (gen.tokens.length === 0) throw new InvalidInputError(`the AR model produced no tokens for chunk ${k + 1}`);
        // Python: int(source_mel_len / Ns * N * length_adjust), float64, truncated.
        const M = Math.trunc((S / Ns) * gen.tokens.length * o.lengthAdjust);
        if (M < 1) throw new InvalidInputError(`length adjust ${o.lengthAdjust} leaves no output frames`);
        const chunkCond = await regulate(tensor('int64', [1, gen.tokens.length], BigInt64Array.from(gen.tokens, (v) => BigInt(v))), M);
        const fbDit = fallback.dit;
        const { vcMel, wave } = await synthesize(k, chunkCond, async () => s.estimator, fbDit);
        chunks.push({ arTokens: gen.tokens, cond: chunkCond, vcMel });
        joiner.push(wave, isLast);
      }
    }
    timings.total = now() - t0;
    const audio = joiner.result();
    return {
      audio, sampleRate: sr, timings, rtf: timings.total / 1000 / (audio.length / sr), seed, guard,
      intermediates: {
        wave16kSource: src16, wave16kReference: ref16, sourceMel, referenceMel, sourceWide, referenceWide,
        sourceNarrow, referenceNarrow, style, promptCondition, cond, chunks,
      },
    };
  }
}

/**
 * _stream_wave_chunks: the first chunk keeps all but its last `overlap` samples (all of it when it is the
 * last); later chunks are cross-faded with the previous tail, then trimmed the same way.
 */
class StreamJoiner {
  private parts: Float32Array[] = [];
  private tail: Float32Array | null = null;
  constructor(private readonly overlap: number) {}

  push(wave: Float32Array, isLast: boolean): void {
    const body = isLast ? Float32Array.from(wave) : wave.slice(0, Math.max(0, wave.length - this.overlap));
    this.parts.push(this.tail ? crossfade(this.tail, body, this.overlap) : body);
    this.tail = isLast ? null : wave.slice(wave.length - this.overlap);
  }

  result(): Float32Array {
    const out = new Float32Array(this.parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of this.parts) { out.set(p, at); at += p.length; }
    return out;
  }
}

async function vocode(session: NetSession, mel: Tensor<'float32'>): Promise<Float32Array> {
  return ((await session.run({ mel })).waveform as Tensor<'float32'>).data;
}

function dropFrames(x: Tensor<'float32'>, P: number): Tensor<'float32'> {
  const [, C, T] = x.shape;
  const out = new Float32Array(C * (T - P));
  for (let c = 0; c < C; c++) out.set(x.data.subarray(c * T + P, (c + 1) * T), c * (T - P));
  return tensor('float32', [1, C, T - P], out);
}

function ints(t: Tensor<'int64'> | undefined): number[] {
  return t ? Array.from(t.data, Number) : [];
}

function validate(o: typeof V2_DEFAULTS & V2ConvertOptions): void {
  if (!Number.isInteger(o.diffusionSteps) || o.diffusionSteps < 1 || o.diffusionSteps > 1000) {
    throw new InvalidInputError(`diffusion steps must be an integer in 1..1000, got ${o.diffusionSteps}`);
  }
  if (!(o.lengthAdjust > 0 && o.lengthAdjust <= 10)) throw new InvalidInputError(`length adjust must be in (0, 10], got ${o.lengthAdjust}`);
  for (const [k, v] of [['intelligibility CFG rate', o.intelligibilityCfgRate], ['similarity CFG rate', o.similarityCfgRate]] as const) {
    if (!(v >= 0 && v <= 10)) throw new InvalidInputError(`${k} must be in [0, 10], got ${v}`);
  }
  if (!(o.topP > 0 && o.topP <= 1)) throw new InvalidInputError(`top-p must be in (0, 1], got ${o.topP}`);
  if (!(o.temperature > 0 && o.temperature <= 10)) throw new InvalidInputError(`temperature must be in (0, 10], got ${o.temperature}`);
  if (!(o.repetitionPenalty > 0 && o.repetitionPenalty <= 10)) throw new InvalidInputError(`repetition penalty must be in (0, 10], got ${o.repetitionPenalty}`);
}

function now(): number { return globalThis.performance.now(); }

function randomSeed(): number {
  const a = new Uint32Array(1);
  globalThis.crypto.getRandomValues(a);
  return a[0];
}

/**
 * Voice activity for the streaming converter: Silero VAD (an ONNX model; 512-sample chunks at 16 kHz with
 * 64 samples of context and a recurrent state) behind a block gate with a hangover, so the converter skips
 * inference for silent blocks without cutting the ends of words.
 */
import { StreamingSoxr } from '../dsp/soxr.ts';
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';

const VAD_SR = 16000;
const CHUNK = 512;
const CONTEXT = 64;

/** Silero VAD v5 (16 kHz): speech probability per 32 ms chunk, state carried across calls. */
export class SileroVad {
  private state = new Float32Array(2 * 128);
  private context = new Float32Array(CONTEXT);
  private pending = new Float32Array(0);
  private readonly sr = tensor('int64', [1], new BigInt64Array([BigInt(VAD_SR)]));

  constructor(private readonly session: NetSession) {}

  reset(): void {
    this.state = new Float32Array(2 * 128);
    this.context = new Float32Array(CONTEXT);
    this.pending = new Float32Array(0);
  }

  /** Speech probabilities of the complete 512-sample chunks in `samples16k` (the remainder waits for the next call). */
  async probabilities(samples16k: Float32Array): Promise<number[]> {
    const x = new Float32Array(this.pending.length + samples16k.length);
    x.set(this.pending);
    x.set(samples16k, this.pending.length);
    const probs: number[] = [];
    const input = new Float32Array(CONTEXT + CHUNK);
    let off = 0;
    for (; off + CHUNK <= x.length; off += CHUNK) {
      input.set(this.context);
      input.set(x.subarray(off, off + CHUNK), CONTEXT);
      const out = await this.session.run({
        input: tensor('float32', [1, CONTEXT + CHUNK], input.slice()),
        state: tensor('float32', [2, 1, 128], this.state),
        sr: this.sr,
      });
      const [probName, stateName] = this.session.outputNames;
      probs.push((out[probName] as Tensor<'float32'>).data[0]);
      this.state = Float32Array.from((out[stateName] as Tensor<'float32'>).data);
      this.context = input.slice(CHUNK);
    }
    this.pending = x.slice(off);
    return probs;
  }
}

export interface VadGateOptions {
  /** Rate of the blocks the gate sees. */
  sampleRate: number;
  /** A block with any chunk at or above this probability is speech (default 0.5). */
  threshold?: number;
  /** Blocks after the last speech chunk that still count as speech (default 0.3 s). */
  hangoverSeconds?: number;
}

/** Decides per stream block whether it holds speech (Silero probabilities, threshold, hangover). */
export class VoiceActivityGate {
  private readonly resampler: StreamingSoxr | undefined;
  private readonly threshold: number;
  private readonly hangover: number;
  private sinceSpeech = Infinity;
  /** Last block's highest chunk probability (for meters and logs). */
  lastProbability = 0;

  constructor(private readonly vad: SileroVad, opts: VadGateOptions) {
    this.resampler = opts.sampleRate === VAD_SR ? undefined : new StreamingSoxr(opts.sampleRate, VAD_SR);
    this.threshold = opts.threshold ?? 0.5;
    this.hangover = opts.hangoverSeconds ?? 0.3;
    if (!(this.threshold > 0 && this.threshold < 1)) throw new RangeError(`VAD threshold must be in (0, 1), got ${this.threshold}`);
    if (!(this.hangover >= 0)) throw new RangeError(`VAD hangover must be >= 0 s, got ${this.hangover}`);
  }

  /** True when the block (or the hangover after the last speech) should be converted. */
  async speech(block: Float32Array, blockSeconds = block.length / (this.resampler?.fromRate ?? VAD_SR)): Promise<boolean> {
    const x = this.resampler ? this.resampler.push(block) : block;
    const probs = await this.vad.probabilities(x);
    this.lastProbability = probs.length ? Math.max(...probs) : 0;
    if (probs.some((p) => p >= this.threshold)) this.sinceSpeech = 0;
    else this.sinceSpeech += blockSeconds;
    return this.sinceSpeech <= this.hangover;
  }
}

/** Vocoders behind one interface: mel [1, mels, frames] -> waveform at the model rate. */
import type { NetSession } from '../runtime.ts';
import { type Tensor, sliceFrames, tensor } from '../tensor.ts';
import { Rng } from './random.ts';
import { contextWindows } from './windows.ts';

/** HiFT's random source draws for one call: harmonic phases [nb_harmonics + 1] and sine noise [nb_harmonics + 1, samples]. */
export interface VocoderDraws {
  phase: Float32Array;
  sineNoise: Float32Array;
}

/** A vocoder call's waveform, plus the F0 HiFT predicted when its graph reports it (Hz per mel frame). */
export interface VocoderOutput {
  waveform: Float32Array;
  f0?: Float32Array;
}

export interface Vocoder {
  synthesize(mel: Tensor<'float32'>): Promise<Float32Array>;
  /** Like synthesize, with the extra outputs; `draws` replaces a stochastic vocoder's random draws (HiFT). */
  run(mel: Tensor<'float32'>, draws?: VocoderDraws): Promise<VocoderOutput>;
}

/**
 * How GraphVocoder splits long mel inputs. BigVGAN's activations at the output rate dominate a long
 * conversion's memory (a 30 s DiT window peaked ~1.6 GB above a 10 s one), and every output sample only
 * depends on the mel frames within its receptive field (about ±35 frames for the official 22 kHz and
 * 44 kHz generators), so inputs longer than `maxFrames` run in pieces of at most `maxFrames` frames, each
 * with `contextFrames` of mel context on both sides whose samples are dropped. The pieces join to the
 * same waveform as one call (up to float rounding); the context costs ≤ 2 × contextFrames / maxFrames
 * extra vocoder time on long inputs only.
 */
export interface VocoderChunking {
  /** Longest mel input run in one call (default 1024 frames: 11.9 s at 22.05 kHz / hop 256 and 44.1 kHz / hop 512). */
  maxFrames?: number;
  /** Mel frames of context on each side of a piece (default 64). */
  contextFrames?: number;
}

/** BigVGAN: a plain mel -> waveform graph, run in pieces over long inputs (VocoderChunking). */
export class GraphVocoder implements Vocoder {
  private readonly maxFrames: number;
  private readonly contextFrames: number;

  constructor(private readonly session: NetSession, chunking: VocoderChunking = {}) {
    this.maxFrames = chunking.maxFrames ?? 1024;
    this.contextFrames = chunking.contextFrames ?? 64;
    if (!(this.maxFrames >= 1) || !(this.contextFrames >= 0)) throw new Error(`vocoder chunking needs maxFrames >= 1 and contextFrames >= 0 (got ${this.maxFrames}, ${this.contextFrames})`);
  }

  async synthesize(mel: Tensor<'float32'>): Promise<Float32Array> {
    return (await this.run(mel)).waveform;
  }

  async run(mel: Tensor<'float32'>): Promise<VocoderOutput> {
    const T = mel.shape[2];
    if (T <= this.maxFrames) return { waveform: await this.call(mel) };
    const pieces: Float32Array[] = [];
    for (const w of contextWindows(T, this.maxFrames, this.contextFrames)) {
      const wave = await this.call(sliceFrames(mel, w.from, w.to));
      const hop = wave.length / (w.to - w.from);
      pieces.push(wave.subarray((w.start - w.from) * hop, (w.end - w.from) * hop));
    }
    const out = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of pieces) { out.set(p, o); o += p.length; }
    return { waveform: out };
  }

  private async call(mel: Tensor<'float32'>): Promise<Float32Array> {
    const out = await this.session.run({ mel });
    return (out.waveform as Tensor<'float32'>).data;
  }
}

/**
 * HiFT: the neural source filter draws random harmonic phases and noise (torch.rand / randn in the
 * reference); here they come from a seeded generator (or the caller) and are fed to the graph, so runs
 * are reproducible.
 */
export class HiftVocoder implements Vocoder {
  private readonly rng: Rng;

  constructor(private readonly session: NetSession, readonly harmonics: number, readonly upsample: number, seed = 0) {
    this.rng = new Rng(seed);
  }

  async synthesize(mel: Tensor<'float32'>): Promise<Float32Array> {
    return (await this.run(mel)).waveform;
  }

  async run(mel: Tensor<'float32'>, draws?: VocoderDraws): Promise<VocoderOutput> {
    const frames = mel.shape[2];
    const h = this.harmonics + 1;
    const samples = frames * this.upsample;
    let phase = draws?.phase;
    let noise = draws?.sineNoise;
    if (!phase) {
      phase = new Float32Array(h);
      for (let i = 1; i < h; i++) phase[i] = (this.rng.uniform() * 2 - 1) * Math.PI; // harmonic 0 has phase 0
    }
    noise ??= this.rng.normals(h * samples);
    if (phase.length !== h || noise.length !== h * samples) {
      throw new Error(`HiFT draws: phase needs ${h} values and sine noise ${h} x ${samples}, got ${phase.length} and ${noise.length}`);
    }
    const out = await this.session.run({
      mel,
      phase_vec: tensor('float32', [1, h, 1], phase),
      sine_noise: tensor('float32', [1, h, samples], noise),
    });
    const f0 = out.f0 as Tensor<'float32'> | undefined;
    return { waveform: (out.waveform as Tensor<'float32'>).data, f0: f0?.data };
  }
}

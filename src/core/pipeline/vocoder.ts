/** Vocoders behind one interface: mel [1, mels, frames] -> waveform at the model rate. */
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';
import { Rng } from './random.ts';

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

/** BigVGAN: a plain mel -> waveform graph. */
export class GraphVocoder implements Vocoder {
  constructor(private readonly session: NetSession) {}

  async synthesize(mel: Tensor<'float32'>): Promise<Float32Array> {
    return (await this.run(mel)).waveform;
  }

  async run(mel: Tensor<'float32'>): Promise<VocoderOutput> {
    const out = await this.session.run({ mel });
    return { waveform: (out.waveform as Tensor<'float32'>).data };
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

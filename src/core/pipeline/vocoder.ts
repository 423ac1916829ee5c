/** Vocoders behind one interface: mel [1, mels, frames] -> waveform at the model rate. */
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';
import { Rng } from './random.ts';

export interface Vocoder {
  synthesize(mel: Tensor<'float32'>): Promise<Float32Array>;
}

/** BigVGAN: a plain mel -> waveform graph. */
export class GraphVocoder implements Vocoder {
  constructor(private readonly session: NetSession) {}

  async synthesize(mel: Tensor<'float32'>): Promise<Float32Array> {
    const out = await this.session.run({ mel });
    return (out.waveform as Tensor<'float32'>).data;
  }
}

/**
 * HiFT: the neural source filter draws random harmonic phases and noise (torch.rand / randn in the
 * reference); here they come from a seeded generator and are fed to the graph, so runs are reproducible.
 */
export class HiftVocoder implements Vocoder {
  private readonly rng: Rng;

  constructor(private readonly session: NetSession, private readonly harmonics: number, private readonly upsample: number, seed = 0) {
    this.rng = new Rng(seed);
  }

  async synthesize(mel: Tensor<'float32'>): Promise<Float32Array> {
    const frames = mel.shape[2];
    const h = this.harmonics + 1;
    const phase = new Float32Array(h);
    for (let i = 1; i < h; i++) phase[i] = (this.rng.uniform() * 2 - 1) * Math.PI; // harmonic 0 has phase 0
    const noise = this.rng.normals(h * frames * this.upsample);
    const out = await this.session.run({
      mel,
      phase_vec: tensor('float32', [1, h, 1], phase),
      sine_noise: tensor('float32', [1, h, frames * this.upsample], noise),
    });
    return (out.waveform as Tensor<'float32'>).data;
  }
}

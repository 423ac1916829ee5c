/**
 * Injected initial noise: a safetensors file with one tensor per DiT window, `z.0, z.1, ...`, each
 * [1, mels, prompt + window frames] — what CFM.inference draws with torch.randn — so a reference run
 * can be reproduced exactly.
 */
import { readSafetensors } from '../checkpoint/safetensors.ts';
import { InvalidInputError } from '../errors.ts';
import { toFloat32 } from '../tensor.ts';

export type NoiseSource = (window: number, shape: readonly number[]) => Float32Array;

export function noiseFromSafetensors(bytes: Uint8Array, file: string): NoiseSource {
  const { tensors } = readSafetensors(bytes, file);
  const names = [...tensors.keys()].filter((k) => /^z\.\d+$/.test(k));
  if (names.length === 0) throw new InvalidInputError(`${file}: no noise tensors z.0, z.1, ... found (has: ${[...tensors.keys()].slice(0, 8).join(', ') || 'nothing'})`);
  return (window, shape) => {
    const t = tensors.get(`z.${window}`);
    if (!t) throw new InvalidInputError(`${file}: no tensor 'z.${window}' for DiT window ${window} (the file has ${names.join(', ')})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new InvalidInputError(`${file}: 'z.${window}' has shape [${t.shape.join(', ')}], DiT window ${window} needs [${shape.join(', ')}]`);
    }
    return toFloat32(t).data;
  };
}

/** Injected random draws of a stream: CFM noise `z.k` and HiFT draws `hift.phase.k` + `hift.sine_noise[.k]` per block. */
export interface StreamNoise {
  noise: (block: number, shape: readonly number[]) => Float32Array;
  vocoderDraws?: (block: number, samples: number) => { phase: Float32Array; sineNoise: Float32Array };
}

/**
 * Reads a stream noise file (the golden stream cases' noise.safetensors layout): `z.<block>` [1, mels, P + T];
 * optionally `hift.phase.<block>` [1, H, 1] with `hift.sine_noise.<block>` or one shared `hift.sine_noise`
 * [1, H, samples]. A block the file has no draws for is an error naming the block.
 */
export function streamNoiseFromSafetensors(bytes: Uint8Array, file: string): StreamNoise {
  const { tensors } = readSafetensors(bytes, file);
  const noise = noiseFromSafetensors(bytes, file);
  const hasHift = [...tensors.keys()].some((k) => k.startsWith('hift.phase.'));
  const get = (name: string, what: string) => {
    const t = tensors.get(name);
    if (!t) throw new InvalidInputError(`${file}: no tensor '${name}' for ${what}`);
    return toFloat32(t).data;
  };
  return {
    noise: (block, shape) => noise(block, shape),
    vocoderDraws: hasHift
      ? (block, samples) => {
        const phase = get(`hift.phase.${block}`, `the HiFT phases of block ${block}`);
        const sineNoise = tensors.has(`hift.sine_noise.${block}`) ? get(`hift.sine_noise.${block}`, '') : get('hift.sine_noise', `the HiFT noise of block ${block}`);
        if (sineNoise.length % samples !== 0 || sineNoise.length / samples !== phase.length) {
          throw new InvalidInputError(`${file}: HiFT noise of block ${block} has ${sineNoise.length} values, needs ${phase.length} x ${samples}`);
        }
        return { phase, sineNoise };
      }
      : undefined,
  };
}

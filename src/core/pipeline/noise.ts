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

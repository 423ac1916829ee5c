/**
 * What a network builder needs from a checkpoint: float32 tensors by key, with a shape check that
 * names the key. The checkpoint module's WeightStore implements it (folding weight norm on the way).
 */
import type { Tensor } from '../tensor.ts';

export interface Weights {
  /** The tensor at `key` as float32; throws ModelMismatchError when missing or (with `shape`) mis-shaped. */
  get(key: string, shape?: readonly number[]): Tensor<'float32'>;
  has(key: string): boolean;
  /** Keys starting with `prefix`. */
  keys(prefix?: string): string[];
}

/** A view of `w` under a key prefix, e.g. `scoped(w, 'estimator.')`. */
export function scoped(w: Weights, prefix: string): Weights {
  return {
    get: (k, s) => w.get(prefix + k, s),
    has: (k) => w.has(prefix + k),
    keys: (p = '') => w.keys(prefix + p).map((k) => k.slice(prefix.length)),
  };
}

/** Seeded random full-size weights for benchmarks and builder tests (no Node imports: bundled into browser benches too). */
import type { Weights } from '../../src/core/nets/weights.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';

/** xorshift-based uniform in [-0.5, 0.5), seeded. */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296 - 0.5;
  };
}

/**
 * Weights with the given shapes filled with seeded random values scaled by 1/sqrt(fan_in), so a deep
 * full-size network stays finite; 1-D tensors named like norm scales get 1 + noise. Shapes are checked
 * like a real store does.
 */
export function randomWeights(shapes: Map<string, readonly number[]>, seed = 1): Weights {
  const rnd = seededUniform(seed);
  const cache = new Map<string, Tensor<'float32'>>();
  return {
    get(key, shape) {
      const s = shapes.get(key);
      if (!s) throw new Error(`randomWeights: no key ${key}`);
      if (shape && shape.join(',') !== s.join(',')) throw new Error(`randomWeights: ${key} is [${s}], asked [${shape}]`);
      let t = cache.get(key);
      if (!t) {
        const n = s.reduce((a, b) => a * b, 1);
        const fanIn = s.length > 1 ? s.slice(1).reduce((a, b) => a * b, 1) : 1;
        const data = new Float32Array(n);
        const amp = s.length > 1 ? Math.sqrt(3 / fanIn) * 2 : 0.2;
        const base = s.length === 1 && /(weight|gamma|scale|alpha|beta|var)$/.test(key) ? 1 : 0;
        for (let i = 0; i < n; i++) data[i] = base + amp * rnd();
        t = tensor('float32', s, data);
        cache.set(key, t);
      }
      return t;
    },
    has: (key) => shapes.has(key),
    keys: (prefix = '') => [...shapes.keys()].filter((k) => k.startsWith(prefix)),
  };
}

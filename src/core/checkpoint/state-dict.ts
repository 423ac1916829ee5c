/**
 * State-dict helpers for the network builders: format detection (safetensors vs torch zip), flattening
 * nested checkpoint dicts to `a.b.c` keys, key renaming, weight-norm folding, and WeightStore, the
 * typed accessor that checks names and shapes and always hands out float32.
 */
import { CheckpointError, ModelMismatchError } from '../errors.ts';
import { type Tensor, numel, tensor, toFloat32 } from '../tensor.ts';
import { describe } from './pickle.ts';
import { readSafetensors } from './safetensors.ts';
import { type TorchReadOptions, isLegacyTorch, readTorchCheckpoint } from './torch.ts';
import { isZip } from './zip.ts';

/** Nesting deeper than this is refused while flattening (real checkpoints nest 2-4 levels). */
const MAX_FLATTEN_DEPTH = 64;

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && ArrayBuffer.isView((v as Tensor).data)
    && typeof (v as Tensor).dtype === 'string' && Array.isArray((v as Tensor).shape);
}

/**
 * Every tensor of a nested checkpoint value (Maps, plain objects and arrays), keyed by the path joined
 * with '.'; non-tensor leaves (epoch counters, strings, None) are skipped.
 *
 * A pickle can share one container under many keys through its memo, so a 1 KB file can describe a
 * DAG with 2^40 paths. A container is therefore walked once: reached again, it is skipped when it holds
 * no tensor (it would add nothing) and refused when it does (a state dict never holds one module twice),
 * which keeps the work linear in the number of distinct containers.
 */
export function flattenStateDict(obj: unknown, prefix = '', file = 'checkpoint'): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const ancestors = new Set<unknown>();
  const seenAt = new Map<object, string>(); // container -> the key it was first reached at
  const holdsTensor = new Map<object, boolean>();
  const childrenOf = (v: object): Iterable<[unknown, unknown]> | undefined => {
    if (v instanceof Map) return v.entries();
    if (Array.isArray(v)) return v.entries();
    if (Object.getPrototypeOf(v) === Object.prototype) return Object.entries(v);
    return undefined;
  };
  // memoised, so linear in the distinct containers; a cycle counts as tensor-free here and is refused by visit()
  const hasTensor = (v: unknown, depth: number): boolean => {
    if (isTensor(v)) return true;
    if (typeof v !== 'object' || v === null) return false;
    const known = holdsTensor.get(v);
    if (known !== undefined) return known;
    const children = childrenOf(v);
    if (!children || depth >= MAX_FLATTEN_DEPTH) return false;
    holdsTensor.set(v, false);
    let found = false;
    for (const [, child] of children) if (hasTensor(child, depth + 1)) { found = true; break; }
    holdsTensor.set(v, found);
    return found;
  };
  const visit = (v: unknown, key: string, depth: number) => {
    if (isTensor(v)) {
      if (out.has(key)) throw new CheckpointError(file, `key '${key}' occurs twice after flattening`);
      out.set(key, v);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const children = childrenOf(v);
    if (!children) return;
    if (depth >= MAX_FLATTEN_DEPTH) throw new CheckpointError(file, `nesting deeper than ${MAX_FLATTEN_DEPTH} levels at '${key}'`);
    if (ancestors.has(v)) throw new CheckpointError(file, `'${key}' contains itself`);
    const first = seenAt.get(v);
    if (first !== undefined) {
      if (!hasTensor(v, depth)) return;
      throw new CheckpointError(file, `the ${describe(v)} at '${key || '(top level)'}' is the same object as the one at '${first || '(top level)'}' (shared through the pickle memo); a state dict holds each module's tensors once`);
    }
    seenAt.set(v, key);
    ancestors.add(v);
    for (const [k, child] of children) visit(child, key ? `${key}.${String(k)}` : String(k), depth + 1);
    ancestors.delete(v);
  };
  visit(obj, prefix.endsWith('.') ? prefix.slice(0, -1) : prefix, 0);
  return out;
}

/** Which checkpoint format `bytes` holds, judged by its first bytes. */
export function detectCheckpointFormat(bytes: Uint8Array): 'torch-zip' | 'torch-legacy' | 'safetensors' | 'unknown' {
  if (isZip(bytes)) return 'torch-zip';
  if (isLegacyTorch(bytes)) return 'torch-legacy';
  // safetensors: u64 header length, then a JSON object
  if (bytes.byteLength >= 9 && bytes[8] === 0x7b && bytes[6] === 0 && bytes[7] === 0) return 'safetensors';
  return 'unknown';
}

/**
 * Reads a safetensors file or a torch.save zip (auto-detected by magic) as a flat `key -> Tensor` map.
 * Nested torch dicts are flattened with '.', so `{'net': {'cfm': sd}}` gives `net.cfm.<key>`.
 */
export function loadStateDict(bytes: Uint8Array, file: string, options?: TorchReadOptions): Map<string, Tensor> {
  switch (detectCheckpointFormat(bytes)) {
    case 'safetensors': return readSafetensors(bytes, file).tensors;
    case 'torch-zip': case 'torch-legacy': return flattenStateDict(readTorchCheckpoint(bytes, file, options), '', file);
    default: {
      const what = bytes.byteLength === 0 ? 'empty file (0 bytes)' : `unrecognised format (starts with ${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`;
      throw new CheckpointError(file, `${what}; accepted: safetensors (.safetensors) and torch.save zip archives from PyTorch >= 1.6 (.pt/.pth/.bin/.ckpt)`);
    }
  }
}

/** The entries of `sd` with `prefix` prepended to every key. */
export function withPrefix(sd: ReadonlyMap<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of sd) out.set(prefix + k, v);
  return out;
}

/**
 * One sub-model of a Seed-VC training checkpoint: the state dict under `net.<part>.` (DataParallel's
 * `module.` dropped), keys relative to it; an empty map when the checkpoint has no such part.
 */
export function seedVcNetPart(flat: ReadonlyMap<string, Tensor>, part: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of flat) {
    const m = /^(?:net\.)?([^.]+)\.(?:module\.)?(.*)$/.exec(k);
    if (m && m[1] === part) out.set(m[2], v);
  }
  return out;
}

/**
 * The entries of `sd` whose key starts with `prefix`, with the prefix removed (e.g. `wav2vec2.`,
 * `net.cfm.`, DataParallel's `module.`); other entries are dropped unless `keepOthers` is set.
 */
export function stripPrefix(sd: ReadonlyMap<string, Tensor>, prefix: string, keepOthers = false): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of sd) {
    if (k.startsWith(prefix)) setUnique(out, k.slice(prefix.length), v, k);
    else if (keepOthers) setUnique(out, k, v, k);
  }
  return out;
}

/**
 * Renames key prefixes: the first rule whose `from` starts a key replaces it with `to`
 * (e.g. `{'xvector.dense.': 'dense.'}`); unmatched keys pass unchanged. Two keys landing on one name throw.
 */
export function renameKeys(
  sd: ReadonlyMap<string, Tensor>,
  rules: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>,
): Map<string, Tensor> {
  const list = Array.isArray(rules) ? rules as ReadonlyArray<readonly [string, string]> : Object.entries(rules);
  const out = new Map<string, Tensor>();
  for (const [k, v] of sd) {
    const rule = list.find(([from]) => k.startsWith(from));
    setUnique(out, rule ? rule[1] + k.slice(rule[0].length) : k, v, k);
  }
  return out;
}

function setUnique(out: Map<string, Tensor>, key: string, v: Tensor, original: string): void {
  if (out.has(key)) throw new ModelMismatchError(`renaming '${original}' to '${key}' collides with an existing key`);
  out.set(key, v);
}

/**
 * Folds a weight-norm pair: w = g * v / ||v||, the L2 norm taken over every axis of v except `dim`
 * (null: over all axes, torch's dim=None), no epsilon, accumulated in float64; returns float32.
 * dim 0 covers Linear / Conv (per output channel) and ConvTranspose (per INPUT channel, its axis 0);
 * wav2vec2's positional conv uses dim 2 with g of shape [1, 1, K].
 */
export function foldWeightNorm(g: Tensor, v: Tensor, dim: number | null = 0): Tensor<'float32'> {
  const shape = v.shape;
  const rank = shape.length;
  if (dim !== null && (!Number.isInteger(dim) || dim < 0 || dim >= rank)) {
    throw new ModelMismatchError(`foldWeightNorm: dim ${dim} is not an axis of v [${shape.join(', ')}] (use null for the norm over all axes)`);
  }
  const n = dim === null ? 1 : shape[dim];
  if (numel(g.shape) !== n || (g.shape.length > 0 && g.shape.length !== rank) || g.shape.some((d, i) => d !== (i === dim ? n : 1))) {
    throw new ModelMismatchError(`foldWeightNorm: g has shape [${g.shape.join(', ')}], expected ${dim === null ? '[] or all ones' : `[${shape.map((d, i) => (i === dim ? d : 1)).join(', ')}]`} for v [${shape.join(', ')}] and dim ${dim}`);
  }
  const vv = v.dtype === 'float64' ? (v.data as Float64Array) : toFloat32(v).data;
  const gg = g.dtype === 'float64' ? (g.data as Float64Array) : toFloat32(g).data;
  // v viewed as [outer, n, inner] with n the kept axis
  const outer = dim === null ? 1 : numel(shape.slice(0, dim));
  const inner = dim === null ? vv.length : numel(shape.slice(dim + 1));
  const sums = new Float64Array(n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      const base = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) s += vv[base + i] * vv[base + i];
      sums[j] += s;
    }
  }
  const scale = new Float64Array(n);
  for (let j = 0; j < n; j++) scale[j] = gg[j] / Math.sqrt(sums[j]);
  const out = new Float32Array(vv.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      const c = scale[j];
      for (let i = 0; i < inner; i++) out[base + i] = c * vv[base + i];
    }
  }
  return tensor('float32', shape, out);
}

export interface GetOptions {
  /**
   * Axis kept by the weight-norm fold when `<name>.weight` is stored as a g/v pair. Default: inferred
   * from g's shape (the one axis where g matches v and is not 1), else 0.
   */
  weightNormDim?: number | null;
}

/** Weight-norm spellings: legacy `weight_g`/`weight_v` and torch.nn.utils.parametrizations `original0/1`. */
const WEIGHT_NORM_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['weight_g', 'weight_v'],
  ['parametrizations.weight.original0', 'parametrizations.weight.original1'],
];

/**
 * Named weights with checked access: `get` returns float32 (converting f16/bf16/f64/ints), checks the
 * shape, folds weight norm transparently, and throws ModelMismatchError naming the key, the shapes and
 * the closest existing keys.
 */
export class WeightStore {
  private readonly tensors: ReadonlyMap<string, Tensor>;
  /** Folded weight-norm pairs and dtype conversions, computed once (validation and building both read them). */
  private readonly derived = new Map<string, Tensor<'float32'>>();

  /** Wraps a flat `key -> Tensor` map; `source` names it in error messages (usually the file). */
  constructor(tensors: ReadonlyMap<string, Tensor>, readonly source = 'weights') {
    this.tensors = tensors;
  }

  /** Loads a safetensors or torch zip checkpoint (see loadStateDict). */
  static fromBytes(bytes: Uint8Array, file: string, options?: TorchReadOptions): WeightStore {
    return new WeightStore(loadStateDict(bytes, file, options), file);
  }

  /** Number of stored tensors. */
  get size(): number { return this.tensors.size; }

  /** True if `get(key)` would find a tensor (stored directly, or as a weight-norm pair for `<name>.weight`). */
  has(key: string): boolean {
    return this.tensors.has(key) || this.weightNormPair(key) !== undefined;
  }

  /** Stored keys starting with `prefix`, in file order. */
  keys(prefix = ''): string[] {
    const out: string[] = [];
    for (const k of this.tensors.keys()) if (k.startsWith(prefix)) out.push(k);
    return out;
  }

  /** The stored tensor as it is in the file (original dtype), or undefined. */
  raw(key: string): Tensor | undefined {
    return this.tensors.get(key);
  }

  /** A store over the keys under `prefix`, with the prefix removed. */
  scoped(prefix: string): WeightStore {
    return new WeightStore(stripPrefix(this.tensors, prefix), `${this.source}[${prefix}*]`);
  }

  /**
   * The float32 tensor `key`; with `expectedShape` (-1 = any size on that axis) the shape is checked.
   * `<name>.weight` missing but `<name>.weight_g/_v` (or `parametrizations.weight.original0/1`) present -> folded.
   */
  get(key: string, expectedShape?: readonly number[], options: GetOptions = {}): Tensor<'float32'> {
    let t: Tensor<'float32'>;
    const stored = this.tensors.get(key);
    const memoKey = options.weightNormDim === undefined ? key : `${key}|${options.weightNormDim}`;
    const memo = this.derived.get(memoKey);
    if (memo) {
      t = memo;
    } else if (stored) {
      t = toFloat32(stored);
      if (t !== stored) this.derived.set(memoKey, t);
    } else {
      const pair = this.weightNormPair(key);
      if (!pair) throw new ModelMismatchError(`${this.source}: missing weight '${key}'${this.suggest(key)}`);
      const [g, v] = pair;
      const dim = options.weightNormDim !== undefined ? options.weightNormDim : inferWeightNormDim(g, v);
      try {
        t = foldWeightNorm(g, v, dim);
      } catch (err) {
        throw new ModelMismatchError(`${this.source}: cannot fold the weight norm of '${key}': ${(err as Error).message}`);
      }
      this.derived.set(memoKey, t);
    }
    if (expectedShape && !shapeMatches(t.shape, expectedShape)) {
      throw new ModelMismatchError(`${this.source}: weight '${key}' has shape [${t.shape.join(', ')}], expected [${expectedShape.join(', ')}]`);
    }
    return t;
  }

  private weightNormPair(key: string): [Tensor, Tensor] | undefined {
    if (key !== 'weight' && !key.endsWith('.weight')) return undefined;
    const base = key.slice(0, key.length - 'weight'.length);
    for (const [gName, vName] of WEIGHT_NORM_PAIRS) {
      const g = this.tensors.get(base + gName);
      const v = this.tensors.get(base + vName);
      if (g && v) return [g, v];
    }
    return undefined;
  }

  private suggest(key: string): string {
    const scored: [number, string][] = [];
    const limit = Math.max(2, Math.floor(key.length / 3));
    for (const k of this.tensors.keys()) {
      // a key that differs only by a leading prefix (module., xvector., wav2vec2.) is the likeliest intent
      if (k.endsWith(`.${key}`) || key.endsWith(`.${k}`)) { scored.push([0, k]); continue; }
      const d = editDistance(key, k, limit);
      if (d <= limit && d < Math.min(key.length, k.length)) scored.push([d, k]);
    }
    scored.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    if (scored.length) return ` (close matches: ${scored.slice(0, 3).map(([, k]) => `'${k}'`).join(', ')})`;
    return this.tensors.size ? ` (${this.tensors.size} keys, e.g. '${this.tensors.keys().next().value}')` : ' (the store is empty)';
  }
}

/** The weight-norm axis implied by g's shape: the one axis where g equals v's size and is not 1; default 0. */
function inferWeightNormDim(g: Tensor, v: Tensor): number | null {
  if (g.shape.length === 0) return null;
  const axes = g.shape.flatMap((d, i) => (d !== 1 && d === v.shape[i] ? [i] : []));
  return axes.length === 1 ? axes[0] : 0;
}

function shapeMatches(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && expected.every((d, i) => d === -1 || d === actual[i]);
}

/** Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (cur[j] < best) best = cur[j];
    }
    if (best > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** Verifies that every expected parameter exists with the expected shape; lists every problem at once. */
export function checkShapes(w: WeightStore, expected: ReadonlyMap<string, readonly number[]>, file: string, prefix = ''): void {
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    if (!w.has(key)) { problems.push(`missing '${prefix}${key}' [${shape.join(', ')}]`); continue; }
    const got = w.get(key).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      problems.push(`'${prefix}${key}' has shape [${got.join(', ')}], the config needs [${shape.join(', ')}]`);
    }
  }
  if (problems.length) {
    const more = problems.length > 8 ? ` (and ${problems.length - 8} more)` : '';
    throw new ModelMismatchError(`${file} does not match its config: ${problems.slice(0, 8).join('; ')}${more}`);
  }
}

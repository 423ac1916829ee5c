/**
 * Seed-VC v2's autoregressive style converter (modules/v2/ar.py: NaiveWrapper around a Llama-like
 * NaiveTransformer) as two ONNX graphs that share a KV cache:
 *
 *   prefill  [sep, cond, sep, embeddings(prompt_ids)] -> logits of the last position + every layer's K/V
 *   decode   one token -> logits, with the cache kept between steps in one of two layouts:
 *     'past-present'  inputs past_{k,v}.<layer> [1, kvH, P, hd], outputs present_{k,v}.<layer> (P + 1 slots):
 *                     ORT's outputs are fed straight back as the next step's inputs;
 *     'fixed'         inputs cache_{k,v}.<layer> [1, kvH, capacity, hd] that the caller keeps (slots >= `slot`
 *                     masked), outputs only this step's new_{k,v}.<layer> [1, kvH, 1, hd], which the caller
 *                     writes into the cache at `slot`.
 *
 * Module paths mirror the checkpoint keys under `net.ar.`: sep_token_emb, model.embeddings,
 * model.layers[i] (attention_norm, attention.wqkv / wo, ffn_norm, feed_forward.w1 / w2 / w3), model.norm,
 * model.output (the separate output Linear: forward_generate never uses the tied embedding).
 *
 * Maths the reference fixes: RMSNorm x * rsqrt(mean(x^2) + eps) in fp32; wqkv rows split [dim, kv, kv];
 * GQA where kv head j serves query heads j*rep .. j*rep+rep-1 (repeat_interleave); RoPE on adjacent pairs
 * with a bfloat16 cos/sin table (values rounded to bf16, products in fp32); RoPE positions restart at 0
 * for the second separator (`position` inputs), while cache slots stay absolute.
 */
import { WeightStore, checkShapes, loadStateDict, seedVcNetPart } from '../../checkpoint/index.ts';
import { ModelMismatchError } from '../../errors.ts';
import { GraphBuilder, type Value } from '../../onnx/graph.ts';
import { Nn, type Precision } from '../../onnx/nn.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import type { Weights } from '../weights.ts';

export interface ArConfig {
  dim: number;
  nHead: number;
  /** Key/value heads (GQA); equals nHead without grouping. */
  nLocalHeads: number;
  nLayer: number;
  intermediateSize: number;
  /** Wide codebook + 1 end token (2049). */
  vocabSize: number;
  ropeBase: number;
  normEps: number;
  /** Rows of the RoPE table (BaseModelArgs.max_seq_len). */
  maxSeqLen: number;
}

export type ArCacheLayout = 'past-present' | 'fixed';

export interface ArBuildOptions {
  precision?: Precision;
  cache?: ArCacheLayout;
}

/** The official NaiveModelArgs defaults completed the way __post_init__ does (head_dim = dim / n_head). */
export function arConfigFromArgs(a: Record<string, unknown>): ArConfig {
  const num = (k: string, d?: number): number => {
    const v = a[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`AR config: '${k}' must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  const dim = num('dim', 4096);
  const nHead = num('n_head', 32);
  const nLocal = num('n_local_heads', -1);
  const inter = a.intermediate_size ?? null;
  const cfg: ArConfig = {
    dim,
    nHead,
    nLocalHeads: nLocal === -1 ? nHead : nLocal,
    nLayer: num('n_layer', 32),
    intermediateSize: inter === null ? findMultiple(Math.trunc((2 * 4 * dim) / 3), 256) : num('intermediate_size'),
    vocabSize: num('vocab_size', 32000),
    ropeBase: num('rope_base', 10000),
    normEps: num('norm_eps', 1e-5),
    maxSeqLen: num('max_seq_len', 4096),
  };
  if (dim % nHead !== 0 || nHead % cfg.nLocalHeads !== 0) {
    throw new Error(`AR config: dim ${dim}, n_head ${nHead}, n_local_heads ${cfg.nLocalHeads} do not divide`);
  }
  return cfg;
}

/**
 * The AR part of a parsed v2 wrapper YAML (configs/v2/vc_wrapper.yaml): `ar.model.config` and the
 * codebook size of `ar_length_regulator` (the narrow ids).
 */
export function arConfigFromWrapper(doc: unknown): { ar: ArConfig; conditionCodebook: number } {
  const node = (o: unknown, path: string[]): Record<string, unknown> => {
    let cur = o;
    for (const k of path) {
      if (!cur || typeof cur !== 'object' || !(k in cur)) throw new ModelMismatchError(`v2 config: missing '${path.join('.')}'`);
      cur = (cur as Record<string, unknown>)[k];
    }
    if (!cur || typeof cur !== 'object') throw new ModelMismatchError(`v2 config: '${path.join('.')}' is not a mapping`);
    return cur as Record<string, unknown>;
  };
  const ar = arConfigFromArgs(node(doc, ['ar', 'model', 'config']));
  const lr = node(doc, ['ar_length_regulator']);
  const codebook = lr.codebook_size;
  if (typeof codebook !== 'number') throw new ModelMismatchError(`v2 config: ar_length_regulator.codebook_size must be a number`);
  if (lr.channels !== undefined && lr.channels !== ar.dim) {
    throw new ModelMismatchError(`v2 config: ar_length_regulator.channels ${String(lr.channels)} != ar dim ${ar.dim}`);
  }
  return { ar, conditionCodebook: codebook };
}

function findMultiple(n: number, k: number): number {
  return n % k === 0 ? n : n + k - (n % k);
}

export const arHeadDim = (c: ArConfig): number => c.dim / c.nHead;
/** Id of the end token (the last row of the vocabulary). */
export const arEndToken = (c: ArConfig): number => c.vocabSize - 1;

/** Parameter shapes by key (relative to `net.ar.`). */
export function arParamShapes(c: ArConfig): Map<string, number[]> {
  const hd = arHeadDim(c);
  const kv = c.nLocalHeads * hd;
  const m = new Map<string, number[]>([
    ['sep_token_emb', [c.dim]],
    ['model.embeddings.weight', [c.vocabSize, c.dim]],
    ['model.norm.weight', [c.dim]],
    ['model.output.weight', [c.vocabSize, c.dim]],
  ]);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}attention.wqkv.weight`, [c.dim + 2 * kv, c.dim]);
    m.set(`${p}attention.wo.weight`, [c.dim, c.dim]);
    m.set(`${p}feed_forward.w1.weight`, [c.intermediateSize, c.dim]);
    m.set(`${p}feed_forward.w3.weight`, [c.intermediateSize, c.dim]);
    m.set(`${p}feed_forward.w2.weight`, [c.dim, c.intermediateSize]);
    m.set(`${p}attention_norm.weight`, [c.dim]);
    m.set(`${p}ffn_norm.weight`, [c.dim]);
  }
  return m;
}

export interface ArCheckpoint {
  /** NaiveWrapper weights (keys relative to `net.ar.`). */
  ar: WeightStore;
  /** The AR length regulator's embedding table [codebook, dim] (sampling_ratios [] -> embedding only). */
  conditionTable: Tensor<'float32'>;
}

/**
 * `v2/ar_base.pth`: {'net': {'ar': NaiveWrapper state_dict, 'length_regulator': InterpolateRegulator
 * state_dict}}, `module.` prefixes dropped; every parameter checked against the config's shapes.
 */
export function loadArCheckpoint(bytes: Uint8Array, file: string, c: ArConfig, conditionCodebook: number): ArCheckpoint {
  const flat = loadStateDict(bytes, file);
  const part = (name: string) => seedVcNetPart(flat, name);
  const ar = part('ar');
  const lr = part('length_regulator');
  if (ar.size === 0 || lr.size === 0) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: not a Seed-VC v2 AR checkpoint: expected keys under net.ar.* and net.length_regulator.* (found e.g. ${sample})`);
  }
  const store = new WeightStore(ar, `${file} [ar]`);
  checkShapes(store, arParamShapes(c), file, 'net.ar.');
  const lrStore = new WeightStore(lr, `${file} [length_regulator]`);
  checkShapes(lrStore, new Map([['embedding.weight', [conditionCodebook, c.dim]]]), file, 'net.length_regulator.');
  return { ar: store, conditionTable: lrStore.get('embedding.weight') };
}

/** The AR length regulator: embedding rows of the narrow ids, [1, n, dim]. */
export function arCondition(table: Tensor<'float32'>, ids: ArrayLike<number>): Tensor<'float32'> {
  const [rows, dim] = table.shape;
  const out = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= rows) throw new ModelMismatchError(`AR condition id ${id} is outside the ${rows}-entry codebook`);
    out.set(table.data.subarray(id * dim, (id + 1) * dim), i * dim);
  }
  return tensor('float32', [1, ids.length, dim], out);
}

/** float32 -> bfloat16 (round to nearest even, as torch's .to(bfloat16)) -> float32. */
export function roundBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

/**
 * precompute_freqs_cis: angles pos * 1 / base^(2i/hd) in fp32, cos/sin rounded to bfloat16 (the buffer's
 * dtype). Returns [rows, hd/2] tables as float32 values.
 */
export function bf16RopeTables(rows: number, headDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let i = 0; i < half; i++) {
    const f = Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * i) / headDim))));
    for (let pos = 0; pos < rows; pos++) {
      const a = Math.fround(pos * f);
      cos[pos * half + i] = roundBf16(Math.cos(a));
      sin[pos * half + i] = roundBf16(Math.sin(a));
    }
  }
  return { cos, sin };
}

/** Graph input/output names of one layer's cache tensors. */
export const arCacheNames = (layer: number) => ({
  pastK: `past_k.${layer}`, pastV: `past_v.${layer}`,
  presentK: `present_k.${layer}`, presentV: `present_v.${layer}`,
  cacheK: `cache_k.${layer}`, cacheV: `cache_v.${layer}`,
  newK: `new_k.${layer}`, newV: `new_v.${layer}`,
});

/**
 * Prefill graph. Inputs: cond [1, Lc, dim] (the AR length regulator's output), prompt_ids [1, Lt] int64 (the
 * reference's wide ids; Lt may be 0). Outputs: logits [1, vocab] of the last position, present_{k,v}.<i>
 * [1, kvH, Lc + Lt + 2, hd].
 */
export function buildArPrefill(c: ArConfig, w: Weights, opts: ArBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('ar_prefill');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const cond = g.input('cond', 'float32', [1, 'cond_len', c.dim]);
  const promptIds = g.input('prompt_ids', 'int64', [1, 'prompt_len']);

  const sep = nn.weight('sep_token_emb', reshaped(w.get('sep_token_emb', [c.dim]), [1, 1, c.dim]));
  const table = g.scope('model', () => nn.weight('embeddings.weight', w.get('model.embeddings.weight', [c.vocabSize, c.dim])));
  const promptEmb = nn.gather(table, promptIds, 0); // [1, Lt, dim]
  const x = nn.concat([sep, cond, sep, promptEmb], 1);

  // RoPE positions 0..Lc for [sep, cond], then restart: 0..Lt for [sep, prompt].
  const zero = g.constant([0], 'int64', []);
  const one = g.constant([1], 'int64', []);
  const lc = nn.squeeze(nn.dim(cond, 1), [0]);
  const lt = nn.squeeze(nn.dim(promptIds, 1), [0]);
  const positions = nn.concat([nn.range(zero, nn.add(lc, one), one), nn.range(zero, nn.add(lt, one), one)], 0);
  // Causal mask over absolute slots, additive [L, L].
  const L = nn.squeeze(nn.dim(x, 1), [0]);
  const slots = nn.range(zero, L, one);
  const future = nn.greater(nn.unsqueeze(slots, [0]), nn.unsqueeze(slots, [1]));
  const mask = nn.where(future, nn.scalar(-Infinity), nn.scalar(0));

  const { hidden, kv } = transformer(nn, c, w, x, positions, { kind: 'prefill', mask });
  g.output(logitsOfLast(nn, c, w, hidden), 'logits', [1, c.vocabSize]);
  kv.forEach(([k, v], i) => {
    const n = arCacheNames(i);
    g.output(k, n.presentK, [1, c.nLocalHeads, 'seq', arHeadDim(c)]);
    g.output(v, n.presentV, [1, c.nLocalHeads, 'seq', arHeadDim(c)]);
  });
  return g;
}

/**
 * Decode graph for one token. Inputs: token [1, 1] int64, position [1] int64 (RoPE position), and per
 * layout: 'past-present' past_{k,v}.<i> [1, kvH, P, hd]; 'fixed' slot [1] int64 and cache_{k,v}.<i>
 * [1, kvH, capacity, hd] (slots >= slot are ignored). Outputs: logits [1, vocab], and present_{k,v}.<i>
 * [1, kvH, P + 1, hd] or new_{k,v}.<i> [1, kvH, 1, hd].
 */
export function buildArDecode(c: ArConfig, w: Weights, opts: ArBuildOptions = {}): GraphBuilder {
  const layout = opts.cache ?? 'past-present';
  const g = new GraphBuilder(`ar_decode_${layout.replace('-', '_')}`);
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const hd = arHeadDim(c);
  const token = g.input('token', 'int64', [1, 1]);
  const position = g.input('position', 'int64', [1]);
  const slot = layout === 'fixed' ? g.input('slot', 'int64', [1]) : null;
  const caches: [Value, Value][] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const n = arCacheNames(i);
    const len = layout === 'fixed' ? 'capacity' : 'past';
    caches.push([
      g.input(layout === 'fixed' ? n.cacheK : n.pastK, 'float32', [1, c.nLocalHeads, len, hd]),
      g.input(layout === 'fixed' ? n.cacheV : n.pastV, 'float32', [1, c.nLocalHeads, len, hd]),
    ]);
  }
  const table = g.scope('model', () => nn.weight('embeddings.weight', w.get('model.embeddings.weight', [c.vocabSize, c.dim])));
  const x = nn.gather(table, token, 0); // [1, 1, dim]

  let run: StepKind;
  if (slot) {
    // Cache slots j < slot hold earlier tokens; the rest is stale or empty.
    const cap = nn.squeeze(nn.dim(caches[0][0], 2), [0]);
    const js = nn.range(g.constant([0], 'int64', []), cap, g.constant([1], 'int64', []));
    const cacheMask = nn.where(nn.less(js, slot), nn.scalar(0), nn.scalar(-Infinity)); // [capacity]
    run = { kind: 'fixed', caches, cacheMask };
  } else {
    run = { kind: 'past', caches };
  }
  const { hidden, kv } = transformer(nn, c, w, x, position, run);
  g.output(logitsOfLast(nn, c, w, hidden), 'logits', [1, c.vocabSize]);
  kv.forEach(([k, v], i) => {
    const n = arCacheNames(i);
    const len = slot ? 1 : 'total';
    g.output(k, slot ? n.newK : n.presentK, [1, c.nLocalHeads, len, hd]);
    g.output(v, slot ? n.newV : n.presentV, [1, c.nLocalHeads, len, hd]);
  });
  return g;
}

type StepKind =
  | { kind: 'prefill'; mask: Value }
  | { kind: 'past'; caches: [Value, Value][] }
  | { kind: 'fixed'; caches: [Value, Value][]; cacheMask: Value };

/** The layer stack; returns the residual stream and per layer the K/V to output. */
function transformer(nn: Nn, c: ArConfig, w: Weights, x: Value, positions: Value, step: StepKind): { hidden: Value; kv: [Value, Value][] } {
  const g = nn.g;
  const hd = arHeadDim(c);
  const half = hd / 2;
  const { cos, sin } = bf16RopeTables(c.maxSeqLen, hd, c.ropeBase);
  const rope = g.scope('rope', () => {
    const take = (name: string, t: Float32Array) =>
      nn.reshape(nn.gather(nn.weight(name, tensor('float32', [c.maxSeqLen, half], t)), positions, 0), [1, -1, 1, half, 1]);
    return { cos: take('cos', cos), sin: take('sin', sin) };
  });
  const kv: [Value, Value][] = [];
  let h = x;
  g.scope('model', () => g.scope('layers', () => {
    for (let i = 0; i < c.nLayer; i++) {
      h = g.scope(i, () => {
        const p = `model.layers.${i}.`;
        const an = g.scope('attention_norm', () => nn.rmsNorm(h, c.normEps, nn.weight('weight', w.get(`${p}attention_norm.weight`, [c.dim]))));
        const att = g.scope('attention', () => attention(nn, c, w, `${p}attention.`, an, rope, step, i, kv));
        const hh = nn.add(h, att);
        const fn = g.scope('ffn_norm', () => nn.rmsNorm(hh, c.normEps, nn.weight('weight', w.get(`${p}ffn_norm.weight`, [c.dim]))));
        const ff = g.scope('feed_forward', () => {
          const a = nn.silu(nn.linear(fn, w.get(`${p}feed_forward.w1.weight`), null, 'w1'));
          const b = nn.linear(fn, w.get(`${p}feed_forward.w3.weight`), null, 'w3');
          return nn.linear(nn.mul(a, b), w.get(`${p}feed_forward.w2.weight`), null, 'w2');
        });
        return nn.add(hh, ff);
      });
    }
  }));
  return { hidden: h, kv };
}

/** RMSNorm of the last position -> output Linear -> [1, vocab]. */
function logitsOfLast(nn: Nn, c: ArConfig, w: Weights, h: Value): Value {
  return nn.g.scope('model', () => {
    const last = nn.slice(h, [-1], [Number.MAX_SAFE_INTEGER], [1]);
    const normed = nn.g.scope('norm', () => nn.rmsNorm(last, c.normEps, nn.weight('weight', w.get('model.norm.weight', [c.dim]))));
    const logits = nn.linear(normed, w.get('model.output.weight', [c.vocabSize, c.dim]), null, 'output');
    return nn.reshape(logits, [1, c.vocabSize]);
  });
}

/** Rotates adjacent pairs of x [1, S, heads, hd] by the gathered tables [1, S, 1, hd/2, 1]. */
function applyRope(nn: Nn, x: Value, rope: { cos: Value; sin: Value }, heads: number, hd: number): Value {
  const pairs = nn.reshape(x, [0, 0, heads, hd / 2, 2]);
  const [x0, x1] = nn.split(pairs, [1, 1], -1);
  const o0 = nn.sub(nn.mul(x0, rope.cos), nn.mul(x1, rope.sin));
  const o1 = nn.add(nn.mul(x1, rope.cos), nn.mul(x0, rope.sin));
  return nn.reshape(nn.concat([o0, o1], -1), [0, 0, heads, hd]);
}

/**
 * Grouped-query attention. Query heads are regrouped as [1, kvH, rep * S, hd] so each kv head's keys are
 * used by its `rep` query heads without materialising repeat_interleave.
 */
function attention(
  nn: Nn, c: ArConfig, w: Weights, p: string, x: Value, rope: { cos: Value; sin: Value },
  step: StepKind, layer: number, kvOut: [Value, Value][],
): Value {
  const H = c.nHead, KV = c.nLocalHeads, hd = arHeadDim(c), rep = H / KV;
  const wqkv = w.get(`${p}wqkv.weight`, [c.dim + 2 * KV * hd, c.dim]);
  const rows = (from: number, n: number) => tensor('float32', [n, c.dim], wqkv.data.subarray(from * c.dim, (from + n) * c.dim));
  const q = nn.linear(x, rows(0, c.dim), null, 'wq');
  const k = nn.linear(x, rows(c.dim, KV * hd), null, 'wk');
  const v = nn.linear(x, rows(c.dim + KV * hd, KV * hd), null, 'wv');
  const qh = nn.transpose(applyRope(nn, nn.reshape(q, [0, 0, H, hd]), rope, H, hd), [0, 2, 1, 3]); // [1, H, S, hd]
  const kh = nn.transpose(applyRope(nn, nn.reshape(k, [0, 0, KV, hd]), rope, KV, hd), [0, 2, 1, 3]); // [1, KV, S, hd]
  const vh = nn.transpose(nn.reshape(v, [0, 0, KV, hd]), [0, 2, 1, 3]);
  const qg = nn.mul(nn.reshape(qh, [1, KV, -1, hd]), nn.scalar(1 / Math.sqrt(hd))); // [1, KV, rep*S, hd]

  let ctx: Value; // [1, KV, rep*S, hd]
  if (step.kind === 'fixed') {
    const [ck, cv] = step.caches[layer];
    kvOut.push([kh, vh]);
    // Scores against the cache (masked beyond `slot`) and against this step's own key, one softmax over both.
    const sCache = nn.add(nn.matmul(qg, nn.transpose(ck, [0, 1, 3, 2])), step.cacheMask); // [1, KV, rep, capacity]
    const sSelf = nn.matmul(qg, nn.transpose(kh, [0, 1, 3, 2])); // [1, KV, rep, 1]
    const probs = nn.softmax(nn.concat([sCache, sSelf], -1), -1);
    const cap = nn.dim(ck, 2);
    const pCache = nn.slice(probs, [0], cap, [3]);
    const pSelf = nn.slice(probs, cap, [Number.MAX_SAFE_INTEGER], [3]);
    ctx = nn.add(nn.matmul(pCache, cv), nn.mul(pSelf, vh));
  } else {
    let kAll = kh, vAll = vh;
    if (step.kind === 'past') {
      const [pk, pv] = step.caches[layer];
      kAll = nn.concat([pk, kh], 2);
      vAll = nn.concat([pv, vh], 2);
    }
    kvOut.push([kAll, vAll]);
    if (step.kind === 'prefill') {
      // [1, KV, rep, S, hd] x [1, KV, 1, hd, T]: the [S, T] causal mask broadcasts over each group's heads.
      const q5 = nn.reshape(qg, [1, KV, rep, -1, hd]);
      const scores = nn.add(nn.matmul(q5, nn.unsqueeze(nn.transpose(kAll, [0, 1, 3, 2]), [2])), step.mask);
      ctx = nn.matmul(nn.softmax(scores, -1), nn.unsqueeze(vAll, [2])); // [1, KV, rep, S, hd]
    } else {
      ctx = nn.matmul(nn.softmax(nn.matmul(qg, nn.transpose(kAll, [0, 1, 3, 2])), -1), vAll);
    }
  }
  const merged = nn.reshape(nn.transpose(nn.reshape(ctx, [1, H, -1, hd]), [0, 2, 1, 3]), [1, -1, c.dim]);
  return nn.linear(merged, w.get(`${p}wo.weight`, [c.dim, c.dim]), null, 'wo');
}

function reshaped(t: ReturnType<Weights['get']>, shape: number[]) {
  return tensor('float32', shape, t.data);
}

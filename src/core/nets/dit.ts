/**
 * The flow-matching estimator: Seed-VC's DiT (modules/diffusion_transformer.py) with its two heads,
 * built as one ONNX graph. Module paths mirror the checkpoint keys under `cfm.estimator.`:
 *
 *   t_embedder -> cond_projection -> cond_x_merge_linear (-> style_in / time & style tokens)
 *   -> transformer.layers[i] (attention_norm, attention.wqkv/wo with RoPE, ffn_norm, feed_forward.w1/w2/w3,
 *      skip_in_linear for U-ViT receivers) -> transformer.norm
 *   -> skip_linear (long skip) -> wavenet head (conv1, t_embedder2, wavenet, res_projection, final_layer, conv2)
 *      or mlp head (final_mlp)
 *
 * Graph inputs (all fp32 except x_lens): x [B, C, T], prompt_x [B, C, T], x_lens [1 or B] int64,
 * t [B], style [B, S], cond [B, T, content_dim]; output `velocity` [B, C, T].
 */
import type { DitConfig, WavenetConfig } from '../models/config.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision, reshapeTensor } from '../onnx/nn.ts';
import { type Tensor, tensor } from '../tensor.ts';
import type { Weights } from './weights.ts';

export interface DitBuildOptions {
  precision?: Precision;
  /** Also output `transformer_out` (for parity bisecting). */
  debugOutputs?: boolean;
  /**
   * Apply the attention key mask from x_lens (default true). Inference always runs whole sequences
   * (x_lens = frames, an all-zero mask), so the pipeline builds without it and saves an add over every
   * [B, heads, L, L] score tensor; x_lens still masks the WaveNet head.
   */
  keyMask?: boolean;
}

export interface DitShapes {
  dit: DitConfig;
  wavenet?: WavenetConfig;
  styleDim: number;
}

const NEG_INF = -Infinity;

/** Builds the estimator graph from `weights` scoped at the estimator (keys like `transformer.layers.0...`). */
export function buildDitEstimator(cfg: DitShapes, w: Weights, opts: DitBuildOptions = {}): GraphBuilder {
  const d = cfg.dit;
  const g = new GraphBuilder('dit_estimator');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const C = d.inChannels;

  const x = g.input('x', 'float32', ['batch', C, 'frames']);
  const promptX = g.input('prompt_x', 'float32', ['batch', C, 'frames']);
  const xLens = g.input('x_lens', 'int64', ['lens']);
  const t = g.input('t', 'float32', ['batch']);
  const style = g.input('style', 'float32', ['batch', cfg.styleDim]);
  const cond = g.input('cond', 'float32', ['batch', 'frames', d.contentDim]);

  const t1 = g.scope('t_embedder', () => nn.perItem(() => timestepEmbedder(nn, w, 't_embedder.', t)));
  const condProj = g.scope('cond_projection', () => nn.linear(cond, w.get('cond_projection.weight'), w.get('cond_projection.bias')));
  const xT = nn.transpose(x, [0, 2, 1]);
  const promptT = nn.transpose(promptX, [0, 2, 1]);

  // cond_x_merge_linear over cat[x, prompt_x, cond (, style repeated over time)]. The style columns of the
  // weight are applied once per item and broadcast over time instead of repeating style T times.
  let xIn = g.scope('cond_x_merge_linear', () => {
    const weight = w.get('cond_x_merge_linear.weight');
    const bias = w.get('cond_x_merge_linear.bias');
    const main = 2 * C + d.hiddenDim;
    const concatStyle = d.styleCondition && !d.styleAsToken;
    const merged = nn.concat([xT, promptT, condProj], -1);
    if (!concatStyle) return nn.linear(merged, weight, bias);
    const [wMain, wStyle] = splitColumns(weight, main);
    const y = nn.linear(merged, wMain, bias, 'main');
    return nn.add(y, nn.unsqueeze(nn.perItem(() => nn.linear(style, wStyle, null, 'style')), [1]));
  });
  if (d.styleAsToken) {
    const st = g.scope('style_in', () => nn.perItem(() => nn.linear(style, w.get('style_in.weight'), w.get('style_in.bias'))));
    xIn = nn.concat([nn.unsqueeze(st, [1]), xIn], 1);
  }
  if (d.timeAsToken) xIn = nn.concat([nn.unsqueeze(t1, [1]), xIn], 1);
  const nTokens = Number(d.timeAsToken) + Number(d.styleAsToken);

  // Key mask: position j is attended iff j < x_lens + n_tokens (padded query rows are still computed).
  let maskBias: Value | null = null;
  if (opts.keyMask ?? true) {
    const positions = nn.range(g.constant([0], 'int64', []), nn.squeeze(nn.dim(xIn, 1), [0]), g.constant([1], 'int64', []));
    const validLen = nn.add(xLens, g.constant([nTokens], 'int64', [1]));
    const keyValid = nn.less(nn.unsqueeze(positions, [0]), nn.unsqueeze(validLen, [1])); // [lens, L]
    maskBias = nn.unsqueeze(nn.where(keyValid, nn.scalar(0), nn.scalar(NEG_INF)), [1, 2]); // [lens, 1, 1, L]
  }

  // fp32 builds use ORT's fused RotaryEmbedding and MultiHeadAttention kernels (same maths, no [B, H, L, L]
  // tensors between ops); fp16 builds spell attention out so that softmax provably runs in fp32.
  const fused = !nn.halfArithmetic;
  const rope = ropeTables(nn, d, xIn, fused);
  if (fused && maskBias) {
    const L = nn.dim(xIn, 1);
    maskBias = nn.expand(maskBias, nn.concat([nn.dim(xLens, 0), g.ints([1]), L, L], 0)); // [lens, 1, L, L]
  }
  const c = nn.unsqueeze(t1, [1]); // [B, 1, H]
  const blockCond = d.timeAsToken ? null : c;

  let h = xIn;
  const skips: Value[] = [];
  g.scope('transformer', () => {
    for (let i = 0; i < d.depth; i++) {
      const receives = d.uvitSkipConnection && i > Math.floor(d.depth / 2);
      const emits = d.uvitSkipConnection && i < Math.floor(d.depth / 2);
      h = g.scope('layers', () => g.scope(i, () => {
        const p = `transformer.layers.${i}.`;
        let xi = h;
        if (receives) {
          const skip = skips.pop()!;
          xi = g.scope('skip_in_linear', () => nn.linear(nn.concat([xi, skip], -1), w.get(`${p}skip_in_linear.weight`), w.get(`${p}skip_in_linear.bias`)));
        }
        const an = g.scope('attention_norm', () => adaptiveRmsNorm(nn, w, `${p}attention_norm.`, xi, blockCond, d.normEps));
        const att = g.scope('attention', () => (fused ? fusedAttention : attention)(nn, w, `${p}attention.`, an, d, rope, maskBias));
        const hh = nn.add(xi, att);
        const fn = g.scope('ffn_norm', () => adaptiveRmsNorm(nn, w, `${p}ffn_norm.`, hh, blockCond, d.normEps));
        const ff = g.scope('feed_forward', () => feedForward(nn, w, `${p}feed_forward.`, fn));
        return nn.add(hh, ff);
      }));
      if (emits) skips.push(h);
    }
    h = g.scope('norm', () => adaptiveRmsNorm(nn, w, 'transformer.norm.', h, c, d.normEps));
  });
  if (opts.debugOutputs) g.output(h, 'transformer_out');

  let xRes = nTokens ? nn.slice(h, [nTokens], [Number.MAX_SAFE_INTEGER], [1]) : h;
  if (d.longSkipConnection) {
    xRes = g.scope('skip_linear', () => nn.linear(nn.concat([xRes, xT], -1), w.get('skip_linear.weight'), w.get('skip_linear.bias')));
  }

  let velocity: Value;
  if (d.finalLayerType === 'wavenet') {
    if (!cfg.wavenet) throw new Error('DiT with a wavenet head needs the wavenet config');
    velocity = wavenetHead(nn, w, cfg.wavenet, xRes, t, t1, xLens);
  } else {
    velocity = g.scope('final_mlp', () => {
      const y = nn.silu(nn.linear(xRes, w.get('final_mlp.0.weight'), w.get('final_mlp.0.bias'), '0'));
      return nn.transpose(nn.linear(y, w.get('final_mlp.2.weight'), w.get('final_mlp.2.bias'), '2'), [0, 2, 1]);
    });
  }
  g.output(velocity, 'velocity', ['batch', C, 'frames']);
  return g;
}

/** Sinusoidal timestep embedding [cos(1000 t f), sin(1000 t f)] (from the checkpoint's `freqs`) -> MLP. */
function timestepEmbedder(nn: Nn, w: Weights, p: string, t: Value): Value {
  const freqs = w.get(`${p}freqs`);
  const f = nn.weight('freqs', reshapeTensor(freqs, [1, freqs.shape[0]]));
  // torch evaluates scale * t[:, None] * freqs left to right in float32.
  const args = nn.mul(nn.mul(nn.scalar(1000), nn.unsqueeze(t, [1])), f);
  const emb = nn.concat([nn.cos(args), nn.sin(args)], -1);
  const h = nn.silu(nn.linear(emb, w.get(`${p}mlp.0.weight`), w.get(`${p}mlp.0.bias`), 'mlp.0'));
  return nn.linear(h, w.get(`${p}mlp.2.weight`), w.get(`${p}mlp.2.bias`), 'mlp.2');
}

/** AdaptiveLayerNorm(RMSNorm): with c, w * RMSNorm(x) + b where [w, b] = project_layer(c); without, RMSNorm(x). */
function adaptiveRmsNorm(nn: Nn, w: Weights, p: string, x: Value, c: Value | null, eps: number): Value {
  const normed = nn.rmsNorm(x, eps, nn.weight('norm.weight', w.get(`${p}norm.weight`)));
  if (!c) return normed;
  const dim = w.get(`${p}norm.weight`).shape[0];
  const wb = nn.perItem(() => nn.linear(c, w.get(`${p}project_layer.weight`), w.get(`${p}project_layer.bias`), 'project_layer'));
  const [scale, shift] = nn.split(wb, [dim, dim], -1);
  return nn.add(nn.mul(scale, normed), shift);
}

interface Rope {
  /** [1, L, 1, hd/2, 1] slices for the explicit rotation. */
  cos?: Value;
  sin?: Value;
  /** The whole [block_size, hd/2] tables for the fused RotaryEmbedding op. */
  cosTable?: Value;
  sinTable?: Value;
}

/**
 * RoPE tables for positions 0..L-1 as the reference precomputes them (float32 frequencies
 * 1 / base^(2i/hd), float32 angles pos * f), gathered from a constant table of block_size rows.
 * Shaped [1, L, 1, hd/2, 1] to broadcast over [B, L, heads, hd/2, 1].
 */
function ropeTables(nn: Nn, d: DitConfig, xIn: Value, fused: boolean): Rope {
  const hd = d.hiddenDim / d.numHeads;
  const half = hd / 2;
  const rows = d.blockSize;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let i = 0; i < half; i++) {
    const f = Math.fround(1 / Math.fround(Math.pow(d.ropeBase, Math.fround((2 * i) / hd))));
    for (let pos = 0; pos < rows; pos++) {
      const a = Math.fround(pos * f);
      cos[pos * half + i] = Math.cos(a);
      sin[pos * half + i] = Math.sin(a);
    }
  }
  return nn.scope('rope', () => {
    const cosTable = nn.weight('cos', tensor('float32', [rows, half], cos));
    const sinTable = nn.weight('sin', tensor('float32', [rows, half], sin));
    if (fused) return { cosTable, sinTable };
    const L = nn.dim(xIn, 1);
    const take = (all: Value): Value => nn.reshape(nn.slice(all, [0], L, [0]), [1, -1, 1, half, 1]);
    return { cos: take(cosTable), sin: take(sinTable) };
  });
}

/** Rotates adjacent pairs (x[2i], x[2i+1]) of each head: x [B, L, H, hd]. */
function applyRope(nn: Nn, x: Value, rope: Rope, heads: number, hd: number): Value {
  const pairs = nn.reshape(x, [0, 0, heads, hd / 2, 2]);
  const [x0, x1] = nn.split(pairs, [1, 1], -1);
  const o0 = nn.sub(nn.mul(x0, rope.cos!), nn.mul(x1, rope.sin!));
  const o1 = nn.add(nn.mul(x1, rope.cos!), nn.mul(x0, rope.sin!));
  return nn.reshape(nn.concat([o0, o1], -1), [0, 0, heads, hd]);
}

/** q, k, v from the checkpoint's fused wqkv (rows q | k | v, no biases), as three MatMuls (no Split copy). */
function qkvProjections(nn: Nn, w: Weights, p: string, x: Value, D: number): Value[] {
  const parts = splitRows(w.get(`${p}wqkv.weight`, [3 * D, D]), 3);
  return nn.linears(x, parts, ['wq', 'wk', 'wv']);
}

/** Self-attention with fused qkv (no biases), RoPE on q and k, additive key mask, softmax in fp32. */
function attention(nn: Nn, w: Weights, p: string, x: Value, d: DitConfig, rope: Rope, maskBias: Value | null): Value {
  const H = d.numHeads;
  const D = d.hiddenDim;
  const hd = D / H;
  const [q, k, v] = qkvProjections(nn, w, p, x, D);
  const heads = (y: Value) => nn.reshape(y, [0, 0, H, hd]);
  // SDPA scales q k^T by 1/sqrt(hd); scaling q first is the same product and touches T*hd, not T*T, values.
  const qr = nn.mul(applyRope(nn, heads(q), rope, H, hd), nn.scalar(1 / Math.sqrt(hd)));
  const kr = applyRope(nn, heads(k), rope, H, hd);
  const scores = nn.matmul(nn.transpose(qr, [0, 2, 1, 3]), nn.transpose(kr, [0, 2, 3, 1])); // [B, H, L, L]
  const probs = nn.softmax(maskBias ? nn.add(scores, maskBias) : scores, -1);
  const ctx = nn.matmul(probs, nn.transpose(heads(v), [0, 2, 1, 3])); // [B, H, L, hd]
  const merged = nn.reshape(nn.transpose(ctx, [0, 2, 1, 3]), [0, 0, D]);
  return nn.linear(merged, w.get(`${p}wo.weight`, [D, D]), null, 'wo');
}

/** The same attention through com.microsoft RotaryEmbedding (interleaved pairs) and MultiHeadAttention. */
function fusedAttention(nn: Nn, w: Weights, p: string, x: Value, d: DitConfig, rope: Rope, maskBias: Value | null): Value {
  const g = nn.g;
  const H = d.numHeads;
  const D = d.hiddenDim;
  const hd = D / H;
  const [q, k, v] = qkvProjections(nn, w, p, x, D);
  const start = g.constant([0], 'int64', [1]);
  const rotate = (y: Value) => g.op('RotaryEmbedding', [y, start, rope.cosTable!, rope.sinTable!], { interleaved: 1, num_heads: H }, { domain: 'com.microsoft' });
  const inputs = [rotate(q), rotate(k), v, null, null, maskBias];
  const y = g.op('MultiHeadAttention', maskBias ? inputs : inputs.slice(0, 3), { num_heads: H, scale: { f: 1 / Math.sqrt(hd) } }, { domain: 'com.microsoft' });
  return nn.linear(y, w.get(`${p}wo.weight`, [D, D]), null, 'wo');
}

/** SwiGLU feed-forward w2(silu(w1 x) * w3 x). */
function feedForward(nn: Nn, w: Weights, p: string, x: Value): Value {
  const [a, b] = nn.linears(x, [w.get(`${p}w1.weight`), w.get(`${p}w3.weight`)], ['w1', 'w3']);
  return nn.linear(nn.mul(nn.silu(a), b), w.get(`${p}w2.weight`), null, 'w2');
}

/**
 * WaveNet head: conv1 -> WN(g = t_embedder2(t)) + res_projection -> FinalLayer(t1) -> conv2.
 * WN convolutions are SConv1d: reflect padding, weight norm folded at import.
 */
function wavenetHead(nn: Nn, w: Weights, wn: WavenetConfig, xRes: Value, t: Value, t1: Value, xLens: Value): Value {
  const g = nn.g;
  const WH = wn.hiddenDim;
  const h0 = g.scope('conv1', () => nn.linear(xRes, w.get('conv1.weight'), w.get('conv1.bias')));
  const t2 = g.scope('t_embedder2', () => nn.perItem(() => timestepEmbedder(nn, w, 't_embedder2.', t)));
  // x_mask = sequence_mask(x_lens) over the frames, channels-last: [lens, T, 1].
  const T = nn.dim(h0, 1);
  const positions = nn.range(g.constant([0], 'int64', []), nn.squeeze(T, [0]), g.constant([1], 'int64', []));
  const xMask = nn.unsqueeze(nn.cast(nn.less(nn.unsqueeze(positions, [0]), nn.unsqueeze(xLens, [1])), 'float32'), [2]);

  // The WaveNet runs channels-last: each k-tap SConv1d is one MatMul over the k reflect-padded, shifted
  // copies of the input concatenated on the channel axis (faster than a 1-D Conv on CPU, same sums).
  const out = g.scope('wavenet', () => {
    // cond_layer is a k=1 conv applied to g of length 1: a Linear on t2.
    const condW = w.get('wavenet.cond_layer.conv.conv.weight');
    const gAll = g.scope('cond_layer', () => nn.unsqueeze(nn.perItem(() =>
      nn.linear(t2, reshapeTensor(condW, [condW.shape[0], condW.shape[1]]), w.get('wavenet.cond_layer.conv.conv.bias'))), [1])); // [B, 1, 2*WH*L]
    let x = h0; // [B, T, WH]
    let output: Value | null = null;
    for (let i = 0; i < wn.numLayers; i++) {
      const dilation = Math.pow(wn.dilationRate, i);
      const total = (wn.kernelSize - 1) * dilation;
      const right = Math.floor(total / 2);
      const left = total - right;
      const xin = g.scope(`in_layers.${i}`, () => {
        const padded = nn.pad(x, [0, left, 0, 0, right, 0], 'reflect');
        const taps: Value[] = [];
        for (let k = 0; k < wn.kernelSize; k++) {
          taps.push(nn.slice(padded, [k * dilation], nn.add(T, g.constant([k * dilation], 'int64', [1])), [1]));
        }
        return nn.linear(nn.concat(taps, -1), unfoldConvWeight(w.get(`wavenet.in_layers.${i}.conv.conv.weight`)), w.get(`wavenet.in_layers.${i}.conv.conv.bias`));
      });
      const gl = nn.slice(gAll, [i * 2 * WH], [(i + 1) * 2 * WH], [2]);
      const [ta, sa] = nn.split(nn.add(xin, gl), [WH, WH], -1);
      const acts = nn.mul(nn.tanh(ta), nn.sigmoid(sa));
      const rsW = w.get(`wavenet.res_skip_layers.${i}.conv.conv.weight`);
      const rs = g.scope(`res_skip_layers.${i}`, () => nn.linear(acts, reshapeTensor(rsW, [rsW.shape[0], rsW.shape[1]]), w.get(`wavenet.res_skip_layers.${i}.conv.conv.bias`)));
      if (i < wn.numLayers - 1) {
        const [res, skip] = nn.split(rs, [WH, WH], -1);
        x = nn.mul(nn.add(x, res), xMask);
        output = output ? nn.add(output, skip) : skip;
      } else {
        output = output ? nn.add(output, rs) : rs;
      }
    }
    return nn.mul(output!, xMask);
  });

  const resProj = g.scope('res_projection', () => nn.linear(xRes, w.get('res_projection.weight'), w.get('res_projection.bias')));
  const y = nn.add(out, resProj); // [B, T, WH]
  const fin = g.scope('final_layer', () => {
    const mod = nn.perItem(() => nn.linear(nn.silu(t1), w.get('final_layer.adaLN_modulation.1.weight'), w.get('final_layer.adaLN_modulation.1.bias'), 'adaLN_modulation.1'));
    const [shift, scale] = nn.split(mod, [WH, WH], -1);
    const normed = nn.layerNormNoAffine(y, 1e-6);
    const modulated = nn.add(nn.mul(normed, nn.add(nn.unsqueeze(scale, [1]), nn.scalar(1))), nn.unsqueeze(shift, [1]));
    return nn.linear(modulated, w.get('final_layer.linear.weight'), w.get('final_layer.linear.bias'), 'linear');
  });
  // conv2 is a k=1 Conv1d: a Linear over channels before the final transpose.
  const conv2W = w.get('conv2.weight');
  const v = g.scope('conv2', () => nn.linear(fin, reshapeTensor(conv2W, [conv2W.shape[0], conv2W.shape[1]]), w.get('conv2.bias')));
  return nn.transpose(v, [0, 2, 1]);
}

/** Conv1d weight [out, in, k] as a Linear weight [out, k * in] over k shifted inputs concatenated. */
function unfoldConvWeight(wt: Tensor<'float32'>): Tensor<'float32'> {
  const [out, inp, k] = wt.shape;
  const dst = new Float32Array(out * k * inp);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < inp; c++) {
      for (let j = 0; j < k; j++) dst[o * k * inp + j * inp + c] = wt.data[(o * inp + c) * k + j];
    }
  }
  return tensor('float32', [out, k * inp], dst);
}

function splitColumns(t: Tensor<'float32'>, at: number): [Tensor<'float32'>, Tensor<'float32'>] {
  const [rows, cols] = t.shape;
  const a = new Float32Array(rows * at);
  const b = new Float32Array(rows * (cols - at));
  for (let r = 0; r < rows; r++) {
    a.set(t.data.subarray(r * cols, r * cols + at), r * at);
    b.set(t.data.subarray(r * cols + at, (r + 1) * cols), r * (cols - at));
  }
  return [tensor('float32', [rows, at], a), tensor('float32', [rows, cols - at], b)];
}

/** [n * r, c] -> n tensors [r, c] (views). */
function splitRows(t: Tensor<'float32'>, n: number): Tensor<'float32'>[] {
  const [rows, cols] = t.shape;
  const r = rows / n;
  return Array.from({ length: n }, (_, i) => tensor('float32', [r, cols], t.data.subarray(i * r * cols, (i + 1) * r * cols)));
}

/** Parameter shapes the estimator reads (weight-norm pairs listed by their folded `.weight` name). */
export function ditParamShapes(cfg: DitShapes): Map<string, number[]> {
  const d = cfg.dit;
  const H = d.hiddenDim, C = d.inChannels, S = cfg.styleDim, F = d.intermediateSize;
  const m = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number, bias = true) => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  const temb = (p: string, dim: number) => {
    m.set(`${p}.freqs`, [128]);
    lin(`${p}.mlp.0`, dim, 256);
    lin(`${p}.mlp.2`, dim, dim);
  };
  const adaNorm = (p: string) => { lin(`${p}.project_layer`, 2 * H, H); m.set(`${p}.norm.weight`, [H]); };
  temb('t_embedder', H);
  lin('cond_projection', H, d.contentDim);
  lin('cond_x_merge_linear', H, 2 * C + H + (d.styleCondition && !d.styleAsToken ? S : 0));
  if (d.styleAsToken) lin('style_in', H, S);
  for (let i = 0; i < d.depth; i++) {
    const p = `transformer.layers.${i}`;
    lin(`${p}.attention.wqkv`, 3 * H, H, false);
    lin(`${p}.attention.wo`, H, H, false);
    lin(`${p}.feed_forward.w1`, F, H, false);
    lin(`${p}.feed_forward.w3`, F, H, false);
    lin(`${p}.feed_forward.w2`, H, F, false);
    adaNorm(`${p}.attention_norm`);
    adaNorm(`${p}.ffn_norm`);
    if (d.uvitSkipConnection) lin(`${p}.skip_in_linear`, H, 2 * H);
  }
  adaNorm('transformer.norm');
  if (d.longSkipConnection) lin('skip_linear', H, H + C);
  if (d.finalLayerType === 'wavenet') {
    const wn = cfg.wavenet!;
    const WH = wn.hiddenDim;
    lin('conv1', WH, H);
    temb('t_embedder2', WH);
    m.set('wavenet.cond_layer.conv.conv.weight', [2 * WH * wn.numLayers, WH, 1]);
    m.set('wavenet.cond_layer.conv.conv.bias', [2 * WH * wn.numLayers]);
    for (let i = 0; i < wn.numLayers; i++) {
      m.set(`wavenet.in_layers.${i}.conv.conv.weight`, [2 * WH, WH, wn.kernelSize]);
      m.set(`wavenet.in_layers.${i}.conv.conv.bias`, [2 * WH]);
      const rs = i < wn.numLayers - 1 ? 2 * WH : WH;
      m.set(`wavenet.res_skip_layers.${i}.conv.conv.weight`, [rs, WH, 1]);
      m.set(`wavenet.res_skip_layers.${i}.conv.conv.bias`, [rs]);
    }
    lin('res_projection', WH, H);
    lin('final_layer.adaLN_modulation.1', 2 * WH, WH);
    lin('final_layer.linear', WH, WH);
    m.set('conv2.weight', [C, WH, 1]);
    m.set('conv2.bias', [C]);
  } else {
    lin('final_mlp.0', H, H);
    lin('final_mlp.2', C, H);
  }
  return m;
}

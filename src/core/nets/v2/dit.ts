/**
 * The v2 flow-matching estimator (modules/v2/dit_wrapper.DiT over modules/v2/dit_model.Transformer) as one
 * ONNX graph. Module paths mirror the checkpoint keys under `cfm.estimator.`:
 *
 *   t_embedder (sinusoid [cos | sin](1000 t 10000^(-i/128)) -> mlp) = t1
 *   cond_projection(cond) -> cond_x_merge_linear(cat[x^T, prompt_x^T, ·]) ; style_in(style)
 *   sequence [t1, style, x_in] (time / style tokens per config), key mask j < x_lens + tokens
 *   -> transformer.layers[i]: gated AdaLN block
 *        (shift, scale, gate)_msa, (shift, scale, gate)_mlp = attention_norm.linear(SiLU(t1))
 *        x += gate_msa * attention(RMSNorm(x) (1 + scale_msa) + shift_msa)      (wqkv, RoPE, wo)
 *        x += gate_mlp * feed_forward(ffn_norm(x) (1 + scale_mlp) + shift_mlp)  (SwiGLU w1, w3, w2)
 *   -> transformer.norm: (scale, shift) = linear(SiLU(t1)) (scale first), RMSNorm(x) (1 + scale) + shift
 *   -> drop the tokens -> final_mlp (Linear, SiLU, Linear) -> [B, C, T]
 *
 * RoPE rotates adjacent pairs with the reference's bfloat16 cos/sin table (positions 0..T+1, rows of
 * block_size). `x_embedder` is in the checkpoint but unused by the forward pass.
 *
 * Graph inputs (fp32 except x_lens): x [B, C, T], prompt_x [B, C, T], x_lens [B] int64, t [B],
 * style [B, S], cond [B, T, content_dim]; output `velocity` [B, C, T].
 */
import type { V2DitConfig } from '../../models/v2-config.ts';
import { GraphBuilder, type Value } from '../../onnx/graph.ts';
import { Nn, type Precision } from '../../onnx/nn.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import type { Weights } from '../weights.ts';

export interface V2DitBuildOptions {
  precision?: Precision;
  /** Also output `transformer_out` [B, T + tokens, hidden] and `t1` [B, hidden] (for parity bisecting). */
  debugOutputs?: boolean;
  /**
   * Apply the attention key mask from x_lens (default true). The CFM always passes x_lens = frames, where
   * the mask keeps every key, so a pipeline may build without it and save the [B, 1, L, L] bias.
   */
  keyMask?: boolean;
}

const fr = Math.fround;

/** Rounds a float32 value to bfloat16 (round to nearest even), returned as a number. */
export function roundToBfloat16(v: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, v);
  const bits = buf.getUint32(0);
  if ((bits & 0x7f800000) === 0x7f800000) return v; // inf / nan
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  buf.setUint32(0, rounded >>> 0);
  return buf.getFloat32(0);
}

/**
 * The reference's RoPE table (dit_model.precompute_freqs_cis): float32 frequencies 1 / base^(2i / hd),
 * angles pos * f in float32, cos and sin rounded to bfloat16. Returns [rows, hd / 2] cos and sin.
 */
export function v2RopeTable(rows: number, headDim: number, base = 10000): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let i = 0; i < half; i++) {
    const f = fr(1 / fr(Math.pow(base, fr(fr(2 * i) / headDim))));
    for (let pos = 0; pos < rows; pos++) {
      const a = fr(pos * f);
      cos[pos * half + i] = roundToBfloat16(fr(Math.cos(a)));
      sin[pos * half + i] = roundToBfloat16(fr(Math.sin(a)));
    }
  }
  return { cos, sin };
}

/** TimestepEmbedder's frequencies exp(-ln(10000) i / 128), i < 128, in float32 as torch computes them. */
export function v2TimestepFrequencies(dim = 256): Float32Array {
  const half = dim / 2;
  const out = new Float32Array(half);
  const c = fr(-Math.log(10000));
  for (let i = 0; i < half; i++) out[i] = fr(Math.exp(fr(fr(c * i) / half)));
  return out;
}

/** Parameter shapes the estimator reads (keys relative to `cfm.estimator.`). */
export function v2DitParamShapes(cfg: V2DitConfig): Map<string, number[]> {
  const H = cfg.hiddenDim, C = cfg.inChannels, F = cfg.intermediateSize;
  const m = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number, bias = true) => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  lin('t_embedder.mlp.0', H, 256);
  lin('t_embedder.mlp.2', H, H);
  lin('cond_projection', H, cfg.contentDim);
  lin('cond_x_merge_linear', H, 2 * C + H);
  lin('style_in', H, cfg.styleDim);
  for (let i = 0; i < cfg.depth; i++) {
    const p = `transformer.layers.${i}`;
    lin(`${p}.attention.wqkv`, 3 * H, H, false);
    lin(`${p}.attention.wo`, H, H, false);
    lin(`${p}.feed_forward.w1`, F, H, false);
    lin(`${p}.feed_forward.w3`, F, H, false);
    lin(`${p}.feed_forward.w2`, H, F, false);
    lin(`${p}.attention_norm.linear`, 6 * H, H);
    m.set(`${p}.attention_norm.norm.weight`, [H]);
    m.set(`${p}.ffn_norm.weight`, [H]);
  }
  lin('transformer.norm.linear', 2 * H, H);
  m.set('transformer.norm.norm.weight', [H]);
  lin('final_mlp.0', H, H);
  lin('final_mlp.2', C, H);
  return m;
}

/** Builds the estimator graph from weights scoped at the estimator (keys like `transformer.layers.0...`). */
export function buildV2Dit(cfg: V2DitConfig, w: Weights, opts: V2DitBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('v2_dit');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const shapes = v2DitParamShapes(cfg);
  const get = (key: string) => w.get(key, shapes.get(key));
  const C = cfg.inChannels, H = cfg.hiddenDim;

  const x = g.input('x', 'float32', ['batch', C, 'frames']);
  const promptX = g.input('prompt_x', 'float32', ['batch', C, 'frames']);
  const xLens = g.input('x_lens', 'int64', ['batch']);
  const t = g.input('t', 'float32', ['batch']);
  const style = g.input('style', 'float32', ['batch', cfg.styleDim]);
  const cond = g.input('cond', 'float32', ['batch', 'frames', cfg.contentDim]);

  const t1 = g.scope('t_embedder', () => {
    const f = nn.weight('freqs', tensor('float32', [1, 128], v2TimestepFrequencies()));
    const args = nn.mul(nn.mul(nn.scalar(1000), nn.unsqueeze(t, [1])), f);
    const emb = nn.concat([nn.cos(args), nn.sin(args)], -1);
    const h = nn.silu(nn.linear(emb, get('t_embedder.mlp.0.weight'), get('t_embedder.mlp.0.bias'), 'mlp.0'));
    return nn.linear(h, get('t_embedder.mlp.2.weight'), get('t_embedder.mlp.2.bias'), 'mlp.2');
  });
  if (opts.debugOutputs) g.output(t1, 't1');
  const condProj = g.scope('cond_projection', () => nn.linear(cond, get('cond_projection.weight'), get('cond_projection.bias')));
  const merged = nn.concat([nn.transpose(x, [0, 2, 1]), nn.transpose(promptX, [0, 2, 1]), condProj], -1);
  let seq = g.scope('cond_x_merge_linear', () => nn.linear(merged, get('cond_x_merge_linear.weight'), get('cond_x_merge_linear.bias')));
  if (cfg.styleAsToken) {
    const st = g.scope('style_in', () => nn.linear(style, get('style_in.weight'), get('style_in.bias')));
    seq = nn.concat([nn.unsqueeze(st, [1]), seq], 1);
  }
  if (cfg.timeAsToken) seq = nn.concat([nn.unsqueeze(t1, [1]), seq], 1);
  const nTokens = Number(cfg.timeAsToken) + Number(cfg.styleAsToken);

  // Key mask: key j is attended iff j < x_lens + tokens, for every query row.
  let maskBias: Value | null = null;
  const fused = nn.precision === 'fp32';
  if (opts.keyMask ?? true) {
    const L = nn.dim(seq, 1);
    const positions = nn.range(g.constant([0], 'int64', []), nn.squeeze(L, [0]), g.constant([1], 'int64', []));
    const keyValid = nn.less(nn.unsqueeze(positions, [0]), nn.unsqueeze(nn.add(xLens, g.constant([nTokens], 'int64', [1])), [1])); // [B, L]
    maskBias = nn.unsqueeze(nn.where(keyValid, nn.scalar(0), nn.scalar(-Infinity)), [1, 2]); // [B, 1, 1, L]
    if (fused) maskBias = nn.expand(maskBias, nn.concat([nn.dim(xLens, 0), g.ints([1]), L, L], 0)); // [B, 1, L, L]
  }

  const hd = H / cfg.numHeads;
  const table = v2RopeTable(cfg.blockSize, hd, cfg.ropeBase);
  const rope = g.scope('transformer', () => g.scope('rope', () => ({
    cos: nn.weight('cos', tensor('float32', [cfg.blockSize, hd / 2], table.cos)),
    sin: nn.weight('sin', tensor('float32', [cfg.blockSize, hd / 2], table.sin)),
  })));
  const ropeSlices = fused ? null : {
    cos: nn.reshape(nn.slice(rope.cos, [0], nn.dim(seq, 1), [0]), [1, -1, 1, hd / 2, 1]),
    sin: nn.reshape(nn.slice(rope.sin, [0], nn.dim(seq, 1), [0]), [1, -1, 1, hd / 2, 1]),
  };

  const c = nn.silu(nn.unsqueeze(t1, [1])); // SiLU(t1) [B, 1, H], the input of every AdaLN linear
  let h = seq;
  g.scope('transformer', () => {
    for (let i = 0; i < cfg.depth; i++) {
      const p = `transformer.layers.${i}.`;
      h = g.scope('layers', () => g.scope(i, () => {
        const mod = g.scope('attention_norm', () => nn.linear(c, get(`${p}attention_norm.linear.weight`), get(`${p}attention_norm.linear.bias`), 'linear'));
        const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = nn.split(mod, [H, H, H, H, H, H], -1);
        const an = g.scope('attention_norm', () => modulate(nn, nn.rmsNorm(h, cfg.normEps, nn.weight('norm.weight', get(`${p}attention_norm.norm.weight`))), shiftMsa, scaleMsa));
        const att = g.scope('attention', () => {
          const [q, k, v] = qkv(nn, get(`${p}attention.wqkv.weight`), an, H);
          const y = fused
            ? fusedAttention(nn, q, k, v, cfg.numHeads, hd, rope, maskBias)
            : attention(nn, q, k, v, cfg.numHeads, hd, ropeSlices!, maskBias);
          return nn.linear(y, get(`${p}attention.wo.weight`), null, 'wo');
        });
        const h1 = nn.add(h, nn.mul(gateMsa, att));
        const fn = g.scope('ffn_norm', () => modulate(nn, nn.rmsNorm(h1, cfg.normEps, nn.weight('weight', get(`${p}ffn_norm.weight`))), shiftMlp, scaleMlp));
        const ff = g.scope('feed_forward', () => {
          const a = nn.linear(fn, get(`${p}feed_forward.w1.weight`), null, 'w1');
          const b = nn.linear(fn, get(`${p}feed_forward.w3.weight`), null, 'w3');
          return nn.linear(nn.mul(nn.silu(a), b), get(`${p}feed_forward.w2.weight`), null, 'w2');
        });
        return nn.add(h1, nn.mul(gateMlp, ff));
      }));
    }
    h = g.scope('norm', () => {
      const mod = nn.linear(c, get('transformer.norm.linear.weight'), get('transformer.norm.linear.bias'), 'linear');
      const [scale, shift] = nn.split(mod, [H, H], -1);
      return modulate(nn, nn.rmsNorm(h, cfg.normEps, nn.weight('norm.weight', get('transformer.norm.norm.weight'))), shift, scale);
    });
  });
  if (opts.debugOutputs) g.output(h, 'transformer_out');

  const xRes = nTokens ? nn.slice(h, [nTokens], [Number.MAX_SAFE_INTEGER], [1]) : h;
  const velocity = g.scope('final_mlp', () => {
    const y = nn.silu(nn.linear(xRes, get('final_mlp.0.weight'), get('final_mlp.0.bias'), '0'));
    return nn.transpose(nn.linear(y, get('final_mlp.2.weight'), get('final_mlp.2.bias'), '2'), [0, 2, 1]);
  });
  g.output(velocity, 'velocity', ['batch', C, 'frames']);
  return g;
}

/** x (1 + scale) + shift. */
function modulate(nn: Nn, x: Value, shift: Value, scale: Value): Value {
  return nn.add(nn.mul(x, nn.add(scale, nn.scalar(1))), shift);
}

/** q, k, v from the fused wqkv weight (rows q | k | v, no bias), as three MatMuls. */
function qkv(nn: Nn, wqkv: Tensor<'float32'>, x: Value, H: number): Value[] {
  const cols = wqkv.shape[1];
  return ['wq', 'wk', 'wv'].map((name, i) =>
    nn.linear(x, tensor('float32', [H, cols], wqkv.data.subarray(i * H * cols, (i + 1) * H * cols)), null, name));
}

/** Rotates adjacent pairs (x[2i], x[2i+1]) of each head of x [B, L, heads * hd]. */
function applyRope(nn: Nn, x: Value, rope: { cos: Value; sin: Value }, heads: number, hd: number): Value {
  const pairs = nn.reshape(x, [0, 0, heads, hd / 2, 2]);
  const [x0, x1] = nn.split(pairs, [1, 1], -1);
  const o0 = nn.sub(nn.mul(x0, rope.cos), nn.mul(x1, rope.sin));
  const o1 = nn.add(nn.mul(x1, rope.cos), nn.mul(x0, rope.sin));
  return nn.reshape(nn.concat([o0, o1], -1), [0, 0, heads, hd]);
}

/** Spelled-out attention (fp16 builds: softmax provably fp32): RoPE, q k^T / sqrt(hd) + key mask, softmax, v. */
function attention(nn: Nn, q: Value, k: Value, v: Value, heads: number, hd: number, rope: { cos: Value; sin: Value }, maskBias: Value | null): Value {
  const qr = nn.mul(applyRope(nn, q, rope, heads, hd), nn.scalar(1 / Math.sqrt(hd)));
  const kr = applyRope(nn, k, rope, heads, hd);
  const scores = nn.matmul(nn.transpose(qr, [0, 2, 1, 3]), nn.transpose(kr, [0, 2, 3, 1])); // [B, heads, L, L]
  const probs = nn.softmax(maskBias ? nn.add(scores, maskBias) : scores, -1);
  const ctx = nn.matmul(probs, nn.transpose(nn.reshape(v, [0, 0, heads, hd]), [0, 2, 1, 3]));
  return nn.reshape(nn.transpose(ctx, [0, 2, 1, 3]), [0, 0, heads * hd]);
}

/** The same through ORT's fused RotaryEmbedding (interleaved pairs) and MultiHeadAttention kernels. */
function fusedAttention(nn: Nn, q: Value, k: Value, v: Value, heads: number, hd: number, rope: { cos: Value; sin: Value }, maskBias: Value | null): Value {
  const g = nn.g;
  const start = g.constant([0], 'int64', [1]);
  const rotate = (y: Value) => g.op('RotaryEmbedding', [y, start, rope.cos, rope.sin], { interleaved: 1, num_heads: heads }, { domain: 'com.microsoft' });
  const inputs = [rotate(q), rotate(k), v, null, null, maskBias];
  return g.op('MultiHeadAttention', maskBias ? inputs : inputs.slice(0, 3), { num_heads: heads, scale: { f: 1 / Math.sqrt(hd) } }, { domain: 'com.microsoft' });
}

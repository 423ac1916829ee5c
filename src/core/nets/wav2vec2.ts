/**
 * The XLS-R content encoder of the real-time Seed-VC preset (Hugging Face `Wav2Vec2Model` with
 * feat_extract_norm 'layer' and do_stable_layer_norm, truncated to its first `output_layer` encoder
 * layers) as one ONNX graph. Module paths mirror the checkpoint keys under `wav2vec2.`:
 *
 *   feature_extractor.conv_layers[i]: Conv1d -> LayerNorm over channels -> GELU   (7 layers, 320 samples/frame)
 *   -> feature_projection: layer_norm (= extract_features) -> projection
 *   -> encoder: + GELU(pos_conv_embed.conv(x)[..., :-1]) -> layers[:output_layer] (pre-LN) -> layer_norm
 *      (unless cfg.finalLayerNorm is false: Seed-VC v2's HuBERT, see nets/v2/hubert.ts)
 *
 * Graph input `input_values` [B, samples] (already normalised by normalizeWav2vec2Input); output
 * `last_hidden_state` [B, frames, hidden]. No attention mask (Seed-VC's semantic_fn passes none).
 */
import { ModelMismatchError } from '../errors.ts';
import { ConfigBounds } from '../models/bounds.ts';
import { parseJsonObject } from '../models/json.ts';
import { WeightStore, loadStateDict, stripPrefix } from '../checkpoint/index.ts';
import { checkShapes } from '../checkpoint/state-dict.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision } from '../onnx/nn.ts';
import type { Weights } from './weights.ts';
import { selfAttention } from './whisper-encoder.ts';

/** The parts of a wav2vec2 `config.json` the encoder needs, plus the number of kept layers. */
export interface Wav2vec2Config {
  hiddenSize: number;
  numAttentionHeads: number;
  intermediateSize: number;
  convDim: number[];
  convKernel: number[];
  convStride: number[];
  convBias: boolean;
  numConvPosEmbeddings: number;
  numConvPosEmbeddingGroups: number;
  layerNormEps: number;
  /** Layers stored in the checkpoint (num_hidden_layers). */
  numHiddenLayers: number;
  /** Encoder layers kept and run (Seed-VC's speech_tokenizer.output_layer). */
  outputLayer: number;
  /** Apply encoder.layer_norm after the kept layers (default true; v2's HuBERT replaces it by an identity). */
  finalLayerNorm?: boolean;
}

export interface Wav2vec2BuildOptions {
  precision?: Precision;
  /**
   * Also output `conv_layers.{i}` [B, C, T_i], `extract_features`, `projected`, `pos_conv_embed`
   * (channels-last) and `layers.{i}` (for parity bisecting).
   */
  debugOutputs?: boolean;
}

/**
 * Accepted sizes: XLS-R 300m / 1b / 2b use hidden 1024..1920, 24..48 layers, 16 heads, a 7-layer conv
 * stack of 512 channels (kernels 10..2, strides 5..2) and a 128-tap positional conv in 16 groups; the
 * bounds leave ample headroom and keep a hostile config from sizing gigabytes.
 */
export const WAV2VEC2_CONFIG_BOUNDS = {
  hidden_size: [1, 8192], num_attention_heads: [1, 256], intermediate_size: [1, 32768], num_hidden_layers: [1, 128],
  num_conv_pos_embeddings: [1, 1024], num_conv_pos_embedding_groups: [1, 8192],
  conv_dim: [1, 8192], conv_kernel: [1, 1024], conv_stride: [1, 1024], conv_layers: 16,
} as const;

/** Reads a wav2vec2 `config.json` (text or parsed); keeps the first `outputLayer` encoder layers (default all). */
export function parseWav2vec2Config(configJson: string | Record<string, unknown>, outputLayer?: number, source = 'wav2vec2 config.json'): Wav2vec2Config {
  const j = parseJsonObject(configJson, source);
  const bad = (msg: string): never => { throw new ModelMismatchError(`${source}: ${msg}`); };
  const b = new ConfigBounds(source);
  type Scalar = 'hidden_size' | 'num_attention_heads' | 'intermediate_size' | 'num_hidden_layers' | 'num_conv_pos_embeddings' | 'num_conv_pos_embedding_groups';
  const int = (key: Scalar): number => {
    const [min, max] = WAV2VEC2_CONFIG_BOUNDS[key];
    return b.int(key, j[key], min, max);
  };
  const ints = (key: 'conv_dim' | 'conv_kernel' | 'conv_stride'): number[] => {
    const [min, max] = WAV2VEC2_CONFIG_BOUNDS[key];
    return b.intList(key, j[key], { min, max, maxLength: WAV2VEC2_CONFIG_BOUNDS.conv_layers });
  };
  // Only the XLS-R / large-lv60 architecture is implemented: LayerNorm conv stack and pre-LN encoder.
  if ((j.feat_extract_norm ?? 'group') !== 'layer') bad(`feat_extract_norm '${String(j.feat_extract_norm ?? 'group')}' is not supported (only 'layer')`);
  if (j.do_stable_layer_norm !== true) bad('only do_stable_layer_norm = true (pre-LN encoder) is supported');
  for (const key of ['feat_extract_activation', 'hidden_act']) {
    if ((j[key] ?? 'gelu') !== 'gelu') bad(`${key} '${String(j[key])}' is not supported (only 'gelu')`);
  }
  const cfg: Wav2vec2Config = {
    hiddenSize: int('hidden_size'),
    numAttentionHeads: int('num_attention_heads'),
    intermediateSize: int('intermediate_size'),
    convDim: ints('conv_dim'),
    convKernel: ints('conv_kernel'),
    convStride: ints('conv_stride'),
    convBias: j.conv_bias === true,
    numConvPosEmbeddings: int('num_conv_pos_embeddings'),
    numConvPosEmbeddingGroups: int('num_conv_pos_embedding_groups'),
    layerNormEps: j.layer_norm_eps === undefined ? 1e-5 : b.num('layer_norm_eps', j.layer_norm_eps, 1e-12, 0.1),
    numHiddenLayers: int('num_hidden_layers'),
    outputLayer: 0,
  };
  cfg.outputLayer = outputLayer ?? cfg.numHiddenLayers;
  if (!Number.isInteger(cfg.outputLayer) || cfg.outputLayer < 1 || cfg.outputLayer > cfg.numHiddenLayers) {
    bad(`output_layer ${outputLayer} is outside 1..num_hidden_layers (${cfg.numHiddenLayers})`);
  }
  if (cfg.convDim.length !== cfg.convKernel.length || cfg.convDim.length !== cfg.convStride.length) {
    bad(`conv_dim / conv_kernel / conv_stride lengths differ (${cfg.convDim.length} / ${cfg.convKernel.length} / ${cfg.convStride.length})`);
  }
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0) bad(`hidden_size ${cfg.hiddenSize} is not divisible by num_attention_heads ${cfg.numAttentionHeads}`);
  if (cfg.hiddenSize % cfg.numConvPosEmbeddingGroups !== 0) bad(`hidden_size ${cfg.hiddenSize} is not divisible by num_conv_pos_embedding_groups ${cfg.numConvPosEmbeddingGroups}`);
  return cfg;
}

/** Frames the conv feature encoder produces from `samples` input samples (L = (L - k) // s + 1 per layer; 0 if too short). */
export function wav2vec2Frames(cfg: Pick<Wav2vec2Config, 'convKernel' | 'convStride'>, samples: number): number {
  let L = samples;
  for (let i = 0; i < cfg.convKernel.length; i++) {
    if (L < cfg.convKernel[i]) return 0;
    L = Math.floor((L - cfg.convKernel[i]) / cfg.convStride[i]) + 1;
  }
  return L;
}

/** Parameter shapes the encoder reads (keys without `wav2vec2.`; the positional conv by its folded `.weight`). */
export function wav2vec2ParamShapes(cfg: Wav2vec2Config): Map<string, number[]> {
  const H = cfg.hiddenSize, F = cfg.intermediateSize;
  const m = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number) => { m.set(`${p}.weight`, [out, inp]); m.set(`${p}.bias`, [out]); };
  const ln = (p: string, n: number) => { m.set(`${p}.weight`, [n]); m.set(`${p}.bias`, [n]); };
  let cin = 1;
  cfg.convDim.forEach((c, i) => {
    const p = `feature_extractor.conv_layers.${i}`;
    m.set(`${p}.conv.weight`, [c, cin, cfg.convKernel[i]]);
    if (cfg.convBias) m.set(`${p}.conv.bias`, [c]);
    ln(`${p}.layer_norm`, c);
    cin = c;
  });
  ln('feature_projection.layer_norm', cin);
  lin('feature_projection.projection', H, cin);
  m.set('encoder.pos_conv_embed.conv.weight', [H, H / cfg.numConvPosEmbeddingGroups, cfg.numConvPosEmbeddings]);
  m.set('encoder.pos_conv_embed.conv.bias', [H]);
  for (let i = 0; i < cfg.outputLayer; i++) {
    const p = `encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) lin(`${p}.attention.${proj}`, H, H);
    ln(`${p}.layer_norm`, H);
    lin(`${p}.feed_forward.intermediate_dense`, F, H);
    lin(`${p}.feed_forward.output_dense`, H, F);
    ln(`${p}.final_layer_norm`, H);
  }
  if (cfg.finalLayerNorm ?? true) ln('encoder.layer_norm', H);
  return m;
}

/**
 * Loads a wav2vec2 checkpoint (safetensors or torch zip; Wav2Vec2ForPreTraining keys under `wav2vec2.`,
 * or bare Wav2Vec2Model keys); pre-training heads and layers past `outputLayer` are ignored. The positional
 * conv's weight norm (g [1, 1, K], legacy or parametrizations spelling) folds over dim 2.
 */
export function loadWav2vec2Weights(bytes: Uint8Array, file: string, cfg: Wav2vec2Config): WeightStore {
  const flat = loadStateDict(bytes, file);
  const prefixed = stripPrefix(flat, 'wav2vec2.');
  const base = prefixed.size > 0 ? prefixed : flat;
  const store = new WeightStore(base, `${file}${prefixed.size > 0 ? ' [wav2vec2]' : ''}`);
  if (!store.has('feature_extractor.conv_layers.0.conv.weight')) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: not a wav2vec2 checkpoint (no feature_extractor.conv_layers.0.conv.weight with or without 'wav2vec2.'; found e.g. ${sample})`);
  }
  // weight_g must be [1, 1, K] (norm over dim 2), which is what WeightStore infers from its shape
  const posKey = 'encoder.pos_conv_embed.conv.';
  const gKey = [`${posKey}weight_g`, `${posKey}parametrizations.weight.original0`].find((k) => base.has(k));
  if (gKey) {
    const gs = base.get(gKey)!.shape;
    if (gs.length !== 3 || gs[0] !== 1 || gs[1] !== 1) {
      throw new ModelMismatchError(`${file}: '${gKey}' has shape [${gs.join(', ')}]; expected [1, 1, ${cfg.numConvPosEmbeddings}] (weight norm over dim 2)`);
    }
  }
  checkShapes(store, wav2vec2ParamShapes(cfg), file, prefixed.size > 0 ? 'wav2vec2.' : '');
  return store;
}

/**
 * Wav2Vec2FeatureExtractor's do_normalize for one utterance, reproducing numpy 1.x in float32:
 * mean and population variance by pairwise float32 summation, sqrt(var + 1e-7) in float64 rounded to
 * float32, then (x - mean) / std in float32.
 */
export function normalizeWav2vec2Input(wave16k: Float32Array): Float32Array {
  const n = wave16k.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const f = Math.fround;
  const mean = f(pairwiseSumF32(wave16k, 0, n) / n);
  const centred = new Float32Array(n);
  for (let i = 0; i < n; i++) { const d = f(wave16k[i] - mean); centred[i] = f(d * d); }
  const variance = f(pairwiseSumF32(centred, 0, n) / n);
  const std = f(Math.sqrt(variance + 1e-7));
  for (let i = 0; i < n; i++) out[i] = f(wave16k[i] - mean) / std;
  return out;
}

/** numpy's pairwise_sum for float32 (8 accumulators, blocks of 128, halves split at multiples of 8). */
function pairwiseSumF32(a: Float32Array, start: number, n: number): number {
  const f = Math.fround;
  if (n < 8) {
    let s = -0;
    for (let i = 0; i < n; i++) s = f(s + a[start + i]);
    return s;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let k = 0; k < 8; k++) r[k] = f(r[k] + a[start + i + k]);
    }
    let s = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])));
    for (; i < n; i++) s = f(s + a[start + i]);
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(pairwiseSumF32(a, start, n2) + pairwiseSumF32(a, start + n2, n - n2));
}

/** Builds the encoder graph from `weights` keyed without `wav2vec2.` (`feature_extractor...`, `encoder...`). */
export function buildWav2vec2(cfg: Wav2vec2Config, w: Weights, opts: Wav2vec2BuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('wav2vec2');
  const { hidden } = wav2vec2Body(g, cfg, w, opts);
  g.output(hidden, 'last_hidden_state', ['batch', 'frames', cfg.hiddenSize]);
  return g;
}

/**
 * The encoder's nodes in `g`: declares the `input_values` input and returns it with the final hidden
 * state (not yet a graph output), for builders that post-process it (nets/v2/hubert.ts).
 */
export function wav2vec2Body(g: GraphBuilder, cfg: Wav2vec2Config, w: Weights, opts: Wav2vec2BuildOptions = {}): { input: Value; hidden: Value } {
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const eps = cfg.layerNormEps;
  const shapes = wav2vec2ParamShapes(cfg);
  const get = (key: string) => w.get(key, shapes.get(key));
  const debug = (v: Value, name: string) => { if (opts.debugOutputs) g.output(v, name); };

  const input = g.input('input_values', 'float32', ['batch', 'samples']);

  // Conv feature encoder; the LayerNorm runs channels-last, the convs channels-first.
  let x = nn.unsqueeze(input, [1]); // [B, 1, S]
  let xLast: Value = x;
  g.scope('feature_extractor', () => g.scope('conv_layers', () => {
    cfg.convDim.forEach((_, i) => g.scope(i, () => {
      const p = `feature_extractor.conv_layers.${i}.`;
      const y = g.scope('conv', () => nn.conv(x, get(`${p}conv.weight`), cfg.convBias ? get(`${p}conv.bias`) : null, { stride: cfg.convStride[i] }));
      const ln = g.scope('layer_norm', () => nn.layerNorm(nn.transpose(y, [0, 2, 1]), eps, get(`${p}layer_norm.weight`), get(`${p}layer_norm.bias`)));
      xLast = nn.gelu(ln); // [B, T, C]
      x = nn.transpose(xLast, [0, 2, 1]);
      debug(x, `conv_layers.${i}`);
    }));
  }));

  const projected = g.scope('feature_projection', () => {
    const feats = g.scope('layer_norm', () => nn.layerNorm(xLast, eps, get('feature_projection.layer_norm.weight'), get('feature_projection.layer_norm.bias')));
    debug(feats, 'extract_features');
    return g.scope('projection', () => nn.linear(feats, get('feature_projection.projection.weight'), get('feature_projection.projection.bias')));
  });
  debug(projected, 'projected');

  let h = g.scope('encoder', () => {
    // Even kernel with padding K/2 yields T + 1 steps; the last one is dropped (Wav2Vec2SamePadLayer).
    const pos = g.scope('pos_conv_embed', () => {
      const K = cfg.numConvPosEmbeddings;
      const conv = g.scope('conv', () => nn.conv(nn.transpose(projected, [0, 2, 1]), get('encoder.pos_conv_embed.conv.weight'),
        get('encoder.pos_conv_embed.conv.bias'), { padding: Math.floor(K / 2), groups: cfg.numConvPosEmbeddingGroups }));
      const trimmed = K % 2 === 0 ? nn.slice(conv, [0], [-1], [2]) : conv;
      return nn.transpose(nn.gelu(trimmed), [0, 2, 1]);
    });
    debug(pos, 'pos_conv_embed');
    return nn.add(projected, pos);
  });

  g.scope('encoder', () => g.scope('layers', () => {
    for (let i = 0; i < cfg.outputLayer; i++) {
      const p = `encoder.layers.${i}.`;
      h = g.scope(i, () => {
        const a = g.scope('layer_norm', () => nn.layerNorm(h, eps, get(`${p}layer_norm.weight`), get(`${p}layer_norm.bias`)));
        const proj = (name: string) => [get(`${p}attention.${name}.weight`), get(`${p}attention.${name}.bias`)] as const;
        const att = g.scope('attention', () => selfAttention(nn, a, cfg.numAttentionHeads, {
          q: proj('q_proj'), k: proj('k_proj'), v: proj('v_proj'), out: proj('out_proj'),
        }));
        const r = nn.add(h, att);
        const f = g.scope('final_layer_norm', () => nn.layerNorm(r, eps, get(`${p}final_layer_norm.weight`), get(`${p}final_layer_norm.bias`)));
        const ff = g.scope('feed_forward', () => {
          const mid = nn.gelu(nn.linear(f, get(`${p}feed_forward.intermediate_dense.weight`), get(`${p}feed_forward.intermediate_dense.bias`), 'intermediate_dense'));
          return nn.linear(mid, get(`${p}feed_forward.output_dense.weight`), get(`${p}feed_forward.output_dense.bias`), 'output_dense');
        });
        return nn.add(r, ff);
      });
      debug(h, `layers.${i}`);
    }
  }));
  const out = (cfg.finalLayerNorm ?? true)
    ? g.scope('encoder', () => g.scope('layer_norm', () => nn.layerNorm(h, eps, get('encoder.layer_norm.weight'), get('encoder.layer_norm.bias'))))
    : h;
  return { input, hidden: out };
}

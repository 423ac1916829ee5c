/**
 * The Whisper encoder (Hugging Face `WhisperEncoder`, the content encoder of the offline Seed-VC presets)
 * as one ONNX graph. Module paths mirror the checkpoint keys under `model.encoder.`:
 *
 *   conv1 (k3 p1) -> GELU -> conv2 (k3 s2 p1) -> GELU -> + embed_positions
 *   -> layers[i]: x += out_proj(MHA(self_attn_layer_norm(x))); x += fc2(GELU(fc1(final_layer_norm(x))))
 *   -> layer_norm
 *
 * Graph input `input_features` [B, num_mel_bins, 2 * max_source_positions] (the 30 s log-mel window of
 * dsp whisperLogMel); output `last_hidden_state` [B, max_source_positions, d_model]. No attention mask: the
 * encoder always sees the whole padded window, exactly as Seed-VC's semantic_fn runs it.
 */
import { ModelMismatchError, InvalidInputError } from '../errors.ts';
import { WeightStore, loadStateDict, stripPrefix } from '../checkpoint/index.ts';
import { whisperLogMel } from '../dsp/index.ts';
import { ConfigBounds } from '../models/bounds.ts';
import { parseJsonObject } from '../models/json.ts';
import { checkShapes } from '../checkpoint/state-dict.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision } from '../onnx/nn.ts';
import { type Tensor, tensor, toFloat32 } from '../tensor.ts';
import type { Weights } from './weights.ts';

/** The encoder part of a Hugging Face Whisper `config.json`. */
export interface WhisperEncoderConfig {
  dModel: number;
  encoderLayers: number;
  encoderAttentionHeads: number;
  encoderFfnDim: number;
  numMelBins: number;
  /** Encoder frames (1500): the input has twice as many mel frames (conv2 has stride 2). */
  maxSourcePositions: number;
}

export interface WhisperBuildOptions {
  precision?: Precision;
}

/** LayerNorm epsilon of every Whisper LayerNorm (torch default). */
const LN_EPS = 1e-5;

/**
 * Accepted sizes: whisper tiny..large-v3 use d_model 384..1280, 4..32 layers, 6..20 heads, 80 / 128 mel
 * bins and 1500 positions; the bounds leave ample headroom and keep a hostile config from sizing gigabytes.
 */
export const WHISPER_CONFIG_BOUNDS = {
  d_model: [1, 8192], encoder_layers: [1, 128], encoder_attention_heads: [1, 256], encoder_ffn_dim: [1, 32768],
  num_mel_bins: [1, 512], max_source_positions: [1, 6000],
} as const;

/** Reads the encoder sizes from a Whisper `config.json` (text or parsed object); `source` names it in errors. */
export function parseWhisperConfig(configJson: string | Record<string, unknown>, source = 'Whisper config.json'): WhisperEncoderConfig {
  const j = parseJsonObject(configJson, source);
  const b = new ConfigBounds(source);
  const int = (key: keyof typeof WHISPER_CONFIG_BOUNDS, fallback?: number): number => {
    const [min, max] = WHISPER_CONFIG_BOUNDS[key];
    return b.int(key, j[key] ?? fallback, min, max);
  };
  const act = j.activation_function ?? 'gelu';
  if (act !== 'gelu') throw new ModelMismatchError(`${source}: activation_function '${String(act)}' is not supported (only 'gelu')`);
  const cfg: WhisperEncoderConfig = {
    dModel: int('d_model'),
    encoderLayers: int('encoder_layers'),
    encoderAttentionHeads: int('encoder_attention_heads'),
    encoderFfnDim: int('encoder_ffn_dim'),
    numMelBins: int('num_mel_bins', 80),
    maxSourcePositions: int('max_source_positions', 1500),
  };
  if (cfg.dModel % cfg.encoderAttentionHeads !== 0) {
    throw new ModelMismatchError(`${source}: d_model ${cfg.dModel} is not divisible by encoder_attention_heads ${cfg.encoderAttentionHeads}`);
  }
  return cfg;
}

/** Parameter shapes the encoder reads, keyed relative to `model.encoder.`. */
export function whisperEncoderParamShapes(cfg: WhisperEncoderConfig): Map<string, number[]> {
  const D = cfg.dModel, F = cfg.encoderFfnDim;
  const m = new Map<string, number[]>();
  const lin = (p: string, out: number, inp: number, bias = true) => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  const ln = (p: string) => { m.set(`${p}.weight`, [D]); m.set(`${p}.bias`, [D]); };
  m.set('conv1.weight', [D, cfg.numMelBins, 3]); m.set('conv1.bias', [D]);
  m.set('conv2.weight', [D, D, 3]); m.set('conv2.bias', [D]);
  m.set('embed_positions.weight', [cfg.maxSourcePositions, D]);
  for (let i = 0; i < cfg.encoderLayers; i++) {
    const p = `layers.${i}`;
    lin(`${p}.self_attn.q_proj`, D, D);
    lin(`${p}.self_attn.k_proj`, D, D, false);
    lin(`${p}.self_attn.v_proj`, D, D);
    lin(`${p}.self_attn.out_proj`, D, D);
    ln(`${p}.self_attn_layer_norm`);
    lin(`${p}.fc1`, F, D);
    lin(`${p}.fc2`, D, F);
    ln(`${p}.final_layer_norm`);
  }
  ln('layer_norm');
  return m;
}

/**
 * Loads the encoder weights of a Hugging Face Whisper checkpoint (safetensors or torch zip): keys under
 * `model.encoder.` (WhisperForConditionalGeneration / the published files) or `encoder.` (WhisperModel);
 * decoder and head weights are ignored. Checks every parameter against the config.
 */
export function loadWhisperEncoderWeights(bytes: Uint8Array, file: string, cfg: WhisperEncoderConfig): WeightStore {
  const flat = loadStateDict(bytes, file);
  let enc = stripPrefix(flat, 'model.encoder.');
  if (enc.size === 0) enc = stripPrefix(flat, 'encoder.');
  if (enc.size === 0) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: no Whisper encoder weights (expected keys under model.encoder.* or encoder.*; found e.g. ${sample})`);
  }
  const store = new WeightStore(enc, `${file} [encoder]`);
  checkShapes(store, whisperEncoderParamShapes(cfg), file, 'model.encoder.');
  return store;
}

/** Builds the encoder graph from `weights` keyed relative to the encoder (`conv1.weight`, `layers.0...`). */
export function buildWhisperEncoder(cfg: WhisperEncoderConfig, w: Weights, opts: WhisperBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('whisper_encoder');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const D = cfg.dModel, T = cfg.maxSourcePositions;
  const shapes = whisperEncoderParamShapes(cfg);
  const get = (key: string) => w.get(key, shapes.get(key));

  const x = g.input('input_features', 'float32', ['batch', cfg.numMelBins, 2 * T]);
  let h = g.scope('conv1', () => nn.gelu(nn.conv(x, get('conv1.weight'), get('conv1.bias'), { padding: 1 })));
  h = g.scope('conv2', () => nn.gelu(nn.conv(h, get('conv2.weight'), get('conv2.bias'), { padding: 1, stride: 2 })));
  // the whole position table is added (the input length is fixed at 2 * max_source_positions)
  h = g.scope('embed_positions', () => nn.add(nn.transpose(h, [0, 2, 1]), nn.weight('weight', get('embed_positions.weight'))));

  g.scope('layers', () => {
    for (let i = 0; i < cfg.encoderLayers; i++) {
      const p = `layers.${i}.`;
      h = g.scope(i, () => {
        const a = g.scope('self_attn_layer_norm', () => nn.layerNorm(h, LN_EPS, get(`${p}self_attn_layer_norm.weight`), get(`${p}self_attn_layer_norm.bias`)));
        const att = g.scope('self_attn', () => selfAttention(nn, a, cfg.encoderAttentionHeads, {
          q: [get(`${p}self_attn.q_proj.weight`), get(`${p}self_attn.q_proj.bias`)],
          k: [get(`${p}self_attn.k_proj.weight`), null],
          v: [get(`${p}self_attn.v_proj.weight`), get(`${p}self_attn.v_proj.bias`)],
          out: [get(`${p}self_attn.out_proj.weight`), get(`${p}self_attn.out_proj.bias`)],
        }));
        const r = nn.add(h, att);
        const f = g.scope('final_layer_norm', () => nn.layerNorm(r, LN_EPS, get(`${p}final_layer_norm.weight`), get(`${p}final_layer_norm.bias`)));
        const ff = g.scope('fc1', () => nn.gelu(nn.linear(f, get(`${p}fc1.weight`), get(`${p}fc1.bias`))));
        return nn.add(r, g.scope('fc2', () => nn.linear(ff, get(`${p}fc2.weight`), get(`${p}fc2.bias`))));
      });
    }
  });
  const out = g.scope('layer_norm', () => nn.layerNorm(h, LN_EPS, get('layer_norm.weight'), get('layer_norm.bias')));
  g.output(out, 'last_hidden_state', ['batch', T, D]);
  return g;
}

/** Projection parameters of one attention input: weight [out, in] and optional bias. */
export type ProjParams = readonly [Tensor<'float32'>, Tensor<'float32'> | null];

/**
 * Multi-head self-attention without mask, as HF Whisper / wav2vec2 compute it: softmax((x Wq + bq) * hd^-0.5
 * (x Wk + bk)^T) (x Wv + bv), then out_proj. q, k and v run as ONE MatMul with the q scaling folded into
 * its weight and bias at build time (exact for power-of-two head sizes); softmax stays fp32.
 */
export function selfAttention(nn: Nn, x: Value, heads: number, p: { q: ProjParams; k: ProjParams; v: ProjParams; out: ProjParams }): Value {
  const [wq, bq] = p.q, [wk, bk] = p.k, [wv, bv] = p.v;
  const D = wq.shape[0], inp = wq.shape[1];
  const hd = D / heads;
  const scale = Math.fround(Math.pow(hd, -0.5));
  const wAll = new Float32Array(3 * D * inp);
  const bAll = new Float32Array(3 * D);
  for (let i = 0; i < D * inp; i++) wAll[i] = wq.data[i] * scale;
  wAll.set(wk.data, D * inp);
  wAll.set(wv.data, 2 * D * inp);
  const parts = [bq, bk, bv];
  for (let j = 0; j < 3; j++) {
    const b = parts[j];
    if (!b) continue;
    for (let i = 0; i < D; i++) bAll[j * D + i] = j === 0 ? b.data[i] * scale : b.data[i];
  }
  const anyBias = parts.some((b) => b !== null);
  const qkv = nn.linear(x, tensor('float32', [3 * D, inp], wAll), anyBias ? tensor('float32', [3 * D], bAll) : null, 'qkv_proj');
  const [q, k, v] = nn.split(qkv, [D, D, D], -1);
  const split = (y: Value, perm: number[]) => nn.transpose(nn.reshape(y, [0, 0, heads, hd]), perm);
  const scores = nn.matmul(split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])); // [B, H, T, T]
  const ctx = nn.matmul(nn.softmax(scores, -1), split(v, [0, 2, 1, 3])); // [B, H, T, hd]
  const merged = nn.reshape(nn.transpose(ctx, [0, 2, 1, 3]), [0, 0, D]);
  return nn.linear(merged, p.out[0], p.out[1], 'out_proj');
}

/** Runs an encoder session's `run`, e.g. `session.run.bind(session)`. */
export type RunFn = (feeds: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

/**
 * Seed-VC's semantic_fn for one Whisper window (<= 30 s of 16 kHz audio): log-mel features padded to 30 s,
 * the encoder, and the frames [:samples // 320 + 1] of `last_hidden_state` -> [1, frames, d_model].
 * Longer inputs must be windowed by the caller (30 s windows, 5 s overlap).
 */
export async function whisperContent(run: RunFn, wave16k: Float32Array, cfg?: Pick<WhisperEncoderConfig, 'numMelBins' | 'maxSourcePositions'>): Promise<Tensor<'float32'>> {
  const T = cfg?.maxSourcePositions ?? 1500;
  const nSamples = T * 320;
  if (wave16k.length > nSamples) {
    throw new InvalidInputError(`whisperContent: ${wave16k.length} samples exceed one ${nSamples / 16000} s window; window the input first`);
  }
  const feats = whisperLogMel(wave16k, { nMels: cfg?.numMelBins ?? 80, nSamples });
  const out = await run({ input_features: tensor('float32', [1, feats.nMels, feats.frames], feats.data) });
  const hs = toFloat32(out.last_hidden_state);
  const [, frames, d] = hs.shape;
  const keep = Math.min(frames, Math.floor(wave16k.length / 320) + 1);
  return tensor('float32', [1, keep, d], hs.data.slice(0, keep * d));
}

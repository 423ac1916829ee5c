/**
 * The ASTRAL content extractors of Seed-VC v2 (modules/astral_quantization: AstralQuantizer minus its
 * HuBERT, which nets/v2/hubert.ts builds and both extractors share). One graph per extractor, module
 * paths mirroring the checkpoint keys:
 *
 *   encoder (ConvNeXtV2Stage): input_projection (Conv1d k1, only when input_dim != dim)
 *     -> blocks[i]: x + pwconv2(GRN(GELU(pwconv1(norm(dwconv(x))))))     (dwconv: depthwise k7)
 *     -> output_projection (Conv1d k1, only when output_dim is set and != dim)
 *   quantizer (BinarySphericalQuantize): project_in -> sign bits -> ids (column 0 = most significant bit)
 *
 * `norm` is a LayerNorm over channels with eps 1e-6; GRN normalises each channel by its L2 norm over the
 * WHOLE time axis (divided by the mean of those norms over channels + 1e-6), so every token depends on the
 * whole extractor input. A bit is 1 where project_in(x) > 0 (the L2 normalisation does not change signs;
 * 0 gives 0); id = sum_j bit_j 2^(d-1-j).
 *
 * Graph input `hidden` [B, T, input_dim] (HuBERT's output, channels-last); output `indices` [B, T] int64.
 * debugOutputs adds `encoder_out` [B, T, dim], `project_in` [B, T, d], `bits` [B, T, d] int64 and
 * `quantized` [B, T, dim] = project_out(sign / sqrt(d)) (returned by the reference, unused by Seed-VC).
 */
import { InvalidInputError, ModelMismatchError } from '../../errors.ts';
import { WeightStore, checkShapes, loadStateDict } from '../../checkpoint/index.ts';
import { GraphBuilder, type Value } from '../../onnx/graph.ts';
import { Nn, type Precision, reshapeTensor } from '../../onnx/nn.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import type { Weights } from '../weights.ts';
import { normalizeHubertInput } from './hubert.ts';

/** One AstralQuantizer's encoder + quantizer (content_extractor_{narrow,wide} in configs/v2/vc_wrapper.yaml). */
export interface AstralConfig {
  /** ConvNeXtV2Stage dim. */
  dim: number;
  /** Channels of the encoder input (HuBERT's hidden size); an input projection exists when != dim. */
  inputDim: number;
  /** Channels of the encoder output (output_dim, default dim); an output projection exists when != dim. */
  outputDim: number;
  intermediateDim: number;
  numBlocks: number;
  dilation: number;
  /** Codebook size (a power of two): 2048 (wide) or 32 (narrow). */
  codebookSize: number;
  /** The quantizer's dim (its input width; = outputDim). */
  quantizerDim: number;
  /** HuBERT layers the extractor keeps (ssl_output_layer). */
  sslOutputLayer: number;
  /** The HuBERT repo it names (ssl_model_name). */
  sslModelName: string;
}

export interface AstralBuildOptions {
  precision?: Precision;
  /** Also output encoder_out, project_in, bits and quantized (see the module comment). */
  debugOutputs?: boolean;
}

/** Bits per code: log2(codebook size). */
export function astralBits(cfg: Pick<AstralConfig, 'codebookSize'>): number {
  return Math.round(Math.log2(cfg.codebookSize));
}

/**
 * Reads one `content_extractor_*` node of a v2 wrapper YAML (already parsed; anchors resolved):
 * `encoder` (ConvNeXtV2Stage) and `quantizer` (BinarySphericalQuantize). Only the features the
 * released models use are accepted (no down/upsampling, interpolation or speaker conditioning).
 */
export function parseAstralConfig(node: unknown, path = 'content_extractor'): AstralConfig {
  const obj = (v: unknown, p: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInputError(`${p}: expected a mapping`);
    return v as Record<string, unknown>;
  };
  // official extractors: dim 512, 12 blocks, codebooks of 2048 / 32, HuBERT layer 18; bounds with ample headroom
  const MAX: Record<string, number> = { dim: 8192, input_dim: 8192, output_dim: 8192, intermediate_dim: 32_768, num_blocks: 256, dilation: 64, codebook_size: 65_536, ssl_output_layer: 128 };
  const posInt = (o: Record<string, unknown>, key: string, p: string, fallback?: number): number => {
    const v = o[key] ?? fallback;
    const max = MAX[key] ?? 8192;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) throw new InvalidInputError(`${p}.${key}: expected an integer in 1..${max}, got ${JSON.stringify(o[key] ?? v)}`);
    return v;
  };
  const root = obj(node, path);
  const enc = obj(root.encoder, `${path}.encoder`);
  const q = obj(root.quantizer, `${path}.quantizer`);
  for (const key of ['downsample_layer_indices', 'upsample_layer_indices', 'interpolation_layer_indices']) {
    if (enc[key] !== undefined && enc[key] !== null) throw new InvalidInputError(`${path}.encoder.${key}: not supported (the released ASTRAL extractors have none)`);
  }
  if (enc.gin_channels !== undefined && enc.gin_channels !== 0) throw new InvalidInputError(`${path}.encoder.gin_channels: speaker conditioning is not supported`);
  if (q.spherical === false) throw new InvalidInputError(`${path}.quantizer.spherical: only spherical BSQ is supported`);
  if (q.num_codebooks !== undefined && q.num_codebooks !== 1) throw new InvalidInputError(`${path}.quantizer.num_codebooks: only 1 is supported`);
  const dim = posInt(enc, 'dim', `${path}.encoder`, 512);
  const codebookSize = posInt(q, 'codebook_size', `${path}.quantizer`);
  if ((codebookSize & (codebookSize - 1)) !== 0) throw new InvalidInputError(`${path}.quantizer.codebook_size: ${codebookSize} is not a power of two`);
  const outputDim = posInt(enc, 'output_dim', `${path}.encoder`, dim);
  const cfg: AstralConfig = {
    dim,
    inputDim: posInt(enc, 'input_dim', `${path}.encoder`, dim),
    outputDim,
    intermediateDim: posInt(enc, 'intermediate_dim', `${path}.encoder`, 2048),
    numBlocks: posInt(enc, 'num_blocks', `${path}.encoder`, 1),
    dilation: posInt(enc, 'dilation', `${path}.encoder`, 1),
    codebookSize,
    quantizerDim: posInt(q, 'dim', `${path}.quantizer`, astralBits({ codebookSize })),
    sslOutputLayer: posInt(root, 'ssl_output_layer', path, 18),
    sslModelName: typeof root.ssl_model_name === 'string' ? root.ssl_model_name : 'facebook/hubert-large-ll60k',
  };
  if (cfg.quantizerDim !== cfg.outputDim) {
    throw new InvalidInputError(`${path}: quantizer.dim ${cfg.quantizerDim} differs from the encoder's output width ${cfg.outputDim}`);
  }
  return cfg;
}

/** Parameter shapes the extractor reads (keys as in the ASTRAL checkpoint: encoder.*, quantizer.*). */
export function astralParamShapes(cfg: AstralConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const D = cfg.dim, I = cfg.intermediateDim, d = astralBits(cfg);
  const lin = (p: string, out: number, inp: number) => { m.set(`${p}.weight`, [out, inp]); m.set(`${p}.bias`, [out]); };
  if (cfg.inputDim !== D) { m.set('encoder.input_projection.weight', [D, cfg.inputDim, 1]); m.set('encoder.input_projection.bias', [D]); }
  for (let i = 0; i < cfg.numBlocks; i++) {
    const p = `encoder.blocks.${i}`;
    m.set(`${p}.dwconv.weight`, [D, 1, 7]); m.set(`${p}.dwconv.bias`, [D]);
    m.set(`${p}.norm.weight`, [D]); m.set(`${p}.norm.bias`, [D]);
    lin(`${p}.pwconv1`, I, D);
    m.set(`${p}.grn.gamma`, [1, 1, I]); m.set(`${p}.grn.beta`, [1, 1, I]);
    lin(`${p}.pwconv2`, D, I);
  }
  if (cfg.outputDim !== D) { m.set('encoder.output_projection.weight', [cfg.outputDim, D, 1]); m.set('encoder.output_projection.bias', [cfg.outputDim]); }
  if (cfg.quantizerDim !== d) {
    lin('quantizer.project_in', d, cfg.quantizerDim);
    lin('quantizer.project_out', cfg.quantizerDim, d);
  }
  return m;
}

/**
 * Loads an ASTRAL extractor checkpoint (bsq32_light.pth / bsq2048_light.pth: an AstralQuantizer state dict
 * with `encoder.*` and `quantizer.*`, optionally under `net.` or `module.`; any `ssl_model.*` is ignored).
 * The persistent `quantizer.mask` buffer, when present, must hold the MSB-first bit weights.
 */
export function loadAstralWeights(bytes: Uint8Array, file: string, cfg: AstralConfig): WeightStore {
  const flat = loadStateDict(bytes, file);
  const sd = new Map<string, Tensor>();
  for (const [k, v] of flat) {
    const key = k.replace(/^(net\.)?(module\.)?/, '');
    if (key.startsWith('encoder.') || key.startsWith('quantizer.')) sd.set(key, v);
  }
  if (!sd.has('encoder.blocks.0.dwconv.weight')) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: not an ASTRAL extractor checkpoint (no encoder.blocks.0.dwconv.weight; found e.g. ${sample})`);
  }
  const store = new WeightStore(sd, file);
  checkShapes(store, astralParamShapes(cfg), file);
  const mask = store.raw('quantizer.mask');
  if (mask) {
    const d = astralBits(cfg);
    const got = Array.from(mask.data as ArrayLike<number | bigint>, Number);
    const want = Array.from({ length: d }, (_, j) => 2 ** (d - 1 - j));
    if (got.join(',') !== want.join(',')) {
      throw new ModelMismatchError(`${file}: quantizer.mask is [${got.join(', ')}]; expected the MSB-first bit weights [${want.join(', ')}] of a ${cfg.codebookSize}-code quantizer`);
    }
  }
  return store;
}

/** Builds one extractor graph (see the module comment). */
export function buildAstralExtractor(cfg: AstralConfig, w: Weights, opts: AstralBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder(`astral_${cfg.codebookSize}`);
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const shapes = astralParamShapes(cfg);
  const get = (key: string) => w.get(key, shapes.get(key));
  const D = cfg.dim, d = astralBits(cfg);
  const debug = (v: Value, name: string) => { if (opts.debugOutputs) g.output(v, name); };

  const hidden = g.input('hidden', 'float32', ['batch', 'frames', cfg.inputDim]);
  const encoded = g.scope('encoder', () => {
    // The residual stream runs channels-last; only the depthwise conv needs [B, C, T].
    let x = hidden;
    if (cfg.inputDim !== D) {
      const wt = get('encoder.input_projection.weight');
      x = g.scope('input_projection', () => nn.linear(x, reshapeTensor(wt, [D, cfg.inputDim]), get('encoder.input_projection.bias')));
    }
    g.scope('blocks', () => {
      for (let i = 0; i < cfg.numBlocks; i++) {
        const p = `encoder.blocks.${i}.`;
        x = g.scope(i, () => {
          const dw = g.scope('dwconv', () => nn.conv(nn.transpose(x, [0, 2, 1]), get(`${p}dwconv.weight`), get(`${p}dwconv.bias`),
            { padding: 3 * cfg.dilation, dilation: cfg.dilation, groups: D }));
          const normed = g.scope('norm', () => nn.layerNorm(nn.transpose(dw, [0, 2, 1]), 1e-6, get(`${p}norm.weight`), get(`${p}norm.bias`)));
          const h = nn.gelu(g.scope('pwconv1', () => nn.linear(normed, get(`${p}pwconv1.weight`), get(`${p}pwconv1.bias`))));
          const grn = g.scope('grn', () => globalResponseNorm(nn, h, get(`${p}grn.gamma`), get(`${p}grn.beta`)));
          return nn.add(x, g.scope('pwconv2', () => nn.linear(grn, get(`${p}pwconv2.weight`), get(`${p}pwconv2.bias`))));
        });
      }
    });
    if (cfg.outputDim !== D) {
      const wt = get('encoder.output_projection.weight');
      x = g.scope('output_projection', () => nn.linear(x, reshapeTensor(wt, [cfg.outputDim, D]), get('encoder.output_projection.bias')));
    }
    return x;
  });
  debug(encoded, 'encoder_out');

  g.scope('quantizer', () => {
    const hasProj = cfg.quantizerDim !== d;
    const p = hasProj ? g.scope('project_in', () => nn.linear(encoded, get('quantizer.project_in.weight'), get('quantizer.project_in.bias'))) : encoded;
    debug(p, 'project_in');
    const positive = nn.greater(p, nn.scalar(0));
    const bits = nn.cast(positive, 'int64');
    const weights = g.constant(Array.from({ length: d }, (_, j) => 2 ** (d - 1 - j)), 'int64', [d]);
    const indices = g.op('ReduceSum', [nn.mul(bits, weights), nn.ints([-1])], { keepdims: 0 });
    g.output(indices, 'indices', ['batch', 'frames']);
    debug(bits, 'bits');
    if (opts.debugOutputs) {
      // project_out(l2norm(sign)) = project_out(sign / sqrt(d)), the norm taken in float32 as F.normalize does
      const mag = Math.fround(1 / Math.fround(Math.sqrt(d)));
      const code = nn.where(positive, nn.scalar(mag), nn.scalar(-mag));
      const q = hasProj ? g.scope('project_out', () => nn.linear(code, get('quantizer.project_out.weight'), get('quantizer.project_out.bias'))) : code;
      g.output(q, 'quantized');
    }
  });
  return g;
}

/** GRN over [B, T, C]: gamma * (x * N) + beta + x, N = ||x||_T / (mean_C ||x||_T + 1e-6) (statistics fp32). */
function globalResponseNorm(nn: Nn, x: Value, gamma: Tensor<'float32'>, beta: Tensor<'float32'>): Value {
  const xf = nn.f32(x);
  const gx = nn.sqrt(nn.reduceSum(nn.mul(xf, xf), [1])); // [B, 1, C]
  const nx = nn.div(gx, nn.add(nn.reduceMean(gx, [-1]), nn.scalar(1e-6)));
  const scaled = nn.mul(nn.weight('gamma', gamma), nn.mul(xf, nx));
  return nn.add(nn.add(scaled, nn.weight('beta', beta)), xf);
}

/** Runs a session: `session.run.bind(session)`. */
export type AstralRunFn = (feeds: Record<string, Tensor>) => Promise<Record<string, Tensor>>;

/** 16 kHz samples one extractor call takes at most (30 s); longer inputs are windowed. */
export const ASTRAL_MAX_SAMPLES = 16000 * 30;
/** Overlap of consecutive windows (5 s), whose tokens (50 per second) the later window drops. */
export const ASTRAL_OVERLAP_SAMPLES = 16000 * 5;

/** Tokens of the overlap (HuBERT's 50 Hz x 5 s). */
export const ASTRAL_OVERLAP_TOKENS = 250;

/** The 16 kHz windows [start, end) and tokens dropped of VoiceConversionWrapper._process_content_features. */
export function astralWindows(samples: number): { start: number; end: number; drop: number }[] {
  if (samples <= ASTRAL_MAX_SAMPLES) return [{ start: 0, end: samples, drop: 0 }];
  // Window 0 = [0, 30 s); each later one = the last 5 s of the previous window + up to 25 s of new audio.
  const out = [{ start: 0, end: ASTRAL_MAX_SAMPLES, drop: 0 }];
  let traversed = ASTRAL_MAX_SAMPLES;
  while (traversed < samples) {
    const prev = out[out.length - 1];
    const end = Math.min(samples, traversed + ASTRAL_MAX_SAMPLES - ASTRAL_OVERLAP_SAMPLES);
    out.push({ start: prev.end - ASTRAL_OVERLAP_SAMPLES, end, drop: ASTRAL_OVERLAP_TOKENS });
    traversed = end;
  }
  return out;
}

/**
 * Content tokens of a 16 kHz utterance as Seed-VC v2 computes them (_process_content_features): per
 * window, HuBERT on the window's own normalisation, then each extractor; later windows drop their first
 * 250 tokens (the 5 s overlap). HuBERT runs once per window for all extractors (the reference runs it per
 * extractor on the same input: same result). Returns one [1, N] int64 tensor per extractor, in order.
 */
export async function astralTokens(
  hubert: AstralRunFn,
  extractors: readonly AstralRunFn[],
  wave16k: Float32Array,
  onWindow?: (index: number, count: number) => void,
): Promise<Tensor<'int64'>[]> {
  if (wave16k.length < 400) throw new InvalidInputError(`astralTokens: ${wave16k.length} samples at 16 kHz are too short for HuBERT (at least 400)`);
  const windows = astralWindows(wave16k.length);
  const parts: bigint[][][] = extractors.map(() => []);
  for (let w = 0; w < windows.length; w++) {
    const { start, end, drop } = windows[w];
    const input = normalizeHubertInput(wave16k.subarray(start, end));
    const { hidden } = await hubert({ input_values: tensor('float32', [1, input.length], input) });
    for (let e = 0; e < extractors.length; e++) {
      const { indices } = await extractors[e]({ hidden });
      parts[e].push(Array.from(indices.data as BigInt64Array).slice(drop));
    }
    onWindow?.(w, windows.length);
  }
  return parts.map((p) => {
    const all = BigInt64Array.from(p.flat());
    return tensor('int64', [1, all.length], all);
  });
}

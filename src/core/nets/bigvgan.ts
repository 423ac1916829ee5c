/**
 * NVIDIA BigVGAN v2 generator (modules/bigvgan/bigvgan.py), the mel -> waveform vocoder of Seed-VC
 * (bigvgan_v2_22khz_80band_256x, and bigvgan_v2_44khz_128band_512x for the singing model), built as one
 * ONNX graph. Module paths mirror the checkpoint keys under `generator.`:
 *
 *   conv_pre -> for each stage i: ups.i.0 (ConvTranspose1d) -> mean of resblocks[i*K .. i*K+K-1]
 *   (AMPBlock1/2: anti-aliased Snake/SnakeBeta activations.{l} around dilated convs1/convs2)
 *   -> activation_post -> conv_post -> clamp(-1, 1) (or tanh).
 *
 * Anti-aliased activation (Activation1d): 2x kaiser-sinc upsampling, Snake(Beta), 2x low-pass
 * downsampling, in polyphase form so that no transposed or strided depthwise conv and no interleaving
 * copy is needed:
 *   - the upsampler's even and odd output samples are two depthwise convs of the edge-padded input;
 *   - the snake runs on each phase (it is elementwise);
 *   - the downsampler is one depthwise conv per phase, summed; the replicate padding of the interleaved
 *     signal becomes "first even sample" on the left and "last odd sample" on the right of both phases.
 * This equals the reference's pad / conv_transpose / crop and pad / strided conv up to summation order.
 * Signals are kept as [B, C, 1, T] and every conv is a 2-D conv with a [1, k] kernel: ORT's CPU provider
 * then runs the depthwise filters in its blocked NCHWc kernels, which it does not do for 1-D convs
 * (official 22 kHz size: ~3.5x faster anti-alias convs, ~10 % faster overall).
 *
 * Weight norm is folded on load (WeightStore; ConvTranspose1d's `g` is per INPUT channel, axis 0 of
 * its weight, which WeightStore infers from g's shape). Snake parameters are stored log-scale when
 * `snake_logscale` is set: exp() and the 1/(beta + 1e-9) are folded into constants here.
 *
 * Precision: the network convs (conv_pre, ups, resblock convs, conv_post) follow the Nn policy (fp16
 * under `precision: 'fp16'`); the snakes and the anti-alias filters always run in fp32.
 */
import { InvalidInputError, ModelMismatchError } from '../errors.ts';
import { WeightStore, loadStateDict, stripPrefix } from '../checkpoint/index.ts';
import { checkShapes } from '../checkpoint/state-dict.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision, reshapeTensor } from '../onnx/nn.ts';
import { type Tensor, tensor } from '../tensor.ts';
import type { Weights } from './weights.ts';

/** The generator part of a BigVGAN config.json. */
export interface BigvganConfig {
  numMels: number;
  upsampleRates: number[];
  upsampleKernelSizes: number[];
  upsampleInitialChannel: number;
  /** "1" = AMPBlock1 (convs1 + convs2), "2" = AMPBlock2 (convs only). */
  resblock: '1' | '2';
  resblockKernelSizes: number[];
  resblockDilationSizes: number[][];
  activation: 'snake' | 'snakebeta';
  /** Snake alpha/beta stored as logarithms (v2 checkpoints). */
  snakeLogscale: boolean;
  /** tanh at the end instead of clamp(-1, 1) (reference default true; v2 configs set false). */
  useTanhAtFinal: boolean;
  /** conv_post has a bias (reference default true; v2 configs set false). */
  useBiasAtFinal: boolean;
  /** Samples per mel frame: the product of upsample_rates. */
  hopSize: number;
  /** sampling_rate of the config, when present (informational). */
  samplingRate?: number;
}

export interface BigvganBuildOptions {
  precision?: Precision;
  /** Also output `conv_pre`, `ups.{i}`, `activation_post` and the pre-clamp `conv_post` (parity bisecting). */
  debugOutputs?: boolean;
}

/** Kernel size of the 2x alias-free resamplers (the Activation1d default every BigVGAN uses). */
const FILTER_SIZE = 12;
const SNAKE_EPS = 1e-9;

/**
 * Accepted sizes: the official v2 generators use 80 / 100 / 128 mels, six upsampling stages of rate <= 8
 * (kernels <= 16, hop 256 / 512), 1536 initial channels and resblock kernels 3, 7, 11 with dilations 1, 3, 5;
 * the bounds leave ample headroom and keep a hostile config from sizing gigabytes.
 */
export const BIGVGAN_CONFIG_BOUNDS = { mels: 512, stages: 16, upsampleRate: 64, kernel: 256, hop: 8192, channels: 8192, resblockKernel: 63, dilation: 64 } as const;

/** Parses the official BigVGAN config.json (text or parsed object) into the generator fields. */
export function parseBigvganConfig(json: unknown, source = 'config.json'): BigvganConfig {
  let obj: unknown = json;
  if (typeof json === 'string') {
    try { obj = JSON.parse(json); } catch (e) { throw new InvalidInputError(`${source}: not valid JSON (${(e as Error).message})`); }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InvalidInputError(`${source}: expected a JSON object`);
  const o = obj as Record<string, unknown>;
  const bad = (key: string, what: string): never => {
    throw new InvalidInputError(`${source}: '${key}' ${o[key] === undefined ? 'is missing' : `is ${JSON.stringify(o[key])}`}, expected ${what}`);
  };
  const B = BIGVGAN_CONFIG_BOUNDS;
  const posInt = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;
  const int = (key: string, max: number): number => (posInt(o[key], max) ? o[key] as number : bad(key, `an integer in 1..${max}`));
  const ints = (key: string, max: number): number[] => {
    const v = o[key];
    return Array.isArray(v) && v.length > 0 && v.length <= B.stages && v.every((x) => posInt(x, max)) ? [...v] as number[] : bad(key, `a list of 1..${B.stages} integers in 1..${max}`);
  };
  const bool = (key: string, dflt?: boolean): boolean => {
    const v = o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    return typeof v === 'boolean' ? v : bad(key, 'true or false');
  };

  const resblock = String(o.resblock) as '1' | '2';
  if (resblock !== '1' && resblock !== '2') bad('resblock', '"1" or "2"');
  const activation = o.activation;
  if (activation !== 'snake' && activation !== 'snakebeta') bad('activation', '"snake" or "snakebeta"');
  const upsampleRates = ints('upsample_rates', B.upsampleRate);
  if (upsampleRates.reduce((x, y) => x * y, 1) > B.hop) bad('upsample_rates', `rates whose product (the hop size) is at most ${B.hop}`);
  const upsampleKernelSizes = ints('upsample_kernel_sizes', B.kernel);
  if (upsampleKernelSizes.length !== upsampleRates.length) bad('upsample_kernel_sizes', `${upsampleRates.length} entries (one per upsample rate)`);
  upsampleRates.forEach((u, i) => {
    // padding (k - u) / 2 must be exact for the stage to multiply the length by u
    if ((upsampleKernelSizes[i] - u) % 2 !== 0 || upsampleKernelSizes[i] < u) bad('upsample_kernel_sizes', `kernel sizes k with k >= u and k - u even (stage ${i}: u = ${u})`);
  });
  const upsampleInitialChannel = int('upsample_initial_channel', B.channels);
  if (upsampleInitialChannel % 2 ** upsampleRates.length !== 0) bad('upsample_initial_channel', `a multiple of ${2 ** upsampleRates.length}`);
  const resblockKernelSizes = ints('resblock_kernel_sizes', B.resblockKernel);
  // 'same' padding (k - 1) * d / 2 needs odd kernels, or the residual adds would not line up
  if (resblockKernelSizes.some((k) => k % 2 === 0)) bad('resblock_kernel_sizes', 'odd kernel sizes');
  const dil = o.resblock_dilation_sizes;
  if (!Array.isArray(dil) || dil.length !== resblockKernelSizes.length || !dil.every((d) => Array.isArray(d) && d.length > 0 && d.length <= B.stages && d.every((x) => posInt(x, B.dilation)))) {
    bad('resblock_dilation_sizes', `${resblockKernelSizes.length} lists (one per resblock kernel) of 1..${B.stages} integers in 1..${B.dilation}`);
  }
  const samplingRate = o.sampling_rate;
  return {
    numMels: int('num_mels', B.mels),
    upsampleRates,
    upsampleKernelSizes,
    upsampleInitialChannel,
    resblock,
    resblockKernelSizes,
    resblockDilationSizes: (dil as number[][]).map((d) => [...d]),
    activation: activation as 'snake' | 'snakebeta',
    snakeLogscale: bool('snake_logscale'),
    useTanhAtFinal: bool('use_tanh_at_final', true),
    useBiasAtFinal: bool('use_bias_at_final', true),
    hopSize: upsampleRates.reduce((a, b) => a * b, 1),
    samplingRate: typeof samplingRate === 'number' ? samplingRate : undefined,
  };
}

/** Channels after upsampling stage i. */
function stageChannels(cfg: BigvganConfig, i: number): number {
  return cfg.upsampleInitialChannel / 2 ** (i + 1);
}

/** Per resblock kernel: the dilations and the number of activations of one AMP block. */
function ampLayout(cfg: BigvganConfig, j: number): { dilations: number[]; activations: number } {
  const dilations = cfg.resblockDilationSizes[j];
  return { dilations, activations: cfg.resblock === '1' ? 2 * dilations.length : dilations.length };
}

/** Parameter shapes the generator reads (folded `.weight` names, keys relative to `generator.`). */
export function bigvganParamShapes(cfg: BigvganConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const c0 = cfg.upsampleInitialChannel;
  m.set('conv_pre.weight', [c0, cfg.numMels, 7]);
  m.set('conv_pre.bias', [c0]);
  const activation = (prefix: string, ch: number) => {
    m.set(`${prefix}.act.alpha`, [ch]);
    if (cfg.activation === 'snakebeta') m.set(`${prefix}.act.beta`, [ch]);
    m.set(`${prefix}.upsample.filter`, [1, 1, FILTER_SIZE]);
    m.set(`${prefix}.downsample.lowpass.filter`, [1, 1, FILTER_SIZE]);
  };
  const nk = cfg.resblockKernelSizes.length;
  for (let i = 0; i < cfg.upsampleRates.length; i++) {
    const ch = stageChannels(cfg, i);
    m.set(`ups.${i}.0.weight`, [2 * ch, ch, cfg.upsampleKernelSizes[i]]);
    m.set(`ups.${i}.0.bias`, [ch]);
    for (let j = 0; j < nk; j++) {
      const r = `resblocks.${i * nk + j}`;
      const k = cfg.resblockKernelSizes[j];
      const { dilations, activations } = ampLayout(cfg, j);
      const convSets = cfg.resblock === '1' ? ['convs1', 'convs2'] : ['convs'];
      for (const set of convSets) {
        for (let l = 0; l < dilations.length; l++) {
          m.set(`${r}.${set}.${l}.weight`, [ch, ch, k]);
          m.set(`${r}.${set}.${l}.bias`, [ch]);
        }
      }
      for (let a = 0; a < activations; a++) activation(`${r}.activations.${a}`, ch);
    }
  }
  const chLast = stageChannels(cfg, cfg.upsampleRates.length - 1);
  activation('activation_post', chLast);
  m.set('conv_post.weight', [1, chLast, 7]);
  if (cfg.useBiasAtFinal) m.set('conv_post.bias', [1]);
  return m;
}

/**
 * Reads `bigvgan_generator.pt` (`{'generator': state_dict}`, weight-normed or already folded; a bare
 * state_dict is accepted too), returns its generator weights and checks every parameter against `cfg`.
 */
export function loadBigvganWeights(bytes: Uint8Array, file: string, cfg: BigvganConfig): WeightStore {
  const flat = loadStateDict(bytes, file);
  let sd = stripPrefix(flat, 'generator.');
  if (sd.size === 0) sd = stripPrefix(flat, 'module.', true); // bare (possibly DataParallel) state_dict
  const store = new WeightStore(sd, `${file} [generator]`);
  if (!store.has('conv_pre.weight') || !store.has('conv_post.weight')) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: not a BigVGAN generator checkpoint: expected keys generator.conv_pre.* and generator.conv_post.* (found e.g. ${sample})`);
  }
  checkShapes(store, bigvganParamShapes(cfg), file, 'generator.');
  return store;
}

/** Builds the generator graph: input `mel` [B, num_mels, frames], output `waveform` [B, 1, frames * hop]. */
export function buildBigvgan(cfg: BigvganConfig, w: Weights, opts: BigvganBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('bigvgan');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const act = new AntiAliasedActivation(nn, cfg, w);
  // every signal is [B, C, 1, T] inside (see the file comment)
  const debug = (v: Value, name: string) => { if (opts.debugOutputs) g.output(nn.squeeze(v, [2]), name); };
  const nk = cfg.resblockKernelSizes.length;

  const mel = g.input('mel', 'float32', ['batch', cfg.numMels, 'frames']);
  // Shape hints ([B, C, 1, frames * upsampling so far]) spare ORT's session set-up from inferring the
  // symbolic length of ~2,600 values: session creation drops from seconds to well under one.
  const sig = (v: Value, c: number, t: string): Value => g.hint(v, ['batch', c, 1, t]);
  let t = 'frames';
  let channels = cfg.upsampleInitialChannel;
  let x = g.scope('conv_pre', () => sig(conv1d(nn, nn.unsqueeze(mel, [2]), w.get('conv_pre.weight'), w.get('conv_pre.bias'), { padding: 3 }), channels, t));
  debug(x, 'conv_pre');

  let factor = 1;
  for (let i = 0; i < cfg.upsampleRates.length; i++) {
    const u = cfg.upsampleRates[i], k = cfg.upsampleKernelSizes[i];
    const input = x;
    factor *= u;
    t = `frames*${factor}`;
    channels = w.get(`ups.${i}.0.weight`).shape[1];
    const stageT = t, stageC = channels;
    const up = g.scope('ups', () => g.scope(i, () => g.scope(0, () =>
      sig(convTranspose1d(nn, input, w.get(`ups.${i}.0.weight`), w.get(`ups.${i}.0.bias`), u, (k - u) / 2), stageC, stageT))));
    debug(up, `ups.${i}`);
    // the AMP blocks of a stage all see the stage input; their outputs are averaged
    let sum: Value | null = null;
    for (let j = 0; j < nk; j++) {
      const idx = i * nk + j;
      const y = g.scope('resblocks', () => g.scope(idx, () => ampBlock(nn, act, cfg, w, `resblocks.${idx}.`, j, up, (v, extra = 0) => sig(v, stageC, extra ? `${stageT}+${extra}` : stageT))));
      sum = sum ? sig(nn.add(sum, y), stageC, stageT) : y;
    }
    x = nk > 1 ? sig(nn.div(sum!, nn.scalar(nk)), stageC, stageT) : sum!;
  }

  const finalT = t, finalC = channels;
  x = g.scope('activation_post', () => act.apply(x, 'activation_post.', (v, extra = 0) => sig(v, finalC, extra ? `${finalT}+${extra}` : finalT)));
  debug(x, 'activation_post');
  const post = g.scope('conv_post', () =>
    conv1d(nn, x, w.get('conv_post.weight'), cfg.useBiasAtFinal ? w.get('conv_post.bias') : null, { padding: 3 }));
  debug(post, 'conv_post');
  const wave = cfg.useTanhAtFinal ? nn.tanh(post) : nn.clip(post, -1, 1);
  g.output(nn.squeeze(wave, [2]), 'waveform', ['batch', 1, 'samples']);
  return g;
}

/** Conv1d on a [B, C, 1, T] signal (a 2-D conv with a [1, k] kernel), autocast like nn.conv. */
function conv1d(nn: Nn, x: Value, weight: Tensor<'float32'>, bias: Tensor<'float32'> | null, o: { padding: number; dilation?: number }): Value {
  const [co, ci, k] = weight.shape;
  return nn.conv(x, reshapeTensor(weight, [co, ci, 1, k]), bias, { padding: [0, o.padding], dilation: [1, o.dilation ?? 1] });
}

/** ConvTranspose1d (weight [in, out, k]) on a [B, C, 1, T] signal. */
function convTranspose1d(nn: Nn, x: Value, weight: Tensor<'float32'>, bias: Tensor<'float32'>, stride: number, padding: number): Value {
  const [ci, co, k] = weight.shape;
  return nn.convTranspose(x, reshapeTensor(weight, [ci, co, 1, k]), bias, { stride: [1, stride], padding: [0, padding] });
}

/** AMPBlock1 (a1 -> dilated c1 -> a2 -> c2, residual) or AMPBlock2 (a -> dilated c, residual). */
function ampBlock(nn: Nn, act: AntiAliasedActivation, cfg: BigvganConfig, w: Weights, prefix: string, j: number, input: Value, hint: (v: Value, extra?: number) => Value): Value {
  const g = nn.g;
  const k = cfg.resblockKernelSizes[j];
  const { dilations } = ampLayout(cfg, j);
  const conv = (set: string, l: number, d: number, h: Value) => g.scope(set, () => g.scope(l, () =>
    hint(conv1d(nn, h, w.get(`${prefix}${set}.${l}.weight`), w.get(`${prefix}${set}.${l}.bias`), { dilation: d, padding: (k * d - d) / 2 }))));
  const activation = (a: number, h: Value) => g.scope('activations', () => g.scope(a, () => act.apply(h, `${prefix}activations.${a}.`, hint)));
  let x = input;
  dilations.forEach((d, l) => {
    let xt: Value;
    if (cfg.resblock === '1') {
      xt = conv('convs1', l, d, activation(2 * l, x));
      xt = conv('convs2', l, 1, activation(2 * l + 1, xt));
    } else {
      xt = conv('convs', l, d, activation(l, x));
    }
    x = hint(nn.add(xt, x));
  });
  return x;
}

/**
 * Activation1d(Snake or SnakeBeta) in polyphase form, on [B, C, 1, T] (see the file comment). The
 * depthwise filter weights are memoised by value and channel count: every activation of a checkpoint
 * stores the same kaiser-sinc filter, so a stage needs only four of them.
 */
class AntiAliasedActivation {
  private readonly filterMemo = new Map<string, Value>();

  constructor(private readonly nn: Nn, private readonly cfg: BigvganConfig, private readonly w: Weights) {}

  /**
   * x [B, C, 1, T] -> [B, C, 1, T], fp32 throughout; `prefix` is the activation's key prefix (ends with '.');
   * `hint(v, extra)` declares the shape of a signal of length T + extra.
   */
  apply(x: Value, prefix: string, hint: (v: Value, extra?: number) => Value = (v) => v): Value {
    const { nn, cfg, w } = this;
    const g = nn.g;
    const alphaRaw = w.get(`${prefix}act.alpha`).data;
    const C = alphaRaw.length;
    const up = upsamplePhases(w.get(`${prefix}upsample.filter`, [1, 1, FILTER_SIZE]).data);
    const down = downsamplePhases(w.get(`${prefix}downsample.lowpass.filter`, [1, 1, FILTER_SIZE]).data);

    // UpSample1d: edge pad, then the even and the odd output samples as two depthwise convs.
    const padded = nn.pad(nn.f32(x), [0, 0, 0, up.left, 0, 0, 0, up.right], 'edge');
    hint(padded, up.left + up.right);
    const even0 = hint(this.depthwise(padded, C, up.taps[0], 'upsample.filter_even'));
    const odd0 = hint(this.depthwise(padded, C, up.taps[1], 'upsample.filter_odd'));

    // Snake(Beta): x + 1/(b + 1e-9) * sin(a x)^2 with a = exp(alpha), b = exp(beta) folded to constants.
    const betaRaw = cfg.activation === 'snakebeta' ? w.get(`${prefix}act.beta`, [C]).data : alphaRaw;
    const alpha = new Float32Array(C), invB = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      // rounded to float32 at each step, as torch evaluates exp(p) + eps and the reciprocal
      alpha[c] = Math.fround(cfg.snakeLogscale ? Math.exp(alphaRaw[c]) : alphaRaw[c]);
      const b = Math.fround(cfg.snakeLogscale ? Math.exp(betaRaw[c]) : betaRaw[c]);
      invB[c] = Math.fround(1 / Math.fround(b + SNAKE_EPS));
    }
    const [even, odd] = g.scope('act', () => {
      const a = g.weight('alpha', tensor('float32', [C, 1, 1], alpha));
      const ib = g.weight(cfg.activation === 'snakebeta' ? 'inv_beta' : 'inv_alpha', tensor('float32', [C, 1, 1], invB));
      const snake = (z: Value) => {
        const s = hint(nn.sin(hint(nn.mul(z, a))));
        return hint(nn.add(z, hint(nn.mul(hint(nn.mul(s, s)), ib))));
      };
      return [snake(even0), snake(odd0)];
    });

    // DownSample1d: the replicate padding of the interleaved signal is its first (even) sample on the
    // left and its last (odd) sample on the right, for both phases; then one depthwise conv per phase.
    const first = nn.expand(nn.slice(even, [0], [1], [3]), nn.ints([1, 1, 1, down.left]));
    const last = nn.expand(nn.slice(odd, [-1], [Number.MAX_SAFE_INTEGER], [3]), nn.ints([1, 1, 1, down.right]));
    const withEdges = (z: Value) => hint(nn.concat([first, z, last], 3), down.left + down.right);
    return hint(nn.add(
      hint(this.depthwise(withEdges(even), C, down.taps[0], 'downsample.lowpass.filter_even')),
      hint(this.depthwise(withEdges(odd), C, down.taps[1], 'downsample.lowpass.filter_odd'))));
  }

  /** fp32 depthwise conv of [B, C, 1, T] with the same taps for every channel (no padding). */
  private depthwise(x: Value, C: number, taps: Float32Array, name: string): Value {
    const key = `${C}|${taps.join(',')}`;
    let wv = this.filterMemo.get(key);
    if (!wv) {
      const data = new Float32Array(C * taps.length);
      for (let c = 0; c < C; c++) data.set(taps, c * taps.length);
      wv = this.nn.g.weight(name, tensor('float32', [C, 1, 1, taps.length], data));
      this.filterMemo.set(key, wv);
    }
    return this.nn.g.op('Conv', [x, wv], { kernel_shape: [1, taps.length], group: C, pads: [0, 0, 0, 0] });
  }
}

interface PhaseTaps {
  /** taps[p][i]: weight of input offset d = i - left for phase p. */
  taps: [Float32Array, Float32Array];
  left: number;
  right: number;
}

function phaseTable(entries: { p: number; d: number; v: number }[]): PhaseTaps {
  const left = -Math.min(0, ...entries.map((e) => e.d));
  const right = Math.max(0, ...entries.map((e) => e.d));
  const width = left + right + 1;
  const taps: [Float32Array, Float32Array] = [new Float32Array(width), new Float32Array(width)];
  for (const e of entries) taps[e.p][e.d + left] = e.v;
  return { taps, left, right };
}

/**
 * UpSample1d(2, K): out[2m+p] = sum_d 2 f[p + K/2 - 1 - 2d] x[clamp(m + d)] (the reference's replicate
 * pad K/2-1, conv_transpose stride 2 with 2f and crop of 2(K/2-1) + (K-2)/2 on each side, re-indexed).
 */
function upsamplePhases(f: Float32Array): PhaseTaps {
  const K = f.length, entries: { p: number; d: number; v: number }[] = [];
  for (let p = 0; p < 2; p++) {
    for (let k = 0; k < K; k++) {
      const num = p + K / 2 - 1 - k;
      if (num % 2 === 0) entries.push({ p, d: num / 2, v: 2 * f[k] });
    }
  }
  return phaseTable(entries);
}

/**
 * DownSample1d(2, K): y[m] = sum_k f[k] z[clamp(2m + k - (K/2 - 1))], with z[2n+p] = phase p at n:
 * tap f[k] reads phase p at n = m + (k - K/2 + 1 - p) / 2.
 */
function downsamplePhases(f: Float32Array): PhaseTaps {
  const K = f.length, entries: { p: number; d: number; v: number }[] = [];
  for (let p = 0; p < 2; p++) {
    for (let k = 0; k < K; k++) {
      const num = k - (K / 2 - 1) - p;
      if (num % 2 === 0) entries.push({ p, d: num / 2, v: f[k] });
    }
  }
  return phaseTable(entries);
}

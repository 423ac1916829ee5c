/**
 * CosyVoice's HiFTGenerator (modules/hifigan/generator.py) with its ConvRNNF0Predictor
 * (modules/hifigan/f0_predictor.py): the real-time model's vocoder, built as one ONNX graph.
 * Module paths mirror the checkpoint keys:
 *
 *   f0_predictor (condnet 5 x [Conv1d k3 -> ELU] -> classifier -> |.|) -> nearest x(prod(ups) * hop) upsampling
 *   -> m_source (SineGen with injected random draws -> l_linear -> tanh) -> source STFT
 *   conv_pre -> ups[i] (+ ReflectionPad on the last stage) + source_resblocks[i](source_downs[i](stft))
 *   -> mean of resblocks -> leaky_relu(0.01) -> conv_post -> exp magnitude / sin phase -> iSTFT -> clamp
 *
 * The STFT and the iSTFT are a Conv1d / ConvTranspose1d against windowed DFT bases (so they are autocast
 * ops), plus the window-envelope division torch.istft applies. SineGen's random draws are graph inputs
 * (`phase_vec`, `sine_noise`) so a caller can feed seeded values and a test can inject the reference's.
 *
 * Graph inputs: mel [B, in_channels, frames], phase_vec [B, nb_harmonics + 1, 1],
 * sine_noise [B, nb_harmonics + 1, frames * upsample]; output `waveform` [B, frames * upsample]
 * with upsample = prod(upsample_rates) * hop_len (256 for the official config).
 */
import { parse } from 'yaml';
import { WeightStore } from '../checkpoint/state-dict.ts';
import { InvalidInputError } from '../errors.ts';
import { ConfigBounds } from '../models/bounds.ts';
import { checkShapes } from '../checkpoint/state-dict.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision, reshapeTensor } from '../onnx/nn.ts';
import { type Tensor, tensor } from '../tensor.ts';
import type { Weights } from './weights.ts';

export interface HiftConfig {
  inChannels: number;
  baseChannels: number;
  nbHarmonics: number;
  samplingRate: number;
  nsfAlpha: number;
  nsfSigma: number;
  nsfVoicedThreshold: number;
  upsampleRates: number[];
  upsampleKernelSizes: number[];
  nFft: number;
  hopLen: number;
  resblockKernelSizes: number[];
  resblockDilationSizes: number[][];
  sourceResblockKernelSizes: number[];
  sourceResblockDilationSizes: number[][];
  lreluSlope: number;
  audioLimit: number;
  f0Predictor: { numClass: number; inChannels: number; condChannels: number };
}

export interface HiftBuildOptions {
  precision?: Precision;
  /** Also output `f0` [B, frames], `source` [B, samples], `source_stft` [B, n_fft + 2, frames'] and `conv_post`. */
  debugOutputs?: boolean;
  /** Also output the predicted `f0` [B, frames] (Hz; below nsf_voiced_threshold = unvoiced). */
  f0Output?: boolean;
}

/** Samples per mel frame: prod(upsample_rates) * hop_len. */
export function hiftUpsampleFactor(cfg: HiftConfig): number {
  return cfg.upsampleRates.reduce((a, b) => a * b, 1) * cfg.hopLen;
}

/** Parses the `hift` and `f0_predictor` sections of a CosyVoice hifigan.yml; absent keys take the constructor defaults. */
export function parseHiftConfig(yamlText: string, source = 'hifigan.yml'): HiftConfig {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid YAML (${(e as Error).message})`);
  }
  const root = asMap(doc, source);
  const h = asMap(root.hift ?? {}, `${source}.hift`);
  const f = asMap(root.f0_predictor ?? {}, `${source}.f0_predictor`);
  const b = new ConfigBounds(source);
  const [cMax, kMax, dMax, listMax] = [8192, 255, 64, 16];
  // [min, max] per key; integers where the value sizes something (channels, kernels, lengths)
  const num = (m: Record<string, unknown>, path: string, key: string, def: number, min: number, max: number, integer = true): number => {
    const v = m[key] ?? def;
    const at = `${path.slice(source.length + 1)}.${key}`;
    return integer ? b.int(at, v, min, max) : b.num(at, v, min, max);
  };
  const ints = (key: string, def: number[], max: number): number[] => b.intList(`hift.${key}`, h[key] ?? def, { min: 1, max, maxLength: listMax });
  const nested = (key: string, def: number[][]): number[][] => {
    const v = h[key] ?? def;
    if (!Array.isArray(v) || v.length > listMax) b.fail(`hift.${key}`, v, `a list of at most ${listMax} lists of integers in 1..${dMax}`);
    return (v as unknown[]).map((r, i) => b.intList(`hift.${key}[${i}]`, r, { min: 1, max: dMax, maxLength: listMax }));
  };
  const hp = `${source}.hift`;
  const istft = asMap(h.istft_params ?? { n_fft: 16, hop_len: 4 }, `${hp}.istft_params`);
  const cfg: HiftConfig = {
    inChannels: num(h, hp, 'in_channels', 80, 1, 512),
    baseChannels: num(h, hp, 'base_channels', 512, 1, cMax),
    nbHarmonics: num(h, hp, 'nb_harmonics', 8, 0, 64),
    samplingRate: num(h, hp, 'sampling_rate', 22050, 8000, 96_000),
    nsfAlpha: num(h, hp, 'nsf_alpha', 0.1, 0, 10, false),
    nsfSigma: num(h, hp, 'nsf_sigma', 0.003, 0, 10, false),
    nsfVoicedThreshold: num(h, hp, 'nsf_voiced_threshold', 10, 0, 10_000, false),
    upsampleRates: ints('upsample_rates', [8, 8], 64),
    upsampleKernelSizes: ints('upsample_kernel_sizes', [16, 16], kMax),
    nFft: num(istft, `${hp}.istft_params`, 'n_fft', 16, 2, 4096),
    hopLen: num(istft, `${hp}.istft_params`, 'hop_len', 4, 1, 4096),
    resblockKernelSizes: ints('resblock_kernel_sizes', [3, 7, 11], kMax),
    resblockDilationSizes: nested('resblock_dilation_sizes', [[1, 3, 5], [1, 3, 5], [1, 3, 5]]),
    sourceResblockKernelSizes: ints('source_resblock_kernel_sizes', [7, 11], kMax),
    sourceResblockDilationSizes: nested('source_resblock_dilation_sizes', [[1, 3, 5], [1, 3, 5]]),
    lreluSlope: num(h, hp, 'lrelu_slope', 0.1, 0, 1, false),
    audioLimit: num(h, hp, 'audio_limit', 0.99, 0, 10, false),
    f0Predictor: {
      numClass: num(f, `${source}.f0_predictor`, 'num_class', 1, 1, 1),
      inChannels: num(f, `${source}.f0_predictor`, 'in_channels', 80, 1, 512),
      condChannels: num(f, `${source}.f0_predictor`, 'cond_channels', 512, 1, cMax),
    },
  };
  if (hiftUpsampleFactor(cfg) > 8192) b.fail('hift.upsample_rates', cfg.upsampleRates, `rates whose product times istft_params.hop_len is at most 8192`);
  const problems: string[] = [];
  if (cfg.upsampleRates.length !== cfg.upsampleKernelSizes.length) problems.push('upsample_rates and upsample_kernel_sizes differ in length');
  if (cfg.resblockKernelSizes.length !== cfg.resblockDilationSizes.length) problems.push('resblock_kernel_sizes and resblock_dilation_sizes differ in length');
  if (cfg.sourceResblockKernelSizes.length < cfg.upsampleRates.length || cfg.sourceResblockDilationSizes.length < cfg.upsampleRates.length) {
    problems.push('one source resblock per upsampling stage is needed');
  }
  if (cfg.f0Predictor.numClass !== 1) problems.push('f0_predictor.num_class must be 1 (the F0 is one value per frame)');
  if (cfg.f0Predictor.inChannels !== cfg.inChannels) problems.push('f0_predictor.in_channels must equal hift.in_channels');
  if (cfg.nFft % 2 !== 0) problems.push('istft_params.n_fft must be even');
  if (problems.length) throw new InvalidInputError(`${source}: ${problems.join('; ')}`);
  return cfg;
}

function asMap(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInputError(`${path}: expected a mapping`);
  return v as Record<string, unknown>;
}

/** Channels after upsampling stage i (the reference halves base_channels per stage). */
const stageChannels = (cfg: HiftConfig, i: number): number => Math.floor(cfg.baseChannels / 2 ** (i + 1));

/** Cumulative downsampling of source_downs[i]: the reversed cumulative product of [1, ...reversed(ups)[:-1]]. */
function sourceDownRates(cfg: HiftConfig): number[] {
  const rev = [...cfg.upsampleRates].reverse();
  const rates = [1, ...rev.slice(0, -1)];
  const cum: number[] = [];
  rates.reduce((acc, r) => { cum.push(acc * r); return acc * r; }, 1);
  return cum.reverse();
}

/** Parameter shapes the builder reads (folded `.weight` names; the checkpoint may store weight_g/weight_v). */
export function hiftParamShapes(cfg: HiftConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const fp = cfg.f0Predictor;
  for (let i = 0; i < 5; i++) {
    m.set(`f0_predictor.condnet.${2 * i}.weight`, [fp.condChannels, i === 0 ? fp.inChannels : fp.condChannels, 3]);
    m.set(`f0_predictor.condnet.${2 * i}.bias`, [fp.condChannels]);
  }
  m.set('f0_predictor.classifier.weight', [fp.numClass, fp.condChannels]);
  m.set('f0_predictor.classifier.bias', [fp.numClass]);
  m.set('m_source.l_linear.weight', [1, cfg.nbHarmonics + 1]);
  m.set('m_source.l_linear.bias', [1]);
  m.set('conv_pre.weight', [cfg.baseChannels, cfg.inChannels, 7]);
  m.set('conv_pre.bias', [cfg.baseChannels]);
  const resblock = (p: string, ch: number, k: number, dil: number[]) => {
    for (let j = 0; j < dil.length; j++) {
      for (const c of ['convs1', 'convs2']) {
        m.set(`${p}.${c}.${j}.weight`, [ch, ch, k]);
        m.set(`${p}.${c}.${j}.bias`, [ch]);
      }
      m.set(`${p}.activations1.${j}.alpha`, [ch]);
      m.set(`${p}.activations2.${j}.alpha`, [ch]);
    }
  };
  const downs = sourceDownRates(cfg);
  const nk = cfg.resblockKernelSizes.length;
  for (let i = 0; i < cfg.upsampleRates.length; i++) {
    const cin = Math.floor(cfg.baseChannels / 2 ** i), ch = stageChannels(cfg, i);
    m.set(`ups.${i}.weight`, [cin, ch, cfg.upsampleKernelSizes[i]]);
    m.set(`ups.${i}.bias`, [ch]);
    m.set(`source_downs.${i}.weight`, [ch, cfg.nFft + 2, downs[i] === 1 ? 1 : 2 * downs[i]]);
    m.set(`source_downs.${i}.bias`, [ch]);
    resblock(`source_resblocks.${i}`, ch, cfg.sourceResblockKernelSizes[i], cfg.sourceResblockDilationSizes[i]);
    for (let j = 0; j < nk; j++) resblock(`resblocks.${i * nk + j}`, ch, cfg.resblockKernelSizes[j], cfg.resblockDilationSizes[j]);
  }
  const chLast = stageChannels(cfg, cfg.upsampleRates.length - 1);
  m.set('conv_post.weight', [cfg.nFft + 2, chLast, 7]);
  m.set('conv_post.bias', [cfg.nFft + 2]);
  return m;
}

/**
 * `cfg` with the channel widths (hift.base_channels, f0_predictor.cond_channels) a checkpoint was trained with,
 * read from its conv_pre and first condnet weights: lets a hift.pt of another width load without its YAML.
 */
export function hiftConfigFromWeights(cfg: HiftConfig, store: WeightStore): HiftConfig {
  const dim0 = (name: string): number | undefined => (store.raw(`${name}.weight`) ?? store.raw(`${name}.weight_v`))?.shape[0];
  const base = dim0('conv_pre');
  const cond = dim0('f0_predictor.condnet.0');
  return {
    ...cfg,
    baseChannels: base ?? cfg.baseChannels,
    f0Predictor: { ...cfg.f0Predictor, condChannels: cond ?? cfg.f0Predictor.condChannels },
  };
}

/** Reads a HiFT state_dict (CosyVoice hift.pt layout, weight norm folded on access) and checks it against `cfg`. */
export function loadHiftWeights(bytes: Uint8Array, file: string, cfg: HiftConfig): WeightStore {
  const store = WeightStore.fromBytes(bytes, file);
  checkShapes(store, hiftParamShapes(cfg), file);
  return store;
}

/** Builds the HiFT vocoder graph (mel -> waveform, F0 predicted from the mel). */
export function buildHift(cfg: HiftConfig, w: Weights, opts: HiftBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('hift');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const H = cfg.nbHarmonics + 1;
  const up = hiftUpsampleFactor(cfg);
  const mel = g.input('mel', 'float32', ['batch', cfg.inChannels, 'frames']);
  const phaseVec = g.input('phase_vec', 'float32', ['batch', H, 1]);
  const sineNoise = g.input('sine_noise', 'float32', ['batch', H, 'samples']);

  const f0 = g.scope('f0_predictor', () => f0Predictor(nn, w, mel)); // [B, T]
  const source = g.scope('m_source', () => sourceModule(nn, w, cfg, upsampleNearest(nn, f0, up), phaseVec, sineNoise)); // [B, 1, N]
  const sStft = g.scope('source_stft', () => stft(nn, source, cfg.nFft, cfg.hopLen)); // [B, n_fft + 2, N / hop + 1]

  let x = g.scope('conv_pre', () => nn.conv(mel, w.get('conv_pre.weight'), w.get('conv_pre.bias'), { padding: 3 }));
  const downs = sourceDownRates(cfg);
  const nk = cfg.resblockKernelSizes.length;
  const nUp = cfg.upsampleRates.length;
  for (let i = 0; i < nUp; i++) {
    x = nn.leakyRelu(x, cfg.lreluSlope);
    const u = cfg.upsampleRates[i], k = cfg.upsampleKernelSizes[i];
    x = g.scope('ups', () => g.scope(i, () => nn.convTranspose(x, w.get(`ups.${i}.weight`), w.get(`ups.${i}.bias`), { stride: u, padding: (k - u) / 2 })));
    if (i === nUp - 1) x = g.scope('reflection_pad', () => nn.pad(x, [0, 0, 1, 0, 0, 0], 'reflect'));
    const d = downs[i];
    const si0 = g.scope('source_downs', () => g.scope(i, () => nn.conv(sStft, w.get(`source_downs.${i}.weight`), w.get(`source_downs.${i}.bias`),
      d === 1 ? {} : { stride: d, padding: Math.floor(d / 2) })));
    const si = g.scope('source_resblocks', () => g.scope(i, () =>
      resBlock(nn, w, `source_resblocks.${i}`, si0, cfg.sourceResblockKernelSizes[i], cfg.sourceResblockDilationSizes[i])));
    x = nn.add(x, si);
    let xs: Value | null = null;
    for (let j = 0; j < nk; j++) {
      const idx = i * nk + j;
      const y = g.scope('resblocks', () => g.scope(idx, () => resBlock(nn, w, `resblocks.${idx}`, x, cfg.resblockKernelSizes[j], cfg.resblockDilationSizes[j])));
      xs = xs ? nn.add(xs, y) : y;
    }
    x = nn.div(xs!, nn.scalar(nk));
  }
  x = nn.leakyRelu(x, 0.01); // F.leaky_relu's default slope, not lrelu_slope
  const post = g.scope('conv_post', () => nn.conv(x, w.get('conv_post.weight'), w.get('conv_post.bias'), { padding: 3 }));
  const nBins = cfg.nFft / 2 + 1;
  const wave = g.scope('istft', () => {
    const [logMag, ph] = nn.split(post, [nBins, nBins], 1);
    const mag = nn.clip(nn.exp(logMag), undefined, 1e2);
    const phase = nn.sin(ph); // the reference feeds sin(x) as the phase
    const spec = nn.concat([nn.mul(mag, nn.cos(phase)), nn.mul(mag, nn.sin(phase))], 1);
    return istft(nn, spec, cfg.nFft, cfg.hopLen);
  });
  const out = nn.clip(wave, -cfg.audioLimit, cfg.audioLimit);
  g.output(out, 'waveform', ['batch', 'samples']);
  if (opts.debugOutputs || opts.f0Output) g.output(f0, 'f0', ['batch', 'frames']);
  if (opts.debugOutputs) {
    g.output(nn.squeeze(source, [1]), 'source', ['batch', 'samples']);
    g.output(sStft, 'source_stft', ['batch', cfg.nFft + 2, 'stft_frames']);
    g.output(post, 'conv_post', ['batch', cfg.nFft + 2, 'stft_frames']);
  }
  return g;
}

/** ConvRNNF0Predictor: 5 x [weight-normed Conv1d k3 -> ELU] -> Linear(cond -> 1) -> |.|; returns [B, T]. */
function f0Predictor(nn: Nn, w: Weights, mel: Value): Value {
  const g = nn.g;
  let h = mel;
  g.scope('condnet', () => {
    for (let i = 0; i < 10; i += 2) {
      h = g.scope(i, () => nn.elu(nn.conv(h, w.get(`f0_predictor.condnet.${i}.weight`), w.get(`f0_predictor.condnet.${i}.bias`), { padding: 1 })));
    }
  });
  // classifier as a k=1 conv keeps [B, 1, T] without a transpose
  const cw = w.get('f0_predictor.classifier.weight');
  const y = g.scope('classifier', () => nn.conv(h, reshapeTensor(cw, [...cw.shape, 1]), w.get('f0_predictor.classifier.bias')));
  return nn.abs(nn.squeeze(y, [1]));
}

/** nn.Upsample(scale_factor=s, mode='nearest') of [B, T] to [B, 1, T * s] (integer scale: each value repeated s times). */
function upsampleNearest(nn: Nn, f0: Value, s: number): Value {
  const rep = nn.expand(nn.unsqueeze(f0, [2]), nn.ints([1, 1, s])); // [B, T, s]
  return nn.reshape(rep, [0, 1, -1]);
}

/**
 * SourceModuleHnNSF on the sample-rate F0 [B, 1, N]: harmonics F_k = f0 * k / sr, theta = 2 pi (cumsum(F) mod 1),
 * sine = alpha * sin(theta + phase_vec), voiced where f0 > threshold, plus noise scaled sigma (voiced) or
 * alpha / 3 (unvoiced); then tanh(l_linear over the harmonics). Returns [B, 1, N].
 */
function sourceModule(nn: Nn, w: Weights, cfg: HiftConfig, f0: Value, phaseVec: Value, noise: Value): Value {
  const g = nn.g;
  const H = cfg.nbHarmonics + 1;
  const f = Math.fround;
  return g.scope('l_sin_gen', () => {
    const mult = g.constant(Array.from({ length: H }, (_, k) => k + 1), 'float32', [1, H, 1]);
    const F = nn.div(nn.mul(f0, mult), nn.scalar(cfg.samplingRate)); // [B, H, N], float32 as the reference
    // torch's CPU cumsum accumulates float32 in double; doing the same (and the mod 1 before rounding)
    // keeps the phase exact over long audio, where a float32 running sum would drift in pitch.
    const cum = g.op('CumSum', [nn.cast(F, 'float64'), g.constant([2], 'int64', [])]);
    const frac = nn.cast(g.op('Mod', [cum, g.scalar(1, 'float64')], { fmod: 1 }), 'float32');
    const theta = nn.mul(frac, nn.scalar(f(2 * Math.PI)));
    const sine = nn.mul(nn.sin(nn.add(theta, phaseVec)), nn.scalar(cfg.nsfAlpha));
    const voiced = nn.greater(f0, nn.scalar(cfg.nsfVoicedThreshold)); // [B, 1, N]
    const noiseAmp = nn.where(voiced, nn.scalar(cfg.nsfSigma), nn.scalar(f(f(cfg.nsfAlpha) / 3)));
    const waves = nn.add(nn.where(voiced, sine, nn.scalar(0)), nn.mul(noiseAmp, noise));
    const lw = w.get('m_source.l_linear.weight'); // [1, H] -> k=1 conv over the harmonic axis
    const merged = g.scope('l_linear', () => nn.conv(waves, reshapeTensor(lw, [1, H, 1]), w.get('m_source.l_linear.bias')));
    return nn.tanh(merged);
  });
}

/** Periodic Hann window of length n (scipy get_window('hann', n, fftbins=True)). */
function hann(n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return out;
}

/**
 * torch.stft(x, n_fft, hop, window=hann, center=True, reflect) of [B, 1, N] as cat[real, imag] [B, n_fft + 2, N / hop + 1]:
 * one strided Conv1d whose kernels are the windowed DFT rows (real: w cos, imag: -w sin).
 */
function stft(nn: Nn, x: Value, nFft: number, hop: number): Value {
  const bins = nFft / 2 + 1;
  const win = hann(nFft);
  const basis = new Float32Array(2 * bins * nFft);
  for (let k = 0; k < bins; k++) {
    for (let n = 0; n < nFft; n++) {
      const a = (2 * Math.PI * ((k * n) % nFft)) / nFft;
      basis[k * nFft + n] = win[n] * Math.cos(a);
      basis[(bins + k) * nFft + n] = k === 0 || 2 * k === nFft ? 0 : -win[n] * Math.sin(a);
    }
  }
  const padded = nn.pad(x, [0, 0, nFft / 2, 0, 0, nFft / 2], 'reflect');
  return nn.conv(padded, tensor('float32', [2 * bins, 1, nFft], basis), null, { stride: hop }, 'basis');
}

/**
 * torch.istft(cat[real, imag] [B, n_fft + 2, F], n_fft, hop, window=hann, center=True) -> [B, (F - 1) * hop]:
 * a ConvTranspose1d with the windowed inverse real-DFT rows does the irfft and the overlap-add at once; the
 * result is trimmed by n_fft/2 on both sides and divided by the overlap-added squared window.
 */
function istft(nn: Nn, spec: Value, nFft: number, hop: number): Value {
  const g = nn.g;
  const bins = nFft / 2 + 1;
  const win = hann(nFft);
  const basis = new Float32Array(2 * bins * nFft);
  for (let k = 0; k < bins; k++) {
    // irfft: DC and Nyquist count once, the other bins twice; their imaginary parts are ignored
    const c = k === 0 || 2 * k === nFft ? 1 : 2;
    for (let n = 0; n < nFft; n++) {
      const a = (2 * Math.PI * ((k * n) % nFft)) / nFft;
      basis[k * nFft + n] = (win[n] * c * Math.cos(a)) / nFft;
      basis[(bins + k) * nFft + n] = c === 1 ? 0 : (-win[n] * c * Math.sin(a)) / nFft;
    }
  }
  const ola = nn.convTranspose(spec, tensor('float32', [2 * bins, 1, nFft], basis), null, { stride: hop }, 'basis'); // [B, 1, (F-1)*hop + n_fft]
  const half = nFft / 2;
  const y = nn.squeeze(nn.slice(ola, [half], [-half], [2]), [1]); // [B, L]
  // Window envelope: constant inside, smaller over the first/last n_fft/2 - 1 samples where frames are missing.
  const env = windowEnvelope(win, hop);
  const edge = env.head.length;
  const L = nn.dim(y, 1);
  const middle = nn.expand(nn.scalar(env.interior), nn.sub(L, g.constant([2 * edge], 'int64', [1])));
  const envelope = nn.concat([g.constant(env.head, 'float32'), middle, g.constant(env.tail, 'float32')], 0);
  return nn.div(y, envelope);
}

/** The squared-window overlap-add after center trimming: its constant interior value and its edge samples. */
function windowEnvelope(win: Float64Array, hop: number): { interior: number; head: number[]; tail: number[] } {
  const n = win.length, half = n / 2;
  const frames = 4 * Math.ceil(n / hop) + 1; // long enough for a full interior
  const total = (frames - 1) * hop + n;
  const env = new Float64Array(total);
  for (let t = 0; t < frames; t++) for (let i = 0; i < n; i++) env[t * hop + i] += win[i] * win[i];
  const trimmed = Array.from(env.subarray(half, total - half), (v) => Math.fround(v));
  const edge = half - 1;
  const interior = trimmed.slice(edge, trimmed.length - edge);
  if (interior.some((v) => Math.abs(v - interior[0]) > 1e-6 * interior[0])) {
    throw new InvalidInputError(`iSTFT: the Hann window (n_fft ${n}) with hop ${hop} has no constant overlap-add envelope; this port supports hops that give one (e.g. n_fft / 4)`);
  }
  return { interior: interior[0], head: trimmed.slice(0, edge), tail: trimmed.slice(trimmed.length - edge) };
}

/** ResBlock with linear-scale Snake: per dilation, x += convs2(snake2(convs1(snake1(x)))). */
function resBlock(nn: Nn, w: Weights, p: string, x: Value, k: number, dilations: number[]): Value {
  const g = nn.g;
  let h = x;
  for (let j = 0; j < dilations.length; j++) {
    const d = dilations[j];
    let xt = g.scope('activations1', () => g.scope(j, () => snake(nn, w.get(`${p}.activations1.${j}.alpha`), h)));
    xt = g.scope('convs1', () => g.scope(j, () => nn.conv(xt, w.get(`${p}.convs1.${j}.weight`), w.get(`${p}.convs1.${j}.bias`), { dilation: d, padding: (k * d - d) / 2 })));
    xt = g.scope('activations2', () => g.scope(j, () => snake(nn, w.get(`${p}.activations2.${j}.alpha`), xt)));
    xt = g.scope('convs2', () => g.scope(j, () => nn.conv(xt, w.get(`${p}.convs2.${j}.weight`), w.get(`${p}.convs2.${j}.bias`), { padding: (k - 1) / 2 })));
    h = nn.add(xt, h);
  }
  return h;
}

/** Snake with linear-scale alpha: x + 1 / (alpha + 1e-9) * sin(alpha x)^2 (1 / (alpha + 1e-9) folded at build time in float32). */
function snake(nn: Nn, alpha: Tensor<'float32'>, x: Value): Value {
  const c = alpha.shape[0];
  const f = Math.fround;
  const inv = new Float32Array(c);
  for (let i = 0; i < c; i++) inv[i] = f(1 / f(alpha.data[i] + f(1e-9)));
  const a = nn.weight('alpha', reshapeTensor(alpha, [c, 1]));
  const ia = nn.weight('inv_alpha', tensor('float32', [c, 1], inv));
  const s = nn.sin(nn.mul(x, a));
  return nn.add(x, nn.mul(ia, nn.mul(s, s)));
}

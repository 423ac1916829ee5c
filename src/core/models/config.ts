/**
 * Seed-VC model configuration: the YAML of configs/presets/*.yml (the file that ships next to each DiT
 * checkpoint), parsed into the typed subset inference needs. Missing optional fields take the defaults
 * the reference code applies (hasattr fallbacks).
 */
import { parse } from 'yaml';
import { InvalidInputError } from '../errors.ts';
import { ConfigBounds } from './bounds.ts';

export interface MelParams {
  sampleRate: number;
  nFft: number;
  winLength: number;
  hopLength: number;
  nMels: number;
  fmin: number;
  /** null = sr / 2 (the YAML spells it "None"). */
  fmax: number | null;
}

export interface LengthRegulatorConfig {
  channels: number;
  inChannels: number;
  samplingRatios: number[];
  isDiscrete: boolean;
  f0Condition: boolean;
  nF0Bins: number;
  groups: number;
}

export interface DitConfig {
  hiddenDim: number;
  numHeads: number;
  depth: number;
  inChannels: number;
  contentDim: number;
  styleCondition: boolean;
  finalLayerType: 'wavenet' | 'mlp';
  longSkipConnection: boolean;
  uvitSkipConnection: boolean;
  timeAsToken: boolean;
  styleAsToken: boolean;
  isCausal: boolean;
  zeroPromptSpeechToken: boolean;
  /** Fixed by the reference (ModelArgs block_size = 16384), not read from the YAML. */
  blockSize: number;
  ropeBase: number;
  normEps: number;
  /** find_multiple(int(8 * dim / 3), 256). */
  intermediateSize: number;
}

export interface WavenetConfig {
  hiddenDim: number;
  numLayers: number;
  kernelSize: number;
  dilationRate: number;
}

export interface SeedVcConfig {
  mel: MelParams;
  speechTokenizer: { type: 'whisper' | 'xlsr' | 'cnhubert'; name: string; outputLayer?: number };
  styleDim: number;
  vocoder: { type: 'bigvgan' | 'hifigan' | 'vocos'; name?: string };
  lengthRegulator: LengthRegulatorConfig;
  dit: DitConfig;
  wavenet?: WavenetConfig;
}

export function findMultiple(n: number, k: number): number {
  return n % k === 0 ? n : n + k - (n % k);
}

/**
 * Accepted ranges of the values that size the networks: the official presets use sr 22050 / 44100,
 * n_fft 1024 / 2048, 80 / 128 mels, DiT 384..768 wide, 8..17 deep, 6..12 heads, WaveNet 8 layers of kernel
 * 5; each bound leaves ample headroom above that and keeps a hostile config from sizing gigabytes.
 */
export const SEED_VC_CONFIG_BOUNDS = {
  sampleRate: [8000, 96_000],
  nFft: [16, 8192],
  nMels: [1, 512],
  width: [1, 8192],
  heads: [1, 256],
  depth: [1, 256],
  mels: [1, 1024],
  samplingRatios: 16,
  nF0Bins: [1, 4096],
  wavenetLayers: [1, 256],
  kernelSize: [1, 63],
  dilationRate: [1, 16],
  /** Largest WaveNet dilation (dilation_rate ** (num_layers - 1)). */
  maxDilation: 4096,
  outputLayer: [1, 128],
} as const;

/** Parses a Seed-VC YAML config. `source` names the file in errors. */
export function parseSeedVcConfig(text: string, source = 'config'): SeedVcConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid YAML (${(e as Error).message})`);
  }
  const B = SEED_VC_CONFIG_BOUNDS;
  const root = new Reader(doc, source, '');
  const pre = root.obj('preprocess_params');
  const spect = pre.obj('spect_params');
  const mp = root.obj('model_params');
  const lr = mp.obj('length_regulator');
  const dit = mp.obj('DiT');
  const tok = mp.obj('speech_tokenizer');
  const voc = mp.obj('vocoder');
  const fmaxRaw = spect.opt('fmax');
  const sampleRate = pre.int('sr', ...B.sampleRate);
  const nFft = spect.int('n_fft', ...B.nFft);
  const hidden = dit.int('hidden_dim', ...B.width);
  const numHeads = dit.int('num_heads', ...B.heads);
  if (hidden % numHeads !== 0) dit.fail('hidden_dim', hidden, `a multiple of num_heads (${numHeads})`);
  const cfg: SeedVcConfig = {
    mel: {
      sampleRate,
      nFft,
      winLength: spect.int('win_length', 1, nFft),
      hopLength: spect.int('hop_length', 1, nFft),
      nMels: spect.int('n_mels', ...B.nMels),
      fmin: spect.optNum('fmin', 0, sampleRate / 2) ?? 0,
      // inference.py: fmax is None when the key is absent or the string "None"; any other value
      // (a number, even YAML null) selects 8000.
      fmax: fmaxRaw === undefined || fmaxRaw === 'None' ? null : 8000,
    },
    speechTokenizer: {
      type: tok.oneOf('type', ['whisper', 'xlsr', 'cnhubert'] as const),
      name: tok.str('name'),
      outputLayer: tok.optInt('output_layer', ...B.outputLayer),
    },
    styleDim: mp.obj('style_encoder').int('dim', ...B.width),
    vocoder: {
      type: voc.oneOf('type', ['bigvgan', 'hifigan', 'vocos'] as const),
      name: voc.optStr('name'),
    },
    lengthRegulator: {
      channels: lr.int('channels', ...B.width),
      inChannels: lr.optInt('in_channels', 0, B.width[1]) ?? 0,
      samplingRatios: lr.optIntList('sampling_ratios', 1, 16, B.samplingRatios) ?? [],
      isDiscrete: Boolean(lr.opt('is_discrete')),
      f0Condition: Boolean(lr.opt('f0_condition')),
      nF0Bins: lr.optInt('n_f0_bins', ...B.nF0Bins) ?? 512,
      groups: 1,
    },
    dit: {
      hiddenDim: hidden,
      numHeads,
      depth: dit.int('depth', ...B.depth),
      inChannels: dit.int('in_channels', ...B.mels),
      contentDim: dit.int('content_dim', ...B.width),
      styleCondition: Boolean(dit.opt('style_condition')),
      finalLayerType: dit.oneOf('final_layer_type', ['wavenet', 'mlp'] as const),
      longSkipConnection: Boolean(dit.opt('long_skip_connection')),
      uvitSkipConnection: Boolean(dit.opt('uvit_skip_connection')),
      timeAsToken: Boolean(dit.opt('time_as_token')),
      styleAsToken: Boolean(dit.opt('style_as_token')),
      isCausal: Boolean(dit.opt('is_causal')),
      zeroPromptSpeechToken: Boolean(dit.opt('zero_prompt_speech_token')),
      blockSize: 16384,
      ropeBase: 10000,
      normEps: 1e-5,
      intermediateSize: findMultiple(Math.trunc((2 * 4 * hidden) / 3), 256),
    },
  };
  if (cfg.dit.finalLayerType === 'wavenet') {
    const wn = mp.obj('wavenet');
    cfg.wavenet = {
      hiddenDim: wn.int('hidden_dim', ...B.width),
      numLayers: wn.int('num_layers', ...B.wavenetLayers),
      kernelSize: wn.int('kernel_size', ...B.kernelSize),
      dilationRate: wn.int('dilation_rate', ...B.dilationRate),
    };
    if (cfg.wavenet.dilationRate ** (cfg.wavenet.numLayers - 1) > B.maxDilation) {
      wn.fail('dilation_rate', cfg.wavenet.dilationRate, `dilation_rate ** (num_layers - 1) <= ${B.maxDilation} (num_layers is ${cfg.wavenet.numLayers})`);
    }
  }
  if (cfg.lengthRegulator.isDiscrete) {
    throw new InvalidInputError(`${source}: discrete-token length regulators (is_discrete: true) are not supported; the released Seed-VC models use continuous content`);
  }
  if (cfg.dit.isCausal) {
    throw new InvalidInputError(`${source}: causal DiT (is_causal: true) is not supported by this port`);
  }
  return cfg;
}

/** Typed, bounded access to a YAML mapping; errors name the file and the key's path in it. */
class Reader {
  private readonly bounds: ConfigBounds;

  constructor(private readonly value: unknown, source: string, private readonly path: string) {
    this.bounds = new ConfigBounds(source);
  }

  private key(k: string): string { return this.path ? `${this.path}.${k}` : k; }

  private get map(): Record<string, unknown> {
    if (typeof this.value !== 'object' || this.value === null || Array.isArray(this.value)) {
      this.bounds.fail(this.path || 'the document', this.value, 'a mapping');
    }
    return this.value as Record<string, unknown>;
  }

  fail(k: string, v: unknown, accepted: string): never { return this.bounds.fail(this.key(k), v, accepted); }

  opt(k: string): unknown { return Object.hasOwn(this.map, k) ? this.map[k] : undefined; }

  obj(k: string): Reader {
    const v = this.opt(k);
    if (v === undefined) this.fail(k, v, 'a mapping');
    return new Reader(v, this.bounds.source, this.key(k));
  }

  int(k: string, min: number, max: number): number { return this.bounds.int(this.key(k), this.opt(k), min, max); }

  optInt(k: string, min: number, max: number): number | undefined {
    const v = this.opt(k);
    return v === undefined || v === null ? undefined : this.bounds.int(this.key(k), v, min, max);
  }

  optNum(k: string, min: number, max: number): number | undefined {
    const v = this.opt(k);
    return v === undefined || v === null ? undefined : this.bounds.num(this.key(k), v, min, max);
  }

  optIntList(k: string, min: number, max: number, maxLength: number): number[] | undefined {
    const v = this.opt(k);
    return v === undefined || v === null ? undefined : this.bounds.intList(this.key(k), v, { min, max, minLength: 0, maxLength });
  }

  str(k: string): string { return this.bounds.str(this.key(k), this.opt(k)); }

  optStr(k: string): string | undefined {
    const v = this.opt(k);
    return v === undefined || v === null ? undefined : this.bounds.str(this.key(k), v);
  }

  oneOf<T extends string>(k: string, allowed: readonly T[]): T {
    const v = this.opt(k);
    if (!allowed.includes(v as T)) this.fail(k, v, allowed.join(', '));
    return v as T;
  }
}

/**
 * Seed-VC model configuration: the YAML of configs/presets/*.yml (the file that ships next to each DiT
 * checkpoint), parsed into the typed subset inference needs. Missing optional fields take the defaults
 * the reference code applies (hasattr fallbacks).
 */
import { parse } from 'yaml';
import { InvalidInputError } from '../errors.ts';

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

/** Parses a Seed-VC YAML config. `source` names the file in errors. */
export function parseSeedVcConfig(text: string, source = 'config'): SeedVcConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid YAML (${(e as Error).message})`);
  }
  const root = new Reader(doc, source);
  const pre = root.obj('preprocess_params');
  const spect = pre.obj('spect_params');
  const mp = root.obj('model_params');
  const lr = mp.obj('length_regulator');
  const dit = mp.obj('DiT');
  const fmaxRaw = spect.opt('fmax');
  const hidden = dit.num('hidden_dim');
  const cfg: SeedVcConfig = {
    mel: {
      sampleRate: pre.num('sr'),
      nFft: spect.num('n_fft'),
      winLength: spect.num('win_length'),
      hopLength: spect.num('hop_length'),
      nMels: spect.num('n_mels'),
      fmin: (spect.opt('fmin') as number | undefined) ?? 0,
      // inference.py: fmax is None when the key is absent or the string "None"; any other value
      // (a number, even YAML null) selects 8000.
      fmax: fmaxRaw === undefined || fmaxRaw === 'None' ? null : 8000,
    },
    speechTokenizer: {
      type: mp.obj('speech_tokenizer').oneOf('type', ['whisper', 'xlsr', 'cnhubert'] as const),
      name: mp.obj('speech_tokenizer').str('name'),
      outputLayer: mp.obj('speech_tokenizer').opt('output_layer') as number | undefined,
    },
    styleDim: mp.obj('style_encoder').num('dim'),
    vocoder: {
      type: mp.obj('vocoder').oneOf('type', ['bigvgan', 'hifigan', 'vocos'] as const),
      name: mp.obj('vocoder').opt('name') as string | undefined,
    },
    lengthRegulator: {
      channels: lr.num('channels'),
      inChannels: (lr.opt('in_channels') as number | undefined) ?? 0,
      samplingRatios: (lr.opt('sampling_ratios') as number[] | undefined) ?? [],
      isDiscrete: Boolean(lr.opt('is_discrete')),
      f0Condition: Boolean(lr.opt('f0_condition')),
      nF0Bins: (lr.opt('n_f0_bins') as number | undefined) ?? 512,
      groups: 1,
    },
    dit: {
      hiddenDim: hidden,
      numHeads: dit.num('num_heads'),
      depth: dit.num('depth'),
      inChannels: dit.num('in_channels'),
      contentDim: dit.num('content_dim'),
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
      hiddenDim: wn.num('hidden_dim'),
      numLayers: wn.num('num_layers'),
      kernelSize: wn.num('kernel_size'),
      dilationRate: wn.num('dilation_rate'),
    };
  }
  if (cfg.lengthRegulator.isDiscrete) {
    throw new InvalidInputError(`${source}: discrete-token length regulators (is_discrete: true) are not supported; the released Seed-VC models use continuous content`);
  }
  if (cfg.dit.isCausal) {
    throw new InvalidInputError(`${source}: causal DiT (is_causal: true) is not supported by this port`);
  }
  return cfg;
}

/** Typed access to a YAML mapping with errors that name the config path. */
class Reader {
  constructor(private readonly value: unknown, private readonly path: string) {}

  private get map(): Record<string, unknown> {
    if (typeof this.value !== 'object' || this.value === null || Array.isArray(this.value)) {
      throw new InvalidInputError(`${this.path}: expected a mapping`);
    }
    return this.value as Record<string, unknown>;
  }

  opt(key: string): unknown { return this.map[key]; }

  obj(key: string): Reader {
    const v = this.map[key];
    if (v === undefined) throw new InvalidInputError(`${this.path}.${key}: missing`);
    return new Reader(v, `${this.path}.${key}`);
  }

  num(key: string): number {
    const v = this.map[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidInputError(`${this.path}.${key}: expected a number, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string): string {
    const v = this.map[key];
    if (typeof v !== 'string') throw new InvalidInputError(`${this.path}.${key}: expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.map[key];
    if (!allowed.includes(v as T)) {
      throw new InvalidInputError(`${this.path}.${key}: ${JSON.stringify(v)} is not supported (accepted: ${allowed.join(', ')})`);
    }
    return v as T;
  }
}

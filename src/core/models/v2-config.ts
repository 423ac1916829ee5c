/**
 * Seed-VC v2's wrapper configuration (configs/v2/vc_wrapper.yaml: hydra `_target_` nodes, the narrow and
 * wide extractors sharing one anchored encoder node) parsed into the typed parts the v2 networks need.
 * Each network's part is parsed by its own function, so a caller holding only one node can use it.
 * The `ar` node is returned raw (`raw.ar`) for the AR model's own parser.
 */
import { parse } from 'yaml';
import { InvalidInputError } from '../errors.ts';
import { type AstralConfig, parseAstralConfig } from '../nets/v2/astral.ts';
import { findMultiple } from './config.ts';

/** Hub files of the official v2 release (modules/v2/vc_wrapper.py's defaults). */
export const V2_HUB = {
  repo: 'Plachta/Seed-VC',
  cfm: 'v2/cfm_small.pth',
  ar: 'v2/ar_base.pth',
  astralRepo: 'Plachta/ASTRAL-quantization',
  astralNarrow: 'bsq32/bsq32_light.pth',
  astralWide: 'bsq2048/bsq2048_light.pth',
} as const;

/** The v2 DiT (modules/v2/dit_wrapper.DiT + dit_model.Transformer). */
export interface V2DitConfig {
  hiddenDim: number;
  numHeads: number;
  depth: number;
  inChannels: number;
  contentDim: number;
  styleDim: number;
  /** RoPE table rows (positions must stay below it: frames + 2 <= blockSize). */
  blockSize: number;
  timeAsToken: boolean;
  styleAsToken: boolean;
  ropeBase: number;
  normEps: number;
  /** find_multiple(int(2 * 4 * hidden / 3), 256). */
  intermediateSize: number;
}

/** A discrete InterpolateRegulator of v2 (cfm_length_regulator: 4 conv blocks; ar_length_regulator: embedding only). */
export interface V2LengthRegulatorConfig {
  channels: number;
  codebookSize: number;
  /** One conv / GroupNorm / Mish block per entry; empty = embedding only (no interpolation, no mask). */
  samplingRatios: number[];
  groups: number;
}

export interface V2MelConfig {
  sampleRate: number;
  nFft: number;
  winSize: number;
  hopSize: number;
  numMels: number;
  fmin: number;
  fmax: number | null;
  center: boolean;
}

export interface V2WrapperConfig {
  sampleRate: number;
  hopSize: number;
  mel: V2MelConfig;
  dit: V2DitConfig;
  cfmLengthRegulator: V2LengthRegulatorConfig;
  arLengthRegulator: V2LengthRegulatorConfig;
  contentNarrow: AstralConfig;
  contentWide: AstralConfig;
  /** The vocoder's hub repo (vocoder.pretrained_model_name_or_path). */
  vocoder: string;
  /** The parsed YAML (anchors resolved), e.g. for the `ar` node. */
  raw: Record<string, unknown>;
}

type Node = Record<string, unknown>;

function mapping(v: unknown, path: string): Node {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInputError(`${path}: expected a mapping`);
  return v as Node;
}
/**
 * Largest accepted value of each v2 size: the official vc_wrapper.yaml (sr 22050, n_fft 1024, 80 mels, DiT
 * 512 wide, 13 deep, 8 heads, codebooks of 2048) with ample headroom, so a hostile config cannot size gigabytes.
 */
export const V2_CONFIG_MAX: Readonly<Record<string, number>> = {
  sr: 96_000, sampling_rate: 96_000, hop_size: 4096, n_fft: 8192, win_size: 8192, num_mels: 512, fmin: 48_000,
  hidden_dim: 8192, num_heads: 256, depth: 256, in_channels: 1024, content_dim: 8192, style_encoder_dim: 8192,
  block_size: 65_536, channels: 8192, codebook_size: 65_536, groups: 64,
};
function int(o: Node, key: string, path: string, fallback?: number): number {
  const v = o[key] ?? fallback;
  const max = V2_CONFIG_MAX[key] ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new InvalidInputError(`${path}.${key}: expected an integer in 0..${max}, got ${JSON.stringify(o[key] ?? v)}`);
  }
  return v;
}
function bool(o: Node, key: string, fallback: boolean): boolean {
  const v = o[key];
  return typeof v === 'boolean' ? v : fallback;
}

/** Reads the `cfm.estimator` node (modules.v2.dit_wrapper.DiT). */
export function parseV2DitConfig(node: unknown, path = 'cfm.estimator'): V2DitConfig {
  const o = mapping(node, path);
  const hidden = int(o, 'hidden_dim', path);
  const heads = int(o, 'num_heads', path);
  if (hidden === 0 || heads === 0 || hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    throw new InvalidInputError(`${path}: hidden_dim ${hidden} must split into num_heads ${heads} heads of an even width`);
  }
  return {
    hiddenDim: hidden,
    numHeads: heads,
    depth: int(o, 'depth', path),
    inChannels: int(o, 'in_channels', path),
    contentDim: int(o, 'content_dim', path),
    styleDim: int(o, 'style_encoder_dim', path),
    blockSize: int(o, 'block_size', path),
    timeAsToken: bool(o, 'time_as_token', false),
    styleAsToken: bool(o, 'style_as_token', false),
    ropeBase: 10000,
    normEps: 1e-5,
    intermediateSize: findMultiple(Math.trunc((2 * 4 * hidden) / 3), 256),
  };
}

/** Reads a `cfm_length_regulator` / `ar_length_regulator` node (modules.v2.length_regulator.InterpolateRegulator). */
export function parseV2LengthRegulatorConfig(node: unknown, path = 'cfm_length_regulator'): V2LengthRegulatorConfig {
  const o = mapping(node, path);
  if (o.is_discrete !== true) throw new InvalidInputError(`${path}.is_discrete: v2 regulators take token ids (true), got ${JSON.stringify(o.is_discrete)}`);
  if (o.f0_condition === true) throw new InvalidInputError(`${path}.f0_condition: not supported in v2`);
  const channels = int(o, 'channels', path);
  if (o.out_channels !== undefined && o.out_channels !== null && o.out_channels !== channels) {
    throw new InvalidInputError(`${path}.out_channels: only out_channels = channels is supported`);
  }
  const ratios = o.sampling_ratios ?? [];
  if (!Array.isArray(ratios) || ratios.length > 16 || !ratios.every((r) => Number.isInteger(r) && r >= 1 && r <= 16)) {
    throw new InvalidInputError(`${path}.sampling_ratios: expected a list of at most 16 integers in 1..16, got ${JSON.stringify(ratios).slice(0, 60)}`);
  }
  return {
    channels,
    codebookSize: int(o, 'codebook_size', path, 1024),
    samplingRatios: ratios.map(Number),
    groups: int(o, 'groups', path, 1),
  };
}

/** Parses configs/v2/vc_wrapper.yaml. `source` names the file in errors. */
export function parseV2WrapperConfig(text: string, source = 'vc_wrapper.yaml'): V2WrapperConfig {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new InvalidInputError(`${source}: not valid YAML (${(e as Error).message})`);
  }
  const root = mapping(doc, source);
  const at = (key: string): unknown => {
    if (root[key] === undefined) throw new InvalidInputError(`${source}: '${key}' is missing`);
    return root[key];
  };
  const mel = mapping(at('mel_fn'), `${source}: mel_fn`);
  const cfm = mapping(at('cfm'), `${source}: cfm`);
  const vocoder = mapping(at('vocoder'), `${source}: vocoder`);
  const p = (k: string) => `${source}: ${k}`;
  return {
    sampleRate: int(root, 'sr', source),
    hopSize: int(root, 'hop_size', source),
    mel: {
      sampleRate: int(mel, 'sampling_rate', p('mel_fn')),
      nFft: int(mel, 'n_fft', p('mel_fn')),
      winSize: int(mel, 'win_size', p('mel_fn')),
      hopSize: int(mel, 'hop_size', p('mel_fn')),
      numMels: int(mel, 'num_mels', p('mel_fn')),
      fmin: int(mel, 'fmin', p('mel_fn'), 0),
      fmax: typeof mel.fmax === 'number' ? mel.fmax : null,
      center: mel.center === true,
    },
    dit: parseV2DitConfig(cfm.estimator, p('cfm.estimator')),
    cfmLengthRegulator: parseV2LengthRegulatorConfig(at('cfm_length_regulator'), p('cfm_length_regulator')),
    arLengthRegulator: parseV2LengthRegulatorConfig(at('ar_length_regulator'), p('ar_length_regulator')),
    contentNarrow: parseAstralConfig(at('content_extractor_narrow'), p('content_extractor_narrow')),
    contentWide: parseAstralConfig(at('content_extractor_wide'), p('content_extractor_wide')),
    vocoder: typeof vocoder.pretrained_model_name_or_path === 'string' ? vocoder.pretrained_model_name_or_path : 'nvidia/bigvgan_v2_22khz_80band_256x',
    raw: root,
  };
}

/**
 * The official configs/v2/vc_wrapper.yaml values (the file lives in the Seed-VC repository, not on the
 * hub), as a document parseV2WrapperConfig reads: used when no --config is given.
 */
export function officialV2Wrapper(): Record<string, unknown> {
  const encoder = { _target_: 'modules.astral_quantization.convnext.ConvNeXtV2Stage', dim: 512, num_blocks: 12, intermediate_dim: 1536, dilation: 1, input_dim: 1024 };
  const quantizer = (codebook: number) => ({
    _target_: 'modules.astral_quantization.bsq.BinarySphericalQuantize', codebook_size: codebook, dim: 512,
    entropy_loss_weight: 0.1, diversity_gamma: 1.0, spherical: true, enable_entropy_loss: true, soft_entropy_loss: true,
  });
  const extractor = (codebook: number, skipSsl: boolean) => ({
    _target_: 'modules.astral_quantization.default_model.AstralQuantizer', tokenizer_name: 'openai/whisper-small',
    ssl_model_name: 'facebook/hubert-large-ll60k', ssl_output_layer: 18, ...(skipSsl ? { skip_ssl: true } : {}),
    encoder, quantizer: quantizer(codebook),
  });
  return {
    _target_: 'modules.v2.vc_wrapper.VoiceConversionWrapper', sr: 22050, hop_size: 256,
    mel_fn: { _target_: 'modules.audio.mel_spectrogram', _partial_: true, n_fft: 1024, win_size: 1024, hop_size: 256, num_mels: 80, sampling_rate: 22050, fmin: 0, fmax: null, center: false },
    cfm: {
      _target_: 'modules.v2.cfm.CFM',
      estimator: {
        _target_: 'modules.v2.dit_wrapper.DiT', time_as_token: true, style_as_token: true, uvit_skip_connection: false, block_size: 8192,
        depth: 13, num_heads: 8, hidden_dim: 512, in_channels: 80, content_dim: 512, style_encoder_dim: 192,
        class_dropout_prob: 0.1, dropout_rate: 0.0, attn_dropout_rate: 0.0,
      },
    },
    cfm_length_regulator: { _target_: 'modules.v2.length_regulator.InterpolateRegulator', channels: 512, is_discrete: true, codebook_size: 2048, sampling_ratios: [1, 1, 1, 1], f0_condition: false },
    ar: {
      _target_: 'modules.v2.ar.NaiveWrapper',
      model: {
        _target_: 'modules.v2.ar.NaiveTransformer',
        config: { _target_: 'modules.v2.ar.NaiveModelArgs', dropout: 0.0, rope_base: 10000.0, dim: 768, head_dim: 64, n_local_heads: 2, intermediate_size: 2304, n_head: 12, n_layer: 12, vocab_size: 2049 },
      },
    },
    ar_length_regulator: { _target_: 'modules.v2.length_regulator.InterpolateRegulator', channels: 768, is_discrete: true, codebook_size: 32, sampling_ratios: [], f0_condition: false },
    style_encoder: { _target_: 'modules.campplus.DTDNN.CAMPPlus', feat_dim: 80, embedding_size: 192 },
    content_extractor_narrow: extractor(32, true),
    content_extractor_wide: extractor(2048, false),
    vocoder: { _target_: 'modules.bigvgan.bigvgan.BigVGAN.from_pretrained', pretrained_model_name_or_path: 'nvidia/bigvgan_v2_22khz_80band_256x', use_cuda_kernel: false },
  };
}

/** Official network sizes for the benchmarks (the weights are random: speed and memory do not depend on them). */
import { findMultiple, parseSeedVcConfig } from '../src/core/models/config.ts';
import { buildBigvgan, bigvganParamShapes, parseBigvganConfig } from '../src/core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, campplusParamShapes } from '../src/core/nets/campplus.ts';
import { type DitShapes, buildDitEstimator, ditParamShapes } from '../src/core/nets/dit.ts';
import { buildLengthRegulator, lengthRegulatorParamShapes } from '../src/core/nets/length-regulator.ts';
import { buildWhisperEncoder, parseWhisperConfig, whisperEncoderParamShapes } from '../src/core/nets/whisper-encoder.ts';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import type { Precision } from '../src/core/onnx/nn.ts';
import { randomWeights } from '../test/helpers/random-weights.ts';

/** The whisper-small-wavenet DiT layout (UViT skips, style condition, WaveNet head) at a given width and depth. */
export function uvitWavenetDit(hiddenDim: number, numHeads: number, depth: number, wavenetLayers: number): DitShapes {
  return {
    styleDim: 192,
    dit: {
      hiddenDim, numHeads, depth, inChannels: 80, contentDim: hiddenDim, styleCondition: true, finalLayerType: 'wavenet',
      longSkipConnection: true, uvitSkipConnection: true, timeAsToken: false, styleAsToken: false, isCausal: false,
      zeroPromptSpeechToken: false, blockSize: 16384, ropeBase: 10000, normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * hiddenDim) / 3), 256),
    },
    wavenet: { hiddenDim, numLayers: wavenetLayers, kernelSize: 5, dilationRate: 1 },
  };
}

export const DIT_OFFICIAL: DitShapes = uvitWavenetDit(512, 8, 13, 8);

/** config_dit_mel_seed_uvit_whisper_base_f0_44k.yml: the 44.1 kHz singing DiT (17 x 768, MLP head, 128 mels). */
export const SINGING_DIT: DitShapes = {
  styleDim: 192,
  dit: {
    hiddenDim: 768, numHeads: 12, depth: 17, inChannels: 128, contentDim: 768, styleCondition: true, finalLayerType: 'mlp',
    longSkipConnection: false, uvitSkipConnection: true, timeAsToken: false, styleAsToken: false, isCausal: false,
    zeroPromptSpeechToken: false, blockSize: 8192, ropeBase: 10000, normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * 768) / 3), 256),
  },
};

export const OFFICIAL_WHISPER = parseWhisperConfig({ d_model: 768, encoder_layers: 12, encoder_attention_heads: 12, encoder_ffn_dim: 3072, num_mel_bins: 80, max_source_positions: 1500, activation_function: 'gelu' });
export const OFFICIAL_BIGVGAN_22K = parseBigvganConfig({
  num_mels: 80, upsample_rates: [4, 4, 2, 2, 2, 2], upsample_kernel_sizes: [8, 8, 4, 4, 4, 4], upsample_initial_channel: 1536,
  resblock: '1', resblock_kernel_sizes: [3, 7, 11], resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
  activation: 'snakebeta', snake_logscale: true, use_tanh_at_final: false, use_bias_at_final: false, sampling_rate: 22050, hop_size: 256,
});

/** The official whisper-small-wavenet configuration from the parity set's tiny YAML (its text), at the official sizes. */
export function officialConfigFrom(tinyYaml: string) {
  const tiny = parseSeedVcConfig(tinyYaml, 'config_dit_mel_seed_uvit_whisper_small_wavenet.yml');
  return {
    ...tiny,
    styleDim: DIT_OFFICIAL.styleDim,
    dit: DIT_OFFICIAL.dit,
    wavenet: DIT_OFFICIAL.wavenet,
    lengthRegulator: { ...tiny.lengthRegulator, channels: 512, inChannels: 768 },
  };
}

export type OfficialNetwork = 'content' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder';

/**
 * Graph builders at official size with seeded random weights, per network (Whisper-small, CAMPPlus, the
 * length regulator, the whisper-small-wavenet DiT, BigVGAN 22 kHz). Node-free: the browser bench builds them in a worker.
 */
export function officialBuildersFrom(cfg: ReturnType<typeof officialConfigFrom>): Record<OfficialNetwork, (p: Precision) => GraphBuilder> {
  const w = OFFICIAL_WHISPER;
  const v = OFFICIAL_BIGVGAN_22K;
  return {
    content: (precision) => buildWhisperEncoder(w, randomWeights(whisperEncoderParamShapes(w), 3), { precision }),
    speaker: (precision) => buildCampplus(campplusConfig, randomWeights(campplusParamShapes(campplusConfig), 4), { precision }),
    length_regulator: (precision) => buildLengthRegulator(cfg.lengthRegulator, randomWeights(lengthRegulatorParamShapes(cfg.lengthRegulator), 6), { precision }),
    dit: (precision) => buildDitEstimator(DIT_OFFICIAL, randomWeights(ditParamShapes(DIT_OFFICIAL), 5), { precision, keyMask: false }),
    vocoder: (precision) => buildBigvgan(v, randomWeights(bigvganParamShapes(v), 7), { precision }),
  };
}

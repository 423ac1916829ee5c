/** Official network sizes for the benchmarks (the weights are random: speed and memory do not depend on them). */
import { findMultiple } from '../src/core/models/config.ts';
import type { DitShapes } from '../src/core/nets/dit.ts';

export const DIT_OFFICIAL: DitShapes = {
  styleDim: 192,
  dit: {
    hiddenDim: 512, numHeads: 8, depth: 13, inChannels: 80, contentDim: 512, styleCondition: true, finalLayerType: 'wavenet',
    longSkipConnection: true, uvitSkipConnection: true, timeAsToken: false, styleAsToken: false, isCausal: false,
    zeroPromptSpeechToken: false, blockSize: 16384, ropeBase: 10000, normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * 512) / 3), 256),
  },
  wavenet: { hiddenDim: 512, numLayers: 8, kernelSize: 5, dilationRate: 1 },
};

/** config_dit_mel_seed_uvit_whisper_base_f0_44k.yml: the 44.1 kHz singing DiT (17 x 768, MLP head, 128 mels). */
export const SINGING_DIT: DitShapes = {
  styleDim: 192,
  dit: {
    hiddenDim: 768, numHeads: 12, depth: 17, inChannels: 128, contentDim: 768, styleCondition: true, finalLayerType: 'mlp',
    longSkipConnection: false, uvitSkipConnection: true, timeAsToken: false, styleAsToken: false, isCausal: false,
    zeroPromptSpeechToken: false, blockSize: 8192, ropeBase: 10000, normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * 768) / 3), 256),
  },
};

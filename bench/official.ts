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

/**
 * Seed-VC v2's non-autoregressive networks at their official sizes (random weights), fp32 vs fp16, side by
 * side in one run on this machine's CPU:
 *   node --import tsx bench/v2-nets.ts [--quick] [--json] [--only hubert|astral|lr|dit]
 * Per network: graph build time, session set-up, and the median of timed runs on the input of a 10 s source
 * (HuBERT: one 10 s 16 kHz window; ASTRAL wide: its 499 frames; CFM length regulator: 861 mel frames; DiT: one
 * Euler step of the 3-way guidance batch over a 3 s prompt + 10 s source = 1119 frames). --quick: 2 HuBERT
 * layers / 2 blocks / 2 DiT layers and one timed run (a smoke run, not a measurement).
 */
import { buildAstralExtractor, astralParamShapes } from '../src/core/nets/v2/astral.ts';
import { buildHubert, hubertParamShapes, normalizeHubertInput, type HubertConfig } from '../src/core/nets/v2/hubert.ts';
import { buildV2Dit, v2DitParamShapes } from '../src/core/nets/v2/dit.ts';
import { buildV2LengthRegulator, v2LengthRegulatorParamShapes } from '../src/core/nets/v2/length-regulator.ts';
import type { AstralConfig } from '../src/core/nets/v2/astral.ts';
import type { V2DitConfig, V2LengthRegulatorConfig } from '../src/core/models/v2-config.ts';
import { findMultiple } from '../src/core/models/config.ts';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import type { Precision } from '../src/core/onnx/nn.ts';
import { type Tensor, tensor } from '../src/core/tensor.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { randomWeights, seededUniform } from '../test/helpers/onnx.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const depth = (n: number) => (quick ? 2 : n);
const log = (s: string) => { if (!json) console.log(s); };

const HUBERT: HubertConfig = {
  hiddenSize: 1024, numAttentionHeads: 16, intermediateSize: 4096, convDim: new Array(7).fill(512),
  convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true,
  numConvPosEmbeddings: 128, numConvPosEmbeddingGroups: 16, layerNormEps: 1e-5, numHiddenLayers: 24,
  outputLayer: depth(18), finalLayerNorm: false,
};
const ASTRAL: AstralConfig = {
  dim: 512, inputDim: 1024, outputDim: 512, intermediateDim: 1536, numBlocks: depth(12), dilation: 1, codebookSize: 2048,
  quantizerDim: 512, sslOutputLayer: 18, sslModelName: 'facebook/hubert-large-ll60k',
};
const LR: V2LengthRegulatorConfig = { channels: 512, codebookSize: 2048, samplingRatios: [1, 1, 1, 1], groups: 1 };
const DIT: V2DitConfig = {
  hiddenDim: 512, numHeads: 8, depth: depth(13), inChannels: 80, contentDim: 512, styleDim: 192, blockSize: 8192,
  timeAsToken: true, styleAsToken: true, ropeBase: 10000, normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * 512) / 3), 256),
};

const rnd = seededUniform(17);
const fill = (shape: number[], scale = 1) => tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rnd()));

interface Spec { name: string; what: string; build: (p: Precision) => GraphBuilder; feeds: () => Record<string, Tensor> }

const SPECS: Spec[] = [
  {
    name: 'hubert', what: `HuBERT-large, ${HUBERT.outputLayer} layers, 10 s at 16 kHz`,
    build: (precision) => buildHubert(HUBERT, randomWeights(hubertParamShapes(HUBERT), 1), { precision }),
    feeds: () => ({ input_values: tensor('float32', [1, 160000], normalizeHubertInput(fill([160000]).data)) }),
  },
  {
    name: 'astral', what: `ASTRAL wide extractor, ${ASTRAL.numBlocks} ConvNeXt blocks, 499 frames`,
    build: (precision) => buildAstralExtractor(ASTRAL, randomWeights(astralParamShapes(ASTRAL), 2), { precision }),
    feeds: () => ({ hidden: fill([1, 499, 1024], 4) }),
  },
  {
    name: 'lr', what: 'CFM length regulator, 499 tokens -> 861 frames',
    build: (precision) => buildV2LengthRegulator(LR, randomWeights(v2LengthRegulatorParamShapes(LR), 3), { precision }),
    feeds: () => ({
      tokens: tensor('int64', [1, 499], BigInt64Array.from({ length: 499 }, (_, i) => BigInt((i * 37) % 2048))),
      ylens: tensor('int64', [1], BigInt64Array.from([861n])),
    }),
  },
  {
    name: 'dit', what: `DiT ${DIT.depth} x 512, one step, 3-way batch, 1119 frames`,
    build: (precision) => buildV2Dit(DIT, randomWeights(v2DitParamShapes(DIT), 4), { precision, keyMask: false }),
    feeds: () => {
      const [B, T] = [3, 1119];
      return {
        x: fill([B, 80, T]), prompt_x: fill([B, 80, T]), x_lens: tensor('int64', [B], new BigInt64Array(B).fill(BigInt(T))),
        t: tensor('float32', [B], new Float32Array(B).fill(0.4)), style: fill([B, 192]), cond: fill([B, T, 512]),
      };
    },
  },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, Record<string, number>> = {};
for (const spec of SPECS) {
  if (only && only !== spec.name) continue;
  log(`${spec.name}: ${spec.what}`);
  const feeds = spec.feeds();
  for (const precision of ['fp32', 'fp16'] as const) {
    const t0 = performance.now();
    const g = spec.build(precision);
    const bytes = g.toOnnx();
    const t1 = performance.now();
    const session = await nodeBackend.createSession(bytes, { label: `${spec.name}_${precision}` });
    const t2 = performance.now();
    await session.run(feeds); // warm-up
    const runs: number[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      const s = performance.now();
      await session.run(feeds);
      runs.push((performance.now() - s) / 1000);
    }
    await session.release();
    const r = { buildSeconds: (t1 - t0) / 1000, sessionSeconds: (t2 - t1) / 1000, seconds: median(runs), weightMiB: g.weightBytes / 2 ** 20 };
    results[`${spec.name}.${precision}`] = r;
    log(`  ${precision}: run ${r.seconds.toFixed(3)} s (median of ${runs.length}: ${runs.map((x) => x.toFixed(3)).join(', ')}), session ${r.sessionSeconds.toFixed(1)} s, weights ${r.weightMiB.toFixed(0)} MiB`);
  }
  const a = results[`${spec.name}.fp32`], b = results[`${spec.name}.fp16`];
  log(`  fp16 speed ${(a.seconds / b.seconds).toFixed(2)}x, weight bytes ${(b.weightMiB / a.weightMiB).toFixed(2)}x`);
}
if (json) console.log(JSON.stringify({ quick, results }));

/**
 * The DiT estimator and the length regulator at their official sizes (random weights): the graphs build,
 * load and run, with the right shapes and finite outputs, in fp32 and fp16.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DitShapes, buildDitEstimator, ditParamShapes } from '../../src/core/nets/dit.ts';
import { buildLengthRegulator, lengthRegulatorParamShapes } from '../../src/core/nets/length-regulator.ts';
import { type LengthRegulatorConfig, findMultiple } from '../../src/core/models/config.ts';
import { tensor } from '../../src/core/tensor.ts';
import { allFinite, randomWeights, runGraph, seededUniform } from '../helpers/onnx.ts';

function dit(hidden: number, heads: number, depth: number, mels: number, head: 'wavenet' | 'mlp'): DitShapes {
  return {
    styleDim: 192,
    dit: {
      hiddenDim: hidden, numHeads: heads, depth, inChannels: mels, contentDim: hidden, styleCondition: true,
      finalLayerType: head, longSkipConnection: head === 'wavenet', uvitSkipConnection: true, timeAsToken: false,
      styleAsToken: false, isCausal: false, zeroPromptSpeechToken: false, blockSize: 16384, ropeBase: 10000,
      normEps: 1e-5, intermediateSize: findMultiple(Math.trunc((8 * hidden) / 3), 256),
    },
    wavenet: head === 'wavenet' ? { hiddenDim: hidden, numLayers: 8, kernelSize: 5, dilationRate: 1 } : undefined,
  };
}

/** config_dit_mel_seed_uvit_whisper_small_wavenet.yml and config_dit_mel_seed_uvit_whisper_base_f0_44k.yml. */
const OFFICIAL: [string, DitShapes][] = [
  ['whisper-small-wavenet (13 x 512, WaveNet 8 x 512, 80 mels)', dit(512, 8, 13, 80, 'wavenet')],
  ['44.1 kHz singing (17 x 768, mlp head, 128 mels)', dit(768, 12, 17, 128, 'mlp')],
];

for (const [name, cfg] of OFFICIAL) {
  test(`DiT ${name}: builds and runs at full size`, async (t) => {
    const shapes = ditParamShapes(cfg);
    const params = [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    const w = randomWeights(shapes, 5);
    const [B, C, T] = [2, cfg.dit.inChannels, 96];
    const rnd = seededUniform(3);
    const fill = (n: number) => Float32Array.from({ length: n }, rnd);
    const feeds = {
      x: tensor('float32', [B, C, T], fill(B * C * T)), prompt_x: tensor('float32', [B, C, T], fill(B * C * T)),
      x_lens: tensor('int64', [1], new BigInt64Array([BigInt(T)])), t: tensor('float32', [B], new Float32Array([0.25, 0.25])),
      style: tensor('float32', [B, 192], fill(B * 192)), cond: tensor('float32', [B, T, cfg.dit.contentDim], fill(B * T * cfg.dit.contentDim)),
    };
    const sizes: string[] = [];
    for (const precision of ['fp32', 'fp16'] as const) {
      const t0 = performance.now();
      const g = buildDitEstimator(cfg, w, { precision });
      const out = await runGraph(g, feeds);
      assert.deepEqual(out.velocity.shape, [B, C, T]);
      assert.ok(allFinite(out.velocity.data as Float32Array), `${precision} output finite`);
      sizes.push(`${precision} ${(g.weightBytes / 2 ** 20).toFixed(0)} MiB (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    t.diagnostic(`${(params / 1e6).toFixed(1)} M parameters; weights ${sizes.join(', ')}`);
  });
}

test('length regulators at full size (whisper-small 768 -> 512; singing 768 -> 768 with 256 F0 bins)', async () => {
  const configs: LengthRegulatorConfig[] = [
    { channels: 512, inChannels: 768, samplingRatios: [1, 1, 1, 1], isDiscrete: false, f0Condition: false, nF0Bins: 512, groups: 1 },
    { channels: 768, inChannels: 768, samplingRatios: [1, 1, 1, 1], isDiscrete: false, f0Condition: true, nF0Bins: 256, groups: 1 },
  ];
  const rnd = seededUniform(9);
  for (const cfg of configs) {
    const feeds: Record<string, ReturnType<typeof tensor>> = {
      x: tensor('float32', [1, 150, 768], Float32Array.from({ length: 150 * 768 }, rnd)),
      ylens: tensor('int64', [1], new BigInt64Array([258n])),
    };
    if (cfg.f0Condition) feeds.f0_coarse = tensor('int64', [1, 300], BigInt64Array.from({ length: 300 }, (_, i) => BigInt(i % 256)));
    const out = await runGraph(buildLengthRegulator(cfg, randomWeights(lengthRegulatorParamShapes(cfg), 2)), feeds);
    assert.deepEqual(out.cond.shape, [1, 258, cfg.channels]);
    assert.ok(allFinite(out.cond.data as Float32Array));
  }
});

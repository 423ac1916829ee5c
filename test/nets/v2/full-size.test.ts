/**
 * Seed-VC v2 networks at their official widths (configs/v2/vc_wrapper.yaml, hubert-large) with random
 * weights: the graphs build, load and run, with the right shapes and finite outputs, fp32 and fp16.
 * To keep CI short, the deep stacks run with 2 of their layers / blocks (every layer has the same shapes);
 * SEED_VC_V2_FULL_DEPTH=1 runs them at full depth (HuBERT 18 layers, ConvNeXt 12 blocks, DiT 13 layers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type HubertConfig, buildHubert, hubertParamShapes, normalizeHubertInput } from '../../../src/core/nets/v2/hubert.ts';
import { type AstralConfig, astralParamShapes, buildAstralExtractor } from '../../../src/core/nets/v2/astral.ts';
import { buildV2Dit, v2DitParamShapes } from '../../../src/core/nets/v2/dit.ts';
import { buildV2LengthRegulator, v2LengthRegulatorParamShapes } from '../../../src/core/nets/v2/length-regulator.ts';
import { officialV2Wrapper, parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { tensor } from '../../../src/core/tensor.ts';
import { allFinite, randomWeights, runGraph, seededUniform } from '../../helpers/onnx.ts';

const FULL = process.env.SEED_VC_V2_FULL_DEPTH === '1';
const depth = (n: number) => (FULL ? n : 2);

for (const precision of ['fp32', 'fp16'] as const) {
  test(`HuBERT-large (1024 wide, ${depth(18)} of 18 layers, random weights) on 1 s: [1, 49, 1024], finite (${precision})`, async (t) => {
    const cfg: HubertConfig = {
      hiddenSize: 1024, numAttentionHeads: 16, intermediateSize: 4096, convDim: new Array(7).fill(512),
      convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true,
      numConvPosEmbeddings: 128, numConvPosEmbeddingGroups: 16, layerNormEps: 1e-5, numHiddenLayers: 24,
      outputLayer: depth(18), finalLayerNorm: false,
    };
    const t0 = performance.now();
    const g = buildHubert(cfg, randomWeights(hubertParamShapes(cfg)), { precision });
    const rnd = seededUniform(5);
    const wave = normalizeHubertInput(new Float32Array(16000).map(() => rnd()));
    const t1 = performance.now();
    const out = await runGraph(g, { input_values: tensor('float32', [1, 16000], wave) });
    assert.deepEqual(out.hidden.shape, [1, 49, 1024]);
    assert.ok(allFinite(out.hidden.data as Float32Array));
    t.diagnostic(`build ${((t1 - t0) / 1000).toFixed(1)} s, session + run ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  });
}

/** The released sizes (configs/v2/vc_wrapper.yaml of the Seed-VC repository). */
const OFFICIAL = parseV2WrapperConfig(JSON.stringify(officialV2Wrapper()), 'official v2 sizes');

/** The bottleneck encoder (1024 -> 512, 1536 inner) with the wide / narrow quantizer. */
function astral(codebookSize: number): AstralConfig {
  const cfg = codebookSize === 2048 ? OFFICIAL.contentWide : OFFICIAL.contentNarrow;
  return { ...cfg, numBlocks: depth(cfg.numBlocks) };
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`ASTRAL wide and narrow extractors (1024 -> 512, ${depth(12)} of 12 blocks, random weights) on 10 s of HuBERT frames (${precision})`, async (t) => {
    const T = 499;
    const rnd = seededUniform(9);
    const hidden = tensor('float32', [1, T, 1024], Float32Array.from({ length: T * 1024 }, () => 4 * rnd()));
    for (const codes of [2048, 32]) {
      const cfg = astral(codes);
      const t0 = performance.now();
      const out = await runGraph(buildAstralExtractor(cfg, randomWeights(astralParamShapes(cfg), codes), { precision }), { hidden });
      assert.deepEqual(out.indices.shape, [1, T]);
      const ids = Array.from(out.indices.data as BigInt64Array, Number);
      assert.ok(ids.every((v) => Number.isInteger(v) && v >= 0 && v < codes), `ids in [0, ${codes})`);
      assert.ok(new Set(ids).size > 1, 'more than one code');
      t.diagnostic(`${codes} codes: ${new Set(ids).size} distinct ids, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  });
}

const LR = OFFICIAL.cfmLengthRegulator;
const DIT = { ...OFFICIAL.dit, depth: depth(OFFICIAL.dit.depth) };

for (const precision of ['fp32', 'fp16'] as const) {
  test(`v2 length regulator (512 channels, 2048 codes) and DiT (512 wide, 8 heads, ${depth(13)} of 13 layers), 3-way batch, random weights (${precision})`, async (t) => {
    const rnd = seededUniform(11);
    const [Tin, T, B] = [150, 258, 3];
    const tokens = tensor('int64', [1, Tin], BigInt64Array.from({ length: Tin }, (_, i) => BigInt((i * 37) % 2048)));
    const t0 = performance.now();
    const lr = await runGraph(buildV2LengthRegulator(LR, randomWeights(v2LengthRegulatorParamShapes(LR), 3), { precision }),
      { tokens, ylens: tensor('int64', [1], BigInt64Array.from([BigInt(T)])) });
    assert.deepEqual(lr.cond.shape, [1, T, 512]);
    assert.ok(allFinite(lr.cond.data as Float32Array));
    const t1 = performance.now();
    const fill = (n: number) => Float32Array.from({ length: n }, rnd);
    const cond = new Float32Array(B * T * 512);
    cond.set(lr.cond.data as Float32Array);
    cond.set(lr.cond.data as Float32Array, T * 512);
    const out = await runGraph(buildV2Dit(DIT, randomWeights(v2DitParamShapes(DIT), 4), { precision, keyMask: false }), {
      x: tensor('float32', [B, 80, T], fill(B * 80 * T)), prompt_x: tensor('float32', [B, 80, T], fill(B * 80 * T)),
      x_lens: tensor('int64', [B], new BigInt64Array(B).fill(BigInt(T))), t: tensor('float32', [B], new Float32Array(B).fill(0.3)),
      style: tensor('float32', [B, 192], fill(B * 192)), cond: tensor('float32', [B, T, 512], cond),
    });
    assert.deepEqual(out.velocity.shape, [B, 80, T]);
    assert.ok(allFinite(out.velocity.data as Float32Array));
    t.diagnostic(`length regulator ${((t1 - t0) / 1000).toFixed(1)} s, DiT build + run ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  });
}

test('the released v2 sizes parse into the official widths', () => {
  const o = OFFICIAL;
  assert.deepEqual([o.dit.hiddenDim, o.dit.numHeads, o.dit.depth, o.dit.blockSize, o.dit.intermediateSize], [512, 8, 13, 8192, 1536]);
  assert.deepEqual([o.contentWide.inputDim, o.contentWide.dim, o.contentWide.numBlocks, o.contentWide.codebookSize, o.contentNarrow.codebookSize], [1024, 512, 12, 2048, 32]);
  assert.deepEqual([o.cfmLengthRegulator.channels, o.arLengthRegulator.channels, o.arLengthRegulator.codebookSize], [512, 768, 32]);
});

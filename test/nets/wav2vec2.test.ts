import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Wav2vec2Config, buildWav2vec2, loadWav2vec2Weights, normalizeWav2vec2Input, parseWav2vec2Config,
  wav2vec2Frames, wav2vec2ParamShapes,
} from '../../src/core/nets/wav2vec2.ts';
import { foldWeightNorm, loadStateDict, writeSafetensors } from '../../src/core/checkpoint/index.ts';
import { ModelMismatchError } from '../../src/core/errors.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { HUB, assertClose, caseTensors, getF32, goldenCase, relErr, tolerance } from '../helpers/golden.ts';
import { allFinite, randomWeights, runGraph, seededUniform } from '../helpers/onnx.ts';

const XLSR = join(HUB, 'facebook', 'wav2vec2-xls-r-300m');
const CASE = 'nets_wav2vec2_xlsr';

function tinyXlsr() {
  const c = goldenCase(CASE);
  const cfg = parseWav2vec2Config(readFileSync(join(XLSR, 'config.json'), 'utf8'), (c.args as { output_layer: number }).output_layer);
  const bytes = new Uint8Array(readFileSync(join(XLSR, 'model.safetensors')));
  return { c, cfg, bytes, weights: loadWav2vec2Weights(bytes, 'model.safetensors', cfg) };
}

/** Golden name of each debug output of ours (conv intermediates are the first 64 steps). */
const COMPARED: Record<string, string> = {
  last_hidden_state: 'output',
  extract_features: 'intermediate.extract_features',
  pos_conv_embed: 'intermediate.pos_conv_embed',
  'layers.11': 'intermediate.layers.11',
};

test('parseWav2vec2Config reads the hub config and rejects unsupported variants', () => {
  const { cfg } = tinyXlsr();
  assert.equal(cfg.hiddenSize, 32);
  assert.equal(cfg.outputLayer, 12);
  assert.equal(cfg.numHiddenLayers, 24);
  assert.deepEqual(cfg.convStride, [5, 2, 2, 2, 2, 2, 2]);
  assert.equal(wav2vec2Frames(cfg, 32000), 99);
  const json = JSON.parse(readFileSync(join(XLSR, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.throws(() => parseWav2vec2Config({ ...json, feat_extract_norm: 'group' }, 12), ModelMismatchError);
  assert.throws(() => parseWav2vec2Config({ ...json, do_stable_layer_norm: false }, 12), ModelMismatchError);
  assert.throws(() => parseWav2vec2Config(json, 25), ModelMismatchError);
});

test('XLS-R weights: pre-training heads ignored, keys with or without wav2vec2., weight norm folded over dim 2', () => {
  const { cfg, bytes, weights } = tinyXlsr();
  const flat = loadStateDict(bytes, 'model.safetensors');
  const g = flat.get('wav2vec2.encoder.pos_conv_embed.conv.weight_g')!;
  const v = flat.get('wav2vec2.encoder.pos_conv_embed.conv.weight_v')!;
  assert.deepEqual(g.shape, [1, 1, 128]);
  const folded = weights.get('encoder.pos_conv_embed.conv.weight');
  assert.deepEqual([...folded.data], [...foldWeightNorm(g, v, 2).data], 'inferred weight-norm axis is 2');
  // one g per kernel tap: ||w[:, :, k]|| = |g[k]| over output AND input channels
  const [O, I, K] = folded.shape;
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let i = 0; i < O * I; i++) s += folded.data[i * K + k] ** 2;
    assert.ok(Math.abs(Math.sqrt(s) - Math.abs((g.data as Float32Array)[k])) < 1e-5 * (1 + Math.abs((g.data as Float32Array)[k])), `tap ${k} norm`);
  }
  // bare Wav2Vec2Model keys, with the parametrizations spelling of the weight norm
  const bare: Record<string, Tensor> = {};
  for (const [k, t] of flat) {
    if (!k.startsWith('wav2vec2.')) continue;
    const name = k.slice('wav2vec2.'.length).replace('weight_g', 'parametrizations.weight.original0').replace('weight_v', 'parametrizations.weight.original1');
    bare[name] = t;
  }
  const alt = loadWav2vec2Weights(writeSafetensors(bare), 'bare.safetensors', cfg);
  assert.deepEqual([...alt.get('encoder.pos_conv_embed.conv.weight').data], [...folded.data]);
  delete bare['encoder.layers.3.attention.k_proj.bias'];
  assert.throws(() => loadWav2vec2Weights(writeSafetensors(bare), 'bad.safetensors', cfg), /layers\.3\.attention\.k_proj\.bias/);
});

test('normalizeWav2vec2Input reproduces the feature extractor (numpy float32 recipe)', (t) => {
  const { c } = tinyXlsr();
  const gt = caseTensors(c);
  const audio = getF32(gt, 'input.audio16k');
  const ours = normalizeWav2vec2Input(audio.data);
  const golden = getF32(gt, 'intermediate.input_values');
  const err = assertClose(`${CASE} input_values`, tensor('float32', [1, ours.length], ours), golden, tolerance(c, 'intermediate.input_values'));
  let mismatches = 0;
  for (let i = 0; i < ours.length; i++) if (ours[i] !== golden.data[i]) mismatches++;
  t.diagnostic(`input_values err ${err.toExponential(2)} (tol ${tolerance(c, 'intermediate.input_values')}), ${mismatches} of ${ours.length} values not bit-equal`);
});

for (const precision of ['fp32', 'fp16'] as const) {
  test(`XLS-R (tiny hub twin, 12 of 24 layers) matches ${CASE} (${precision})`, async (t) => {
    const { c, cfg, weights } = tinyXlsr();
    const gt = caseTensors(c);
    const out = await runGraph(buildWav2vec2(cfg, weights, { precision, debugOutputs: true }), { input_values: getF32(gt, 'intermediate.input_values') });
    for (const [ours, theirs] of Object.entries(COMPARED)) {
      const tol = tolerance(c, theirs);
      const mine = out[ours] as Tensor<'float32'>;
      if (precision === 'fp32') {
        const err = assertClose(`${CASE} ${theirs}`, mine, getF32(gt, theirs), tol);
        t.diagnostic(`${theirs} err ${err.toExponential(2)} (tol ${tol})`);
      } else {
        const err = relErr(mine.data, getF32(gt, theirs).data);
        t.diagnostic(`fp16 ${theirs} err ${err.toExponential(2)} (fp32 tol ${tol})`);
        assert.ok(err < 5e-2, `fp16 ${theirs} err ${err}`);
      }
    }
    if (precision === 'fp32') {
      // the conv stack, first 64 steps of each layer (not in the compare list; a bisecting aid)
      for (let i = 0; i < cfg.convDim.length; i++) {
        const mine = out[`conv_layers.${i}`] as Tensor<'float32'>;
        const [B, C, T] = mine.shape;
        const head = new Float32Array(B * C * 64);
        for (let ch = 0; ch < B * C; ch++) head.set(mine.data.subarray(ch * T, ch * T + 64), ch * 64);
        const err = assertClose(`conv${i}`, tensor('float32', [B, C, 64], head), getF32(gt, `intermediate.conv${i}_first64`), 1e-4);
        if (i === cfg.convDim.length - 1) t.diagnostic(`conv${i}_first64 err ${err.toExponential(2)}`);
      }
    }
  });
}

test('XLS-R at xls-r-300m size (random weights, 12 layers) on 1 s: [1, 49, 1024], finite', async (t) => {
  const cfg: Wav2vec2Config = {
    hiddenSize: 1024, numAttentionHeads: 16, intermediateSize: 4096, convDim: new Array(7).fill(512),
    convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true,
    numConvPosEmbeddings: 128, numConvPosEmbeddingGroups: 16, layerNormEps: 1e-5, numHiddenLayers: 24, outputLayer: 12,
  };
  const t0 = performance.now();
  const g = buildWav2vec2(cfg, randomWeights(wav2vec2ParamShapes(cfg)));
  const rnd = seededUniform(5);
  const wave = normalizeWav2vec2Input(new Float32Array(16000).map(() => rnd()));
  const t1 = performance.now();
  const out = await runGraph(g, { input_values: tensor('float32', [1, 16000], wave) });
  const t2 = performance.now();
  assert.deepEqual(out.last_hidden_state.shape, [1, wav2vec2Frames(cfg, 16000), 1024]);
  assert.equal(wav2vec2Frames(cfg, 16000), 49);
  assert.ok(allFinite(out.last_hidden_state.data as Float32Array));
  t.diagnostic(`xls-r-300m (12 layers): build ${((t1 - t0) / 1000).toFixed(1)} s, session + run ${((t2 - t1) / 1000).toFixed(1)} s`);
});

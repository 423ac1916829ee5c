import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildHubert, hubertOutputFrames, hubertParamShapes, loadHubertWeights, normalizeHubertInput,
  parseHubertConfig,
} from '../../../src/core/nets/v2/hubert.ts';
import { ModelMismatchError } from '../../../src/core/errors.ts';
import { type Tensor, tensor } from '../../../src/core/tensor.ts';
import { assertClose, getF32, relErr, tolerance } from '../../helpers/golden.ts';
import { runGraph, seededUniform } from '../../helpers/onnx.ts';
import { v2Case, v2Hub, v2Tensors } from './helpers.ts';

const CASE = 'v2_hubert';
const DIR = () => join(v2Hub(), 'facebook', 'hubert-large-ll60k');

function tinyHubert() {
  const c = v2Case(CASE);
  const cfg = parseHubertConfig(readFileSync(join(DIR(), 'config.json'), 'utf8'));
  const weights = loadHubertWeights(new Uint8Array(readFileSync(join(DIR(), 'model.safetensors'))), 'model.safetensors', cfg);
  return { c, cfg, weights, gt: v2Tensors(c) };
}

/** Our output name -> golden tensor. */
const COMPARED: Record<string, string> = {
  hidden: 'output',
  extract_features: 'intermediate.extract_features',
  pos_conv_embed: 'intermediate.pos_conv_embed',
  'layers.17': 'intermediate.layers.17',
};

test('parseHubertConfig: 18 of 24 layers, no final norm; non-HuBERT configs refused', () => {
  const { cfg, weights } = tinyHubert();
  assert.equal(cfg.outputLayer, 18);
  assert.equal(cfg.numHiddenLayers, 24);
  assert.equal(cfg.finalLayerNorm, false);
  assert.ok(!hubertParamShapes(cfg).has('encoder.layer_norm.weight'));
  assert.ok(weights.has('encoder.layers.17.final_layer_norm.weight'));
  assert.equal(hubertOutputFrames(cfg, 48000), 149);
  const json = JSON.parse(readFileSync(join(DIR(), 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.throws(() => parseHubertConfig({ ...json, model_type: 'wav2vec2' }), /model_type/);
  assert.throws(() => parseHubertConfig({ ...json, feat_proj_layer_norm: false }), ModelMismatchError);
  assert.throws(() => parseHubertConfig(json, 25), /hubert config\.json: output_layer 25/);
});

test('HuBERT input normalisation matches the feature extractor (numpy float32)', () => {
  const { c, gt } = tinyHubert();
  const audio = getF32(gt, 'input.audio16k');
  const ours = normalizeHubertInput(audio.data);
  assertClose(`${CASE} input_values`, tensor('float32', [1, ours.length], ours), getF32(gt, 'intermediate.input_values'), tolerance(c, 'intermediate.input_values'));
});

for (const precision of ['fp32', 'fp16'] as const) {
  test(`HuBERT (tiny hub twin, 18 layers, no final norm) matches ${CASE} (${precision})`, async (t) => {
    const { c, cfg, weights, gt } = tinyHubert();
    const input = normalizeHubertInput(getF32(gt, 'input.audio16k').data);
    const out = await runGraph(buildHubert(cfg, weights, { precision, debugOutputs: true }), { input_values: tensor('float32', [1, input.length], input) });
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
      const conv0 = out['conv_layers.0'] as Tensor<'float32'>;
      const [B, C, T] = conv0.shape;
      const head = new Float32Array(B * C * 64);
      for (let ch = 0; ch < B * C; ch++) head.set(conv0.data.subarray(ch * T, ch * T + 64), ch * 64);
      assertClose('conv0_first64', tensor('float32', [B, C, 64], head), getF32(gt, 'intermediate.conv0_first64'), 1e-4);
    }
  });
}

test('HuBERT output is trimmed to samples // 320 frames', async () => {
  const { cfg, weights } = tinyHubert();
  const rnd = seededUniform(3);
  // 16319 samples: the conv stack yields 50 frames, samples // 320 = 50; 16000 -> 49 conv frames, kept 49
  for (const [n, frames] of [[16000, 49], [16319 + 320, 51]] as const) {
    const wave = normalizeHubertInput(new Float32Array(n).map(() => rnd()));
    const out = await runGraph(buildHubert(cfg, weights), { input_values: tensor('float32', [1, n], wave) });
    assert.deepEqual(out.hidden.shape, [1, frames, 32]);
    assert.equal(hubertOutputFrames(cfg, n), frames);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildV2LengthRegulator, v2EmbedTokens } from '../../../src/core/nets/v2/length-regulator.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { loadV2ArLengthRegulator, loadV2CfmCheckpoint } from '../../../src/core/models/v2-checkpoint.ts';
import { InvalidInputError } from '../../../src/core/errors.ts';
import type { Tensor } from '../../../src/core/tensor.ts';
import { assertClose, getF32, getTensor, relErr, tolerance } from '../../helpers/golden.ts';
import { runGraph } from '../../helpers/onnx.ts';
import { GOLDEN_V2, ints, v2Case, v2HubFile, v2Tensors } from './helpers.ts';

const CASE = 'v2_length_regulator';

function setup() {
  const cfg = parseV2WrapperConfig(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8'));
  const cfm = loadV2CfmCheckpoint(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm_small.pth', cfg);
  const ar = loadV2ArLengthRegulator(v2HubFile('Plachta', 'Seed-VC', 'v2', 'ar_base.pth'), 'ar_base.pth', cfg.arLengthRegulator);
  const c = v2Case(CASE);
  return { cfg, cfm, ar, c, gt: v2Tensors(c) };
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`v2 CFM length regulator (embedding, nearest, 4 x conv/GroupNorm/Mish, mask; batch 2) matches ${CASE} (${precision})`, async (t) => {
    const { cfg, cfm, c, gt } = setup();
    assert.deepEqual(cfg.cfmLengthRegulator.samplingRatios, [1, 1, 1, 1]);
    const out = await runGraph(buildV2LengthRegulator(cfg.cfmLengthRegulator, cfm.lengthRegulator, { precision, debugOutputs: true }),
      { tokens: getTensor(gt, 'input.tokens'), ylens: getTensor(gt, 'input.ylens') });
    const cond = out.cond as Tensor<'float32'>;
    if (precision === 'fp32') {
      const err = assertClose(`${CASE} output`, cond, getF32(gt, 'output'), tolerance(c, 'output'));
      assertClose('embedding', out.embedding as Tensor<'float32'>, getF32(gt, 'intermediate.embedding'), 1e-6);
      for (const i of [2, 5, 8, 11]) assertClose(`model.${i}`, out[`model.${i}`] as Tensor<'float32'>, getF32(gt, `intermediate.model.${i}`), 2e-5);
      t.diagnostic(`output err ${err.toExponential(2)} (tol ${tolerance(c, 'output')})`);
    } else {
      const err = relErr(cond.data, getF32(gt, 'output').data);
      t.diagnostic(`fp16 output err ${err.toExponential(2)}`);
      assert.ok(err < 5e-2, `fp16 err ${err}`);
    }
    // frames past each row's ylens are zero
    const ylens = ints(getTensor(gt, 'input.ylens'));
    const [, T, C] = cond.shape;
    for (let b = 0; b < 2; b++) {
      for (let j = ylens[b]; j < T; j++) for (let k = 0; k < C; k++) assert.ok(cond.data[(b * T + j) * C + k] === 0);
    }
  });
}

test('v2 AR length regulator = the embedding alone (graph and TypeScript lookup) matches output.ar', async () => {
  const { cfg, ar, c, gt } = setup();
  assert.deepEqual(cfg.arLengthRegulator.samplingRatios, []);
  const tokens = getTensor(gt, 'input.ar.tokens');
  const out = await runGraph(buildV2LengthRegulator(cfg.arLengthRegulator, ar), { tokens });
  assertClose('output.ar (graph)', out.embedding as Tensor<'float32'>, getF32(gt, 'output.ar'), tolerance(c, 'output.ar'));
  const lookup = v2EmbedTokens(ar, cfg.arLengthRegulator, tokens.data as BigInt64Array);
  assertClose('output.ar (lookup)', lookup, getF32(gt, 'output.ar'), 0);
  assert.throws(() => v2EmbedTokens(ar, cfg.arLengthRegulator, [3, 32]), InvalidInputError);
});

test('v2 checkpoint loaders name the missing part / mismatching key', () => {
  const { cfg } = setup();
  const arBytes = v2HubFile('Plachta', 'Seed-VC', 'v2', 'ar_base.pth');
  assert.throws(() => loadV2CfmCheckpoint(arBytes, 'ar_base.pth', cfg), /ar_base\.pth: no keys under net\.cfm/);
  assert.throws(() => loadV2CfmCheckpoint(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm_small.pth', { ...cfg, dit: { ...cfg.dit, hiddenDim: 64 } }),
    /cfm\.estimator\.(t_embedder|cond_projection|style_in|cond_x_merge|transformer|final_mlp)/);
  assert.throws(() => loadV2ArLengthRegulator(arBytes, 'ar_base.pth', cfg.cfmLengthRegulator), /length_regulator\.(embedding|model)/);
});

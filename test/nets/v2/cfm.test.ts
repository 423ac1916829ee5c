import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { solveV2Cfm, v2GuidanceMode, v2TimeGrid } from '../../../src/core/pipeline/v2/cfm.ts';
import { buildV2Dit } from '../../../src/core/nets/v2/dit.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { loadV2CfmCheckpoint } from '../../../src/core/models/v2-checkpoint.ts';
import { InvalidInputError } from '../../../src/core/errors.ts';
import type { Precision } from '../../../src/core/onnx/nn.ts';
import type { NetSession } from '../../../src/core/runtime.ts';
import { type Tensor, tensor } from '../../../src/core/tensor.ts';
import { nodeBackend } from '../../../src/node/backend.ts';
import { assertClose, getF32, relErr, tolerance } from '../../helpers/golden.ts';
import { GOLDEN_V2, v2Case, v2HubFile, v2Tensors } from './helpers.ts';

const CASES = ['v2_cfm_0p7_0p5', 'v2_cfm_0p0_0p7', 'v2_cfm_0p6_0p0', 'v2_cfm_0p0_0p0', 'v2_cfm_rv'];

const sessions = new Map<Precision, Promise<NetSession>>();
function estimator(precision: Precision): Promise<NetSession> {
  let s = sessions.get(precision);
  if (!s) {
    const cfg = parseV2WrapperConfig(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8'));
    const cfm = loadV2CfmCheckpoint(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm_small.pth', cfg);
    // the solver always passes x_lens = frames: the pipeline's build without the key mask
    const g = buildV2Dit(cfg.dit, cfm.estimator, { precision, keyMask: false });
    s = nodeBackend.createSession(g.toOnnx(), { label: `v2_dit_${precision}` });
    sessions.set(precision, s);
  }
  return s;
}

function inputs(id: string) {
  const c = v2Case(id);
  const gt = v2Tensors(c);
  const args = c.args as { n_timesteps: number; inference_cfg_rate: [number, number]; random_voice: boolean; estimator_batch: number };
  const z = getF32(gt, 'random.z');
  return {
    c, gt, args,
    inp: {
      mu: getF32(gt, 'input.mu'), prompt: getF32(gt, 'input.prompt'), style: getF32(gt, 'input.style'),
      noise: tensor('float32', z.shape, Float32Array.from(z.data)), steps: args.n_timesteps,
      cfgRates: args.inference_cfg_rate, randomVoice: args.random_voice,
    },
  };
}

test('v2 cosine time grid equals the reference t_span bit for bit', () => {
  const gt = v2Tensors(v2Case('v2_cfm_0p7_0p5'));
  assert.deepEqual([...v2TimeGrid(4)], [...getF32(gt, 'intermediate.t_span').data]);
  const g30 = v2TimeGrid(30);
  assert.equal(g30[0], 0);
  assert.equal(g30[30], 1);
  for (let i = 1; i <= 30; i++) assert.ok(g30[i] > g30[i - 1]);
});

test('guidance branch per rates, in the reference order', () => {
  assert.equal(v2GuidanceMode([0.7, 0.7]), 'both');
  assert.equal(v2GuidanceMode([0, 0.7]), 'similarity');
  assert.equal(v2GuidanceMode([0.6, 0]), 'intelligibility');
  assert.equal(v2GuidanceMode([0, 0]), 'single');
  assert.equal(v2GuidanceMode([0, 0], true), 'random-voice');
});

for (const id of CASES) {
  test(`v2 CFM solve matches ${id} (every step's t and estimator batch, and the result)`, async (t) => {
    const { c, gt, args, inp } = inputs(id);
    const steps: { t: number; out: Tensor<'float32'> }[] = [];
    const x = await solveV2Cfm(await estimator('fp32'), inp, (e) => steps.push({ t: e.t, out: e.estimatorOut }));
    assert.equal(steps.length, args.n_timesteps);
    let worst = 0;
    for (let k = 1; k <= args.n_timesteps; k++) {
      const tk = getF32(gt, `intermediate.step${k}.t`);
      assert.equal(tk.shape[0], args.estimator_batch);
      for (const v of tk.data) assert.equal(v, steps[k - 1].t, `step ${k} t`);
      worst = Math.max(worst, assertClose(`${id} step${k} estimator_out`, steps[k - 1].out, getF32(gt, `intermediate.step${k}.estimator_out`), 2e-4));
    }
    const err = assertClose(`${id} output`, x, getF32(gt, 'output'), tolerance(c, 'output'));
    const P = inp.prompt.shape[2], T = x.shape[2];
    for (let ch = 0; ch < x.shape[1]; ch++) for (let j = 0; j < P; j++) assert.ok(x.data[ch * T + j] === 0, 'prompt frames zero');
    t.diagnostic(`batch ${args.estimator_batch}: output err ${err.toExponential(2)} (tol ${tolerance(c, 'output')}), worst step ${worst.toExponential(2)}`);
  });
}

test('v2 CFM with the fp16 estimator stays within the documented fp16 tolerance (3-way guidance)', async (t) => {
  const { gt, inp } = inputs('v2_cfm_0p7_0p5');
  const x = await solveV2Cfm(await estimator('fp16'), inp);
  const err = relErr(x.data, getF32(gt, 'output').data);
  t.diagnostic(`fp16 solve err ${err.toExponential(2)}`);
  assert.ok(err < 5e-2, `fp16 err ${err}`);
});

test('v2 CFM rejects inconsistent inputs before running', async () => {
  const { inp } = inputs('v2_cfm_0p0_0p0');
  const s = await estimator('fp32');
  await assert.rejects(solveV2Cfm(s, { ...inp, steps: 0 }), InvalidInputError);
  await assert.rejects(solveV2Cfm(s, { ...inp, cfgRates: [-1, 0] }), InvalidInputError);
  await assert.rejects(solveV2Cfm(s, { ...inp, mu: tensor('float32', [1, 3, 32], new Float32Array(96)) }), /content has 3 frames/);
});

test.after(async () => {
  for (const s of sessions.values()) await (await s).release();
});

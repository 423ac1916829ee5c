import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildLengthRegulator } from '../../src/core/nets/length-regulator.ts';
import { f0ToCoarse } from '../../src/core/dsp/index.ts';
import { solveEuler, linspace01 } from '../../src/core/pipeline/cfm.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { GOLDEN, assertClose, caseTensors, getF32, getTensor, goldenCase, tolerance } from '../helpers/golden.ts';
import { runGraph } from '../helpers/onnx.ts';

function model(name: 'dit_W' | 'dit_M' | 'dit_F0') {
  const dir = join(GOLDEN, 'models', name);
  const cfg = parseSeedVcConfig(readFileSync(join(dir, `config_${name}.yml`), 'utf8'), `config_${name}.yml`);
  const ckpt = loadDitCheckpoint(new Uint8Array(readFileSync(join(dir, `${name}.pth`))), `${name}.pth`, cfg);
  return { cfg, ckpt };
}

function copyF32(t: Tensor): Tensor<'float32'> {
  const f = t as Tensor<'float32'>;
  return tensor('float32', f.shape, Float32Array.from(f.data));
}

for (const id of ['nets_lr_W', 'nets_lr_W_batch2', 'nets_lr_F0'] as const) {
  test(`length regulator matches ${id}`, async (t) => {
    const c = goldenCase(id);
    const { cfg, ckpt } = model(id === 'nets_lr_F0' ? 'dit_F0' : 'dit_W');
    const g = buildLengthRegulator(cfg.lengthRegulator, ckpt.lengthRegulator);
    const gt = caseTensors(c);
    const feeds: Record<string, Tensor> = { x: getF32(gt, 'input.x'), ylens: getTensor(gt, 'input.ylens') };
    if (cfg.lengthRegulator.f0Condition) {
      const f0 = getF32(gt, 'input.f0');
      const coarse = f0ToCoarse(Float64Array.from(f0.data), cfg.lengthRegulator.nF0Bins);
      feeds.f0_coarse = tensor('int64', f0.shape, BigInt64Array.from(coarse, (v) => BigInt(v)));
    }
    const out = await runGraph(g, feeds);
    const err = assertClose(`${id} output`, out.cond as Tensor<'float32'>, getTensor(gt, 'output'), tolerance(c, 'output'));
    t.diagnostic(`${id} output err ${err.toExponential(2)} (tol ${tolerance(c, 'output')})`);
  });
}

for (const [id, name] of [['nets_dit_W_forward', 'dit_W'], ['nets_dit_M_forward', 'dit_M']] as const) {
  test(`DiT estimator matches ${id}`, async (t) => {
    const c = goldenCase(id);
    const { cfg, ckpt } = model(name);
    const g = buildDitEstimator(cfg, ckpt.estimator, { debugOutputs: true });
    const gt = caseTensors(c);
    const out = await runGraph(g, {
      x: getF32(gt, 'input.x'), prompt_x: getF32(gt, 'input.prompt_x'), x_lens: getTensor(gt, 'input.x_lens'),
      t: getF32(gt, 'input.t'), style: getF32(gt, 'input.style'), cond: getF32(gt, 'input.cond'),
    });
    for (const [ours, theirs] of [['velocity', 'output'], ['transformer_out', 'intermediate.transformer_out']]) {
      const err = assertClose(`${id} ${theirs}`, out[ours] as Tensor<'float32'>, getTensor(gt, theirs), tolerance(c, theirs));
      t.diagnostic(`${id} ${theirs} err ${err.toExponential(2)} (tol ${tolerance(c, theirs)})`);
    }
  });
}

for (const [id, name] of [['nets_cfm_W_cfg0p7', 'dit_W'], ['nets_cfm_W_cfg0p0', 'dit_W'], ['nets_cfm_M_cfg0p7', 'dit_M']] as const) {
  test(`Euler CFM sampler matches ${id}`, async (t) => {
    const c = goldenCase(id);
    const { cfg, ckpt } = model(name);
    const gt = caseTensors(c);
    const args = c.args as { n_timesteps: number; inference_cfg_rate: number };
    assert.deepEqual([...linspace01(args.n_timesteps)], [...getF32(gt, 'input.t_span').data], 'linspace');
    const session = await nodeBackend.createSession(buildDitEstimator(cfg, ckpt.estimator).toOnnx(), { label: 'dit' });
    const raw: Tensor<'float32'>[] = [];
    const ts: number[] = [];
    let tPrev = 0;
    const out = await solveEuler(session, {
      mu: getF32(gt, 'input.mu'), prompt: getF32(gt, 'input.prompt'), style: getF32(gt, 'input.style'),
      noise: copyF32(getTensor(gt, 'input.z')), steps: args.n_timesteps, cfgRate: args.inference_cfg_rate,
    }, (e) => { raw.push(copyF32(e.estimatorOut!)); ts.push(tPrev); tPrev = e.t; });
    await session.release();
    for (const cmp of c.compare) {
      const m = /^intermediate\.step(\d+)\.estimator_out$/.exec(cmp.tensor);
      const mine = m ? raw[Number(m[1]) - 1] : out;
      const err = assertClose(`${id} ${cmp.tensor}`, mine, getTensor(gt, cmp.tensor), cmp.tol);
      t.diagnostic(`${id} ${cmp.tensor} err ${err.toExponential(2)} (tol ${cmp.tol})`);
    }
    for (let s = 1; gt.has(`intermediate.step${s}.t`); s++) {
      assert.equal(ts[s - 1], getF32(gt, `intermediate.step${s}.t`).data[0], `t fed at step ${s}`);
    }
  });
}

// fp16 autocast builds: the same cases, bounded by the documented fp16 tolerance (README, "Precision").
const FP16_TOL = 5e-2;
for (const [id, name] of [['nets_dit_W_forward', 'dit_W'], ['nets_dit_M_forward', 'dit_M']] as const) {
  test(`DiT estimator fp16 build stays within ${FP16_TOL} of ${id}`, async (t) => {
    const { cfg, ckpt } = model(name);
    const gt = caseTensors(goldenCase(id));
    const out = await runGraph(buildDitEstimator(cfg, ckpt.estimator, { precision: 'fp16' }), {
      x: getF32(gt, 'input.x'), prompt_x: getF32(gt, 'input.prompt_x'), x_lens: getTensor(gt, 'input.x_lens'),
      t: getF32(gt, 'input.t'), style: getF32(gt, 'input.style'), cond: getF32(gt, 'input.cond'),
    });
    const err = assertClose(`${id} fp16 output`, out.velocity as Tensor<'float32'>, getTensor(gt, 'output'), FP16_TOL);
    t.diagnostic(`${id} fp16 output err ${err.toExponential(2)} (fp16 tol ${FP16_TOL})`);
  });
}

test(`length regulator and CFM fp16 builds stay within ${FP16_TOL} (nets_lr_W, nets_cfm_W_cfg0p7)`, async (t) => {
  const { cfg, ckpt } = model('dit_W');
  let c = goldenCase('nets_lr_W');
  let gt = caseTensors(c);
  const lr = await runGraph(buildLengthRegulator(cfg.lengthRegulator, ckpt.lengthRegulator, { precision: 'fp16' }), { x: getF32(gt, 'input.x'), ylens: getTensor(gt, 'input.ylens') });
  const lrErr = assertClose('nets_lr_W fp16', lr.cond as Tensor<'float32'>, getTensor(gt, 'output'), FP16_TOL);
  c = goldenCase('nets_cfm_W_cfg0p7');
  gt = caseTensors(c);
  const session = await nodeBackend.createSession(buildDitEstimator(cfg, ckpt.estimator, { precision: 'fp16' }).toOnnx(), { label: 'dit16' });
  const out = await solveEuler(session, {
    mu: getF32(gt, 'input.mu'), prompt: getF32(gt, 'input.prompt'), style: getF32(gt, 'input.style'),
    noise: copyF32(getTensor(gt, 'input.z')), steps: 4, cfgRate: 0.7,
  });
  await session.release();
  const cfmErr = assertClose('nets_cfm_W_cfg0p7 fp16', out, getTensor(gt, 'output'), FP16_TOL);
  t.diagnostic(`fp16: length regulator err ${lrErr.toExponential(2)}, CFM output err ${cfmErr.toExponential(2)} (fp16 tol ${FP16_TOL})`);
});

test('a checkpoint that does not fit its config is refused with the keys and both shapes', () => {
  const dir = join(GOLDEN, 'models');
  const cfgM = parseSeedVcConfig(readFileSync(join(dir, 'dit_M', 'config_dit_M.yml'), 'utf8'));
  assert.throws(
    () => loadDitCheckpoint(new Uint8Array(readFileSync(join(dir, 'dit_W', 'dit_W.pth'))), 'dit_W.pth', cfgM),
    (e: unknown) => e instanceof Error && e.name === 'ModelMismatchError'
      && /dit_W\.pth does not match its config/.test(e.message)
      && /'cfm\.estimator\.[\w.]+' has shape \[[\d, ]+\], the config needs \[[\d, ]+\]|missing 'cfm\.estimator\./.test(e.message),
  );
  assert.throws(() => loadDitCheckpoint(new Uint8Array(readFileSync(join(GOLDEN, 'models/hift_tiny/hift_random.pt'))), 'hift_random.pt', cfgM),
    /hift_random\.pt: not a Seed-VC DiT checkpoint: expected keys under net\.cfm\.\*/);
});

/**
 * The CFM loop with the Euler update as an ONNX graph (buildEulerStepGraph) and every tensor left in the
 * runtime's memory between steps (`outputsOnDevice`: the path WebGPU takes with GPU buffers), on
 * onnxruntime-node: equal to the golden CFM cases and bit-equal to the host loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildEulerStepGraph, solveEuler } from '../../src/core/pipeline/cfm.ts';
import { tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { GOLDEN, assertClose, caseTensors, getF32, getTensor, goldenCase } from '../helpers/golden.ts';

for (const id of ['nets_cfm_W_cfg0p7', 'nets_cfm_W_cfg0p0'] as const) {
  test(`CFM with the Euler step graph and outputs kept in runtime memory matches ${id} and the host loop`, async (t) => {
    const dir = join(GOLDEN, 'models', 'dit_W');
    const cfg = parseSeedVcConfig(readFileSync(join(dir, 'config_dit_W.yml'), 'utf8'), 'config_dit_W.yml');
    const ckpt = loadDitCheckpoint(new Uint8Array(readFileSync(join(dir, 'dit_W.pth'))), 'dit_W.pth', cfg);
    const c = goldenCase(id);
    const gt = caseTensors(c);
    const args = c.args as { n_timesteps: number; inference_cfg_rate: number };
    const graph = buildDitEstimator(cfg, ckpt.estimator).toOnnx();
    const resident = await nodeBackend.createSession(graph, { label: 'dit', outputsOnDevice: true });
    const step = await nodeBackend.createSession(buildEulerStepGraph(), { label: 'euler_step', outputsOnDevice: true });
    const host = await nodeBackend.createSession(graph, { label: 'dit' });
    assert.ok(resident.runOnDevice && step.runOnDevice, 'sessions created with outputsOnDevice offer runOnDevice');
    const inputs = () => {
      const z = getF32(gt, 'input.z');
      return {
        mu: getF32(gt, 'input.mu'), prompt: getF32(gt, 'input.prompt'), style: getF32(gt, 'input.style'),
        noise: tensor('float32', z.shape, Float32Array.from(z.data)), steps: args.n_timesteps, cfgRate: args.inference_cfg_rate,
      };
    };
    const events: (number | undefined)[] = [];
    const onDevice = await solveEuler(resident, inputs(), (e) => events.push(e.estimatorOut?.data.length), step);
    const onHost = await solveEuler(host, inputs());
    await Promise.all([resident.release(), step.release(), host.release()]);
    assert.deepEqual(events, new Array(args.n_timesteps).fill(undefined), 'one step event per step, no estimator output read back');
    const tol = c.compare.find((x) => x.tensor === 'output')!.tol;
    const err = assertClose(`${id} output (step graph)`, onDevice, getTensor(gt, 'output'), tol);
    let maxDiff = 0;
    for (let i = 0; i < onHost.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onHost.data[i] - onDevice.data[i]));
    assert.equal(maxDiff, 0, 'the step graph rounds exactly as the host loop');
    t.diagnostic(`${id}: err ${err.toExponential(2)} (tol ${tol}); step graph vs host loop max |diff| ${maxDiff}`);
  });
}

/**
 * The runtime-free core on onnxruntime-web: the WASM build (what a browser runs) executes our graphs —
 * including the fused com.microsoft attention kernels and the fp16 policy — with the same parity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { createWebBackend } from '../../src/browser/backend.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { GOLDEN, assertClose, caseTensors, getF32, getTensor, goldenCase } from '../helpers/golden.ts';

ortWeb.env.wasm.numThreads = 1;

test('onnxruntime-web (WASM) runs the DiT estimator at golden parity, fp32 and fp16', async (t) => {
  const logs: string[] = [];
  const backend = createWebBackend(ortWeb, (l) => logs.push(l));
  const cfg = parseSeedVcConfig(readFileSync(join(GOLDEN, 'models/dit_W/config_dit_W.yml'), 'utf8'));
  const ckpt = loadDitCheckpoint(new Uint8Array(readFileSync(join(GOLDEN, 'models/dit_W/dit_W.pth'))), 'dit_W.pth', cfg);
  const c = goldenCase('nets_dit_W_forward');
  const gt = caseTensors(c);
  const feeds = {
    x: getF32(gt, 'input.x'), prompt_x: getF32(gt, 'input.prompt_x'), x_lens: getTensor(gt, 'input.x_lens'),
    t: getF32(gt, 'input.t'), style: getF32(gt, 'input.style'), cond: getF32(gt, 'input.cond'),
  };
  for (const [precision, tol] of [['fp32', c.compare[0].tol], ['fp16', 5e-2]] as const) {
    // Asking for webgpu where Node has none exercises the fallback to wasm.
    const s = await backend.createSession(buildDitEstimator(cfg, ckpt.estimator, { precision }).toOnnx(), { device: 'webgpu', label: `dit-${precision}` });
    assert.equal(s.device, 'wasm');
    const out = await s.run(feeds);
    await s.release();
    const err = assertClose(`web ${precision}`, out.velocity as Tensor<'float32'>, getTensor(gt, 'output'), tol);
    t.diagnostic(`onnxruntime-web wasm ${precision}: err ${err.toExponential(2)} (tol ${tol})`);
  }
  assert.ok(logs.every((l) => /webgpu unavailable .* using wasm/.test(l)) && logs.length === 2, logs.join('\n'));
});

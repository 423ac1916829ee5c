import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildV2Dit, roundToBfloat16, v2RopeTable } from '../../../src/core/nets/v2/dit.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { loadV2CfmCheckpoint } from '../../../src/core/models/v2-checkpoint.ts';
import { loadStateDict } from '../../../src/core/checkpoint/index.ts';
import { type Tensor, toFloat32 } from '../../../src/core/tensor.ts';
import { assertClose, getF32, getTensor, relErr, tolerance } from '../../helpers/golden.ts';
import { runGraph } from '../../helpers/onnx.ts';
import { GOLDEN_V2, v2Case, v2HubFile, v2Tensors } from './helpers.ts';

function setup() {
  const cfg = parseV2WrapperConfig(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8'));
  const cfm = loadV2CfmCheckpoint(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm_small.pth', cfg);
  return { cfg, cfm };
}

const feedsOf = (gt: Map<string, Tensor>) => Object.fromEntries(['x', 'prompt_x', 'x_lens', 't', 'style', 'cond'].map((k) => [k, getTensor(gt, `input.${k}`)]));

test('v2 RoPE table: bfloat16 cos/sin equal to the reference (golden rows and the checkpoint buffer)', () => {
  const { cfg } = setup();
  const hd = cfg.dit.hiddenDim / cfg.dit.numHeads;
  const table = v2RopeTable(cfg.dit.blockSize, hd);
  const golden = getF32(v2Tensors(v2Case('v2_dit_forward_cfg3')), 'intermediate.freqs_cis'); // [42, hd/2, 2]
  const half = hd / 2;
  for (let p = 0; p < golden.shape[0]; p++) {
    for (let i = 0; i < half; i++) {
      assert.equal(table.cos[p * half + i], golden.data[(p * half + i) * 2], `cos[${p}, ${i}]`);
      assert.equal(table.sin[p * half + i], golden.data[(p * half + i) * 2 + 1], `sin[${p}, ${i}]`);
    }
  }
  const buffer = loadStateDict(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm').get('net.cfm.estimator.transformer.freqs_cis')!;
  assert.equal(buffer.dtype, 'bfloat16');
  const b = toFloat32(buffer).data;
  let mismatches = 0;
  for (let p = 0; p < cfg.dit.blockSize; p++) {
    for (let i = 0; i < half; i++) {
      if (table.cos[p * half + i] !== b[(p * half + i) * 2] || table.sin[p * half + i] !== b[(p * half + i) * 2 + 1]) mismatches++;
    }
  }
  assert.equal(mismatches, 0, `${mismatches} of ${cfg.dit.blockSize * half} table entries differ from the checkpoint's bf16 buffer`);
  assert.equal(roundToBfloat16(1 + 2 ** -8), 1, 'ties round to even');
  assert.equal(roundToBfloat16(1 + 3 * 2 ** -8), 1 + 2 ** -6);
});

for (const id of ['v2_dit_forward_cfg3', 'v2_dit_forward_mask']) {
  for (const precision of ['fp32', 'fp16'] as const) {
    test(`v2 DiT (gated AdaLN, time + style tokens, RoPE, key mask) matches ${id} (${precision})`, async (t) => {
      const { cfg, cfm } = setup();
      const c = v2Case(id);
      const gt = v2Tensors(c);
      const out = await runGraph(buildV2Dit(cfg.dit, cfm.estimator, { precision, debugOutputs: true }), feedsOf(gt));
      for (const [ours, theirs] of [['velocity', 'output'], ['transformer_out', 'intermediate.transformer_out']]) {
        const mine = out[ours] as Tensor<'float32'>;
        const tol = tolerance(c, theirs);
        if (precision === 'fp32') {
          const err = assertClose(`${id} ${theirs}`, mine, getF32(gt, theirs), tol);
          t.diagnostic(`${theirs} err ${err.toExponential(2)} (tol ${tol})`);
        } else {
          const err = relErr(mine.data, getF32(gt, theirs).data);
          t.diagnostic(`fp16 ${theirs} err ${err.toExponential(2)}`);
          assert.ok(err < 5e-2, `fp16 ${theirs} err ${err}`);
        }
      }
      if (precision === 'fp32') assertClose('t1', out.t1 as Tensor<'float32'>, getF32(gt, 'intermediate.t1'), 1e-5);
    });
  }
}

test('v2 DiT without the key mask equals the masked graph when x_lens = frames', async () => {
  const { cfg, cfm } = setup();
  const gt = v2Tensors(v2Case('v2_dit_forward_cfg3'));
  const feeds = feedsOf(gt);
  assert.deepEqual(Array.from(feeds.x_lens.data as BigInt64Array, Number), [40, 40, 40]);
  const a = await runGraph(buildV2Dit(cfg.dit, cfm.estimator), feeds);
  const b = await runGraph(buildV2Dit(cfg.dit, cfm.estimator, { keyMask: false }), feeds);
  const same = relErr(b.velocity.data as Float32Array, a.velocity.data as Float32Array);
  assert.ok(same < 1e-5, `unmasked vs masked ${same}`);
  // and the mask case does depend on it
  const m = v2Tensors(v2Case('v2_dit_forward_mask'));
  const unmasked = await runGraph(buildV2Dit(cfg.dit, cfm.estimator, { keyMask: false }), feedsOf(m));
  assert.ok(relErr(unmasked.velocity.data as Float32Array, getF32(m, 'output').data) > 1e-3);
});

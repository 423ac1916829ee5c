import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rmvpeMel } from '../../src/core/dsp/index.ts';
import {
  RMVPE_OFFICIAL, buildRmvpe, loadRmvpeWeights, padMelForRmvpe, rmvpeConfigFromWeights, rmvpeF0, rmvpeParamShapes,
} from '../../src/core/nets/rmvpe.ts';
import type { Precision } from '../../src/core/onnx/nn.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { HUB, assertClose, caseTensors, getF32, getTensor, goldenCase, relErr, tolerance } from '../helpers/golden.ts';
import { allFinite, randomWeights, runGraph, seededUniform } from '../helpers/onnx.ts';

const ckptPath = join(HUB, 'lj1995', 'VoiceConversionWebUI', 'rmvpe.pt');
const loadTiny = () => loadRmvpeWeights(new Uint8Array(readFileSync(ckptPath)), 'rmvpe.pt');

/** Rows [0, n) of a [1, T, C] tensor as [n, C]. */
function firstRows(t: Tensor<'float32'>, n: number): Tensor<'float32'> {
  const c = t.shape[2];
  return tensor('float32', [n, c], t.data.slice(0, n * c));
}

test('RMVPE sizes are read from the checkpoint keys', () => {
  const cfg = rmvpeConfigFromWeights(loadTiny());
  const args = goldenCase('nets_rmvpe').args as { constructor: Record<string, number> };
  assert.deepEqual(
    [cfg.nBlocks, cfg.nGru, cfg.enDeLayers, cfg.interLayers, cfg.inChannels, cfg.enOutChannels],
    [args.constructor.n_blocks, args.constructor.n_gru, args.constructor.en_de_layers, args.constructor.inter_layers,
      args.constructor.in_channels, args.constructor.en_out_channels],
  );
  assert.deepEqual([cfg.nMels, cfg.gruHidden, cfg.nClass], [128, 256, 360]);
});

async function runGolden(precision: Precision) {
  const c = goldenCase('nets_rmvpe');
  const gt = caseTensors(c);
  const w = loadTiny();
  const cfg = rmvpeConfigFromWeights(w);
  const audio = getF32(gt, 'input.audio16k').data;
  const mel = rmvpeMel(audio);
  const session = await nodeBackend.createSession(buildRmvpe(cfg, w, { precision, debugOutputs: true }).toOnnx(), { label: 'rmvpe' });
  let debug: Record<string, Tensor> = {};
  try {
    const f0 = await rmvpeF0(async (padded) => {
      debug = await session.run({ mel: padded });
      return debug.hidden;
    }, audio, (c.args as { thred: number }).thred);
    return { c, gt, mel, f0, debug };
  } finally {
    await session.release();
  }
}

test('RMVPE matches nets_rmvpe (fp32)', async (t) => {
  const { c, gt, mel, f0, debug } = await runGolden('fp32');
  const report = (name: string, err: number) => t.diagnostic(`nets_rmvpe ${name} err ${err.toExponential(2)} (tol ${tolerance(c, name)})`);
  report('intermediate.mel', assertClose('intermediate.mel', { shape: [1, mel.nMels, mel.frames], data: mel.data }, getTensor(gt, 'intermediate.mel'), tolerance(c, 'intermediate.mel')));
  for (const [ours, theirs] of [['gru_out', 'intermediate.gru_out'], ['logits', 'intermediate.logits']]) {
    report(theirs, assertClose(theirs, debug[ours] as Tensor<'float32'>, getTensor(gt, theirs), tolerance(c, theirs)));
  }
  const hidden = firstRows(debug.hidden as Tensor<'float32'>, mel.frames);
  report('output.hidden', assertClose('output.hidden', hidden, getTensor(gt, 'output.hidden'), tolerance(c, 'output.hidden')));
  report('output.f0', assertClose('output.f0', { shape: [f0.length], data: f0 }, getTensor(gt, 'output.f0'), tolerance(c, 'output.f0')));
  // U-Net intermediates are not in the compare list; reported to localise a regression
  const enc = relErr((debug.encoder_out as Tensor<'float32'>).data, getF32(gt, 'intermediate.encoder_out').data);
  const mid = relErr((debug.intermediate_out as Tensor<'float32'>).data, getF32(gt, 'intermediate.intermediate_out').data);
  t.diagnostic(`nets_rmvpe encoder_out err ${enc.toExponential(2)}, intermediate_out err ${mid.toExponential(2)} (informative)`);
});

test('RMVPE network alone, on the golden mel, matches the salience', async (t) => {
  const c = goldenCase('nets_rmvpe');
  const gt = caseTensors(c);
  const w = loadTiny();
  const out = await runGraph(buildRmvpe(rmvpeConfigFromWeights(w), w), { mel: padMelForRmvpe(getF32(gt, 'intermediate.mel')) });
  const err = assertClose('output.hidden', firstRows(out.hidden as Tensor<'float32'>, 201), getTensor(gt, 'output.hidden'), tolerance(c, 'output.hidden'));
  t.diagnostic(`nets_rmvpe output.hidden from the golden mel: err ${err.toExponential(2)}`);
});

test('RMVPE builds and runs under the fp16 policy', async (t) => {
  const { gt, f0, debug } = await runGolden('fp16');
  const hidden = debug.hidden as Tensor<'float32'>;
  assert.equal(hidden.dtype, 'float32');
  assert.ok(allFinite(hidden.data), 'fp16 salience finite');
  const hErr = relErr(firstRows(hidden, 201).data, getF32(gt, 'output.hidden').data);
  const lErr = relErr((debug.logits as Tensor<'float32'>).data, getF32(gt, 'intermediate.logits').data);
  const fErr = relErr(f0, getF32(gt, 'output.f0').data);
  t.diagnostic(`nets_rmvpe fp16 vs the fp32 golden: logits err ${lErr.toExponential(2)}, hidden err ${hErr.toExponential(2)}, f0 err ${fErr.toExponential(2)}`);
  assert.ok(lErr < 0.05, `fp16 logits err ${lErr} is not a plausible half-precision deviation`);
});

test('padMelForRmvpe zero-pads to a multiple of 32 frames', () => {
  const m = tensor('float32', [1, 2, 33], Float32Array.from({ length: 66 }, (_, i) => i + 1));
  const p = padMelForRmvpe(m);
  assert.deepEqual([...p.shape], [1, 2, 64]);
  assert.equal(p.data[32], 33);
  assert.equal(p.data[33], 0);
  assert.equal(p.data[64], 34);
  assert.deepEqual([...padMelForRmvpe(tensor('float32', [1, 1, 32], new Float32Array(32))).shape], [1, 1, 32]);
});

test('RMVPE at the official size E2E(4, 1, (2, 2)) runs on 64 frames', async (t) => {
  const t0 = performance.now();
  const g = buildRmvpe(RMVPE_OFFICIAL, randomWeights(rmvpeParamShapes(RMVPE_OFFICIAL), 11));
  const rnd = seededUniform(5);
  const mel = tensor('float32', [1, 128, 64], Float32Array.from({ length: 128 * 64 }, () => -6 + 8 * rnd()));
  const out = await runGraph(g, { mel });
  const hidden = out.hidden as Tensor<'float32'>;
  assert.deepEqual([...hidden.shape], [1, 64, 360]);
  assert.ok(allFinite(hidden.data), 'finite salience');
  t.diagnostic(`official-size RMVPE (${(g.weightBytes / 2 ** 20).toFixed(0)} MiB of weights): build + run ${(performance.now() - t0).toFixed(0)} ms`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rmvpeMel } from '../../src/core/dsp/index.ts';
import {
  RMVPE_CONTEXT_FRAMES, RMVPE_OFFICIAL, buildRmvpe, loadRmvpeWeights, padMelForRmvpe, rmvpeConfigFromWeights, rmvpeContextFrames, rmvpeF0,
  rmvpeParamShapes,
} from '../../src/core/nets/rmvpe.ts';
import { rmvpeHiddenWindowed } from '../../src/core/pipeline/pitch.ts';
import { ModelMismatchError } from '../../src/core/errors.ts';
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

/** Largest |a - b| over two equally long arrays. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('RMVPE in two parts (U-Net, BiGRU head) equals the whole graph and the golden salience', async (t) => {
  const c = goldenCase('nets_rmvpe');
  const gt = caseTensors(c);
  const w = loadTiny();
  const cfg = rmvpeConfigFromWeights(w);
  const mel = padMelForRmvpe(getF32(gt, 'intermediate.mel'));
  const whole = (await runGraph(buildRmvpe(cfg, w), { mel })).hidden as Tensor<'float32'>;
  const { features } = await runGraph(buildRmvpe(cfg, w, { part: 'unet' }), { mel });
  assert.deepEqual([...features.shape], [1, mel.shape[2], 3 * cfg.nMels]);
  const split = (await runGraph(buildRmvpe(cfg, w, { part: 'fc' }), { features })).hidden as Tensor<'float32'>;
  const d = maxAbsDiff(split.data, whole.data);
  t.diagnostic(`split vs whole: max |diff| ${d.toExponential(2)}`);
  assert.ok(d <= 1e-6, `split graph differs from the whole one by ${d}`);
  assertClose('output.hidden', firstRows(split, 201), getTensor(gt, 'output.hidden'), tolerance(c, 'output.hidden'));
});

test('RMVPE U-Net context: official E2E sees 1600 frames each side, deeper nets are refused for windowed runs', () => {
  // 3x3 convs: encoder 8 x (1+2+4+8+16) = 248, intermediate 16 x 2 x 32 = 1024, decoder 62 + 248, cnn 1 = 1583 -> 1600 on the 32-frame grid
  assert.equal(rmvpeContextFrames(RMVPE_OFFICIAL), 1600);
  assert.equal(RMVPE_CONTEXT_FRAMES, 1600);
  const deeper = { ...RMVPE_OFFICIAL, interLayers: 5, enOutChannels: 1 };
  assert.throws(() => buildRmvpe(deeper, randomWeights(rmvpeParamShapes(deeper), 1), { part: 'unet' }), (e: unknown) =>
    e instanceof ModelMismatchError && /1856 frames each side.*at most 1600/.test(e.message));
});

test('RMVPE run in windows with its context equals one whole run on a long input; too little context does not', async (t) => {
  const w = loadTiny();
  const cfg = rmvpeConfigFromWeights(w);
  // 24 s of a gliding two-partial tone with noise: 2401 frames, padded to 2432 (40 windows of 64 frames)
  const rnd = seededUniform(3);
  let phase = 0;
  const audio = Float32Array.from({ length: 24 * 16000 }, (_, i) => {
    phase += (2 * Math.PI * (180 + 120 * Math.sin(i / 16000))) / 16000;
    return 0.4 * Math.sin(phase) + 0.2 * Math.sin(2 * phase) + 0.05 * (rnd() - 0.5);
  });
  const unet = await nodeBackend.createSession(buildRmvpe(cfg, w, { part: 'unet' }).toOnnx(), { label: 'rmvpe_unet' });
  const fc = await nodeBackend.createSession(buildRmvpe(cfg, w, { part: 'fc' }).toOnnx(), { label: 'rmvpe_fc' });
  const whole = await nodeBackend.createSession(buildRmvpe(cfg, w).toOnnx(), { label: 'rmvpe' });
  try {
    const padded = padMelForRmvpe(rmvpeMel(audio));
    const reference = (await whole.run({ mel: padded })).hidden as Tensor<'float32'>;
    let windows = 0;
    const runUnet = async (mel: Tensor<'float32'>) => { windows++; return (await unet.run({ mel })).features; };
    const runFc = async (features: Tensor<'float32'>) => (await fc.run({ features })).hidden;
    const context = rmvpeContextFrames(cfg);
    const windowed = await rmvpeHiddenWindowed(runUnet, runFc, padded, { coreFrames: 64, contextFrames: context });
    assert.equal(windows, padded.shape[2] / 64);
    const d = maxAbsDiff(windowed.data as Float32Array, reference.data);
    const short = await rmvpeHiddenWindowed(runUnet, runFc, padded, { coreFrames: 64, contextFrames: 32 });
    const dShort = maxAbsDiff(short.data as Float32Array, reference.data);
    t.diagnostic(`${padded.shape[2]} frames in windows of 64: context ${context} -> max |diff| ${d.toExponential(2)}; context 32 -> ${dShort.toExponential(2)}`);
    assert.ok(d <= 1e-6, `windowed salience differs from the whole run by ${d}`);
    assert.ok(dShort > 1e-4, `a 32-frame context should change the salience (diff ${dShort})`);
    // inputs that fit one window take the single-run path
    windows = 0;
    const one = await rmvpeHiddenWindowed(runUnet, runFc, padded, { coreFrames: 4096, contextFrames: context });
    assert.equal(windows, 1);
    assert.ok(maxAbsDiff(one.data as Float32Array, reference.data) <= 1e-6);
  } finally {
    await Promise.all([unet.release(), fc.release(), whole.release()]);
  }
});

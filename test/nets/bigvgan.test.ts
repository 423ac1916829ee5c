import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BigvganConfig, bigvganParamShapes, buildBigvgan, loadBigvganWeights, parseBigvganConfig,
} from '../../src/core/nets/bigvgan.ts';
import type { Weights } from '../../src/core/nets/weights.ts';
import { InvalidInputError, ModelMismatchError } from '../../src/core/errors.ts';
import { loadStateDict } from '../../src/core/checkpoint/index.ts';
import { type Tensor, tensor, toFloat32 } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { HUB, assertClose, caseTensors, getF32, getTensor, goldenCase, relErr, tolerance } from '../helpers/golden.ts';
import { allFinite, randomWeights, runGraph } from '../helpers/onnx.ts';

const CASES = [
  { id: 'nets_bigvgan', dir: 'bigvgan_v2_22khz_80band_256x' },
  { id: 'nets_bigvgan_44k', dir: 'bigvgan_v2_44khz_128band_512x' },
] as const;

function hubModel(dir: string) {
  const base = join(HUB, 'nvidia', dir);
  const cfg = parseBigvganConfig(readFileSync(join(base, 'config.json'), 'utf8'), `${dir}/config.json`);
  const bytes = new Uint8Array(readFileSync(join(base, 'bigvgan_generator.pt')));
  return { cfg, bytes, weights: loadBigvganWeights(bytes, `${dir}/bigvgan_generator.pt`, cfg) };
}

for (const { id, dir } of CASES) {
  test(`BigVGAN matches ${id}`, async (t) => {
    const c = goldenCase(id);
    const gt = caseTensors(c);
    const { cfg, weights } = hubModel(dir);
    const mel = getF32(gt, 'input.mel');
    const out = await runGraph(buildBigvgan(cfg, weights, { debugOutputs: true }), { mel });
    for (const [ours, theirs] of [['waveform', 'output'], ['conv_post', 'intermediate.conv_post']]) {
      const err = assertClose(`${id} ${theirs}`, out[ours] as Tensor<'float32'>, getTensor(gt, theirs), tolerance(c, theirs));
      t.diagnostic(`${id} ${theirs} err ${err.toExponential(2)} (tol ${tolerance(c, theirs)})`);
    }
    // intermediates are not in the compare list; report them for bisecting
    const inter = ['conv_pre', ...cfg.upsampleRates.map((_, i) => `ups.${i}`), 'activation_post']
      .map((k) => `${k} ${relErr((out[k] as Tensor<'float32'>).data, getF32(gt, `intermediate.${k}`).data).toExponential(1)}`);
    t.diagnostic(`${id} intermediates: ${inter.join(', ')}`);

    // fp16 policy (convs in fp16, snakes and anti-alias filters fp32): builds, runs, stays close
    const half = await runGraph(buildBigvgan(cfg, weights, { precision: 'fp16' }), { mel });
    const errHalf = relErr((half.waveform as Tensor<'float32'>).data, getF32(gt, 'output').data);
    t.diagnostic(`${id} fp16 output err ${errHalf.toExponential(2)} vs the fp32 golden`);
    assert.ok(errHalf < 0.05, `${id} fp16 err ${errHalf}`);
  });
}

test('BigVGAN: batch of two and a single frame', async () => {
  const c = goldenCase('nets_bigvgan');
  const gt = caseTensors(c);
  const { cfg, weights } = hubModel('bigvgan_v2_22khz_80band_256x');
  const session = await nodeBackend.createSession(buildBigvgan(cfg, weights).toOnnx(), { label: 'bigvgan' });
  try {
    const mel = getF32(gt, 'input.mel');
    const [, m, f] = mel.shape;
    const two = new Float32Array(2 * m * f);
    two.set(mel.data, 0);
    two.set(mel.data, m * f);
    const out = (await session.run({ mel: tensor('float32', [2, m, f], two) })).waveform as Tensor<'float32'>;
    assert.deepEqual(out.shape, [2, 1, f * 256]);
    const golden = getF32(gt, 'output');
    for (let b = 0; b < 2; b++) {
      const item = { shape: [1, 1, f * 256], data: out.data.subarray(b * f * 256, (b + 1) * f * 256) };
      assertClose(`batch item ${b}`, item, golden, tolerance(c, 'output'));
    }
    // one frame: every replicate pad reaches across the whole signal
    const one = (await session.run({ mel: tensor('float32', [1, m, 1], mel.data.filter((_, i) => i % f === 0)) })).waveform;
    assert.deepEqual(one.shape, [1, 1, 256]);
    assert.ok(allFinite(one.data as Float32Array), 'one-frame waveform finite');
  } finally {
    await session.release();
  }
});

test('BigVGAN: ConvTranspose1d weight norm is folded per input channel', () => {
  const { bytes, weights } = hubModel('bigvgan_v2_22khz_80band_256x');
  const sd = loadStateDict(bytes, 'bigvgan_generator.pt');
  const g = toFloat32(sd.get('generator.ups.0.0.weight_g')!).data;
  const v = toFloat32(sd.get('generator.ups.0.0.weight_v')!);
  const [cin, cout, k] = v.shape;
  const folded = weights.get('ups.0.0.weight', [cin, cout, k]).data;
  let maxDiff = 0;
  for (let i = 0; i < cin; i++) {
    const row = v.data.subarray(i * cout * k, (i + 1) * cout * k);
    const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
    for (let j = 0; j < row.length; j++) maxDiff = Math.max(maxDiff, Math.abs(folded[i * cout * k + j] - (g[i] * row[j]) / norm));
  }
  assert.ok(maxDiff < 1e-6, `max diff ${maxDiff}`);
});

test('BigVGAN config and checkpoint validation', () => {
  const dir = join(HUB, 'nvidia', 'bigvgan_v2_22khz_80band_256x');
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cfg = parseBigvganConfig(json);
  assert.equal(cfg.hopSize, 256);
  assert.equal(cfg.samplingRate, 22050);
  assert.equal(cfg.activation, 'snakebeta');
  assert.equal(cfg.useTanhAtFinal, false);
  assert.equal(cfg.useBiasAtFinal, false);
  assert.deepEqual(cfg.resblockDilationSizes, [[1, 3, 5], [1, 3, 5], [1, 3, 5]]);
  // reference defaults for keys older configs lack
  const legacy = parseBigvganConfig({ ...json, use_tanh_at_final: undefined, use_bias_at_final: undefined });
  assert.equal(legacy.useTanhAtFinal, true);
  assert.equal(legacy.useBiasAtFinal, true);
  assert.throws(() => parseBigvganConfig({ ...json, resblock: '3' }), InvalidInputError);
  assert.throws(() => parseBigvganConfig({ ...json, activation: 'relu' }), InvalidInputError);
  assert.throws(() => parseBigvganConfig({ ...json, upsample_kernel_sizes: [8, 8, 4] }), InvalidInputError);
  assert.throws(() => parseBigvganConfig({ ...json, resblock_kernel_sizes: [3, 6, 11] }), /odd/);
  assert.throws(() => parseBigvganConfig({ ...json, num_mels: undefined }), /num_mels/);
  assert.throws(() => parseBigvganConfig('{not json'), InvalidInputError);
  // a checkpoint that does not fit its config names the key and both shapes
  const bytes = new Uint8Array(readFileSync(join(dir, 'bigvgan_generator.pt')));
  assert.throws(() => loadBigvganWeights(bytes, 'g.pt', { ...cfg, numMels: 100 }),
    (e: Error) => e instanceof ModelMismatchError && /generator\.conv_pre\.weight' has shape \[64, 80, 7\].*\[64, 100, 7\]/.test(e.message));
  assert.throws(() => loadBigvganWeights(bytes, 'g.pt', { ...cfg, upsampleInitialChannel: 128 }), ModelMismatchError);
});

test('BigVGAN variants: AMPBlock2 and plain Snake build and run', async () => {
  for (const [resblock, activation] of [['2', 'snakebeta'], ['1', 'snake']] as const) {
    const cfg = parseBigvganConfig({
      resblock, upsample_rates: [4, 2], upsample_kernel_sizes: [8, 4], upsample_initial_channel: 16,
      resblock_kernel_sizes: [3, 5], resblock_dilation_sizes: [[1, 3], [1, 2]], activation, snake_logscale: false, num_mels: 8,
    });
    const shapes = bigvganParamShapes(cfg);
    assert.equal(shapes.has('resblocks.0.convs.1.weight'), resblock === '2');
    assert.equal(shapes.has('activation_post.act.beta'), activation === 'snakebeta');
    assert.ok(shapes.has('conv_post.bias'), 'use_bias_at_final defaults to true');
    const out = await runGraph(buildBigvgan(cfg, randomWeights(shapes)), { mel: tensor('float32', [1, 8, 5], Float32Array.from({ length: 40 }, (_, i) => Math.cos(i))) });
    assert.deepEqual(out.waveform.shape, [1, 1, 40]);
    // use_tanh_at_final defaults to true (fp32 tanh reaches +-1 exactly for large inputs)
    assert.ok((out.waveform.data as Float32Array).every((v) => Number.isFinite(v) && Math.abs(v) <= 1), `${resblock}/${activation}: waveform within [-1, 1]`);
  }
});

/** The generator fields of NVIDIA's official v2 configs. */
function officialConfig(rates: number[], kernels: number[], numMels: number): BigvganConfig {
  return parseBigvganConfig({
    resblock: '1', upsample_rates: rates, upsample_kernel_sizes: kernels, upsample_initial_channel: 1536,
    resblock_kernel_sizes: [3, 7, 11], resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    use_tanh_at_final: false, use_bias_at_final: false, activation: 'snakebeta', snake_logscale: true, num_mels: numMels,
  });
}

for (const [name, cfg] of [
  ['22 kHz 80-band 256x', officialConfig([4, 4, 2, 2, 2, 2], [8, 8, 4, 4, 4, 4], 80)],
  ['44.1 kHz 128-band 512x', officialConfig([8, 4, 2, 2, 2, 2], [16, 8, 4, 4, 4, 4], 128)],
] as const) {
  test(`BigVGAN official size (${name}) builds and runs`, async (t) => {
    const frames = 6;
    const shapes = bigvganParamShapes(cfg);
    const params = [...shapes.values()].reduce((s, d) => s + d.reduce((a, b) => a * b, 1), 0);
    let t0 = performance.now();
    // build in a scope of its own so the weights and the builder can be collected before ORT copies them
    const model = ((): Uint8Array => {
      const random = randomWeights(shapes);
      // the alias-free filters are fixed kaiser-sinc buffers in every checkpoint, not trained weights
      const real = hubModel('bigvgan_v2_22khz_80band_256x').weights;
      const w: Weights = { ...random, get: (k, s) => (k.endsWith('filter') ? real.get('activation_post.upsample.filter', s) : random.get(k, s)) };
      return buildBigvgan(cfg, w, { debugOutputs: true }).toOnnx();
    })();
    const tBuild = performance.now() - t0;
    t0 = performance.now();
    const session = await nodeBackend.createSession(model, { label: 'bigvgan' });
    const tSession = performance.now() - t0;
    try {
      const mel = tensor('float32', [1, cfg.numMels, frames], Float32Array.from({ length: cfg.numMels * frames }, (_, i) => Math.sin(i * 0.37) * 2 - 5));
      t0 = performance.now();
      const out = await session.run({ mel });
      const tRun = performance.now() - t0;
      const wave = out.waveform as Tensor<'float32'>;
      assert.deepEqual(wave.shape, [1, 1, frames * cfg.hopSize]);
      assert.ok(allFinite(wave.data), 'waveform finite');
      assert.ok(wave.data.every((v) => Math.abs(v) <= 1), 'waveform clamped');
      assert.ok(allFinite((out.conv_post as Tensor<'float32'>).data), 'conv_post finite');
      t.diagnostic(`${name}: ${(params / 1e6).toFixed(1)} M params, ${(model.length / 2 ** 20).toFixed(0)} MiB ONNX; build ${tBuild.toFixed(0)} ms, session ${tSession.toFixed(0)} ms, run (${frames} frames) ${tRun.toFixed(0)} ms`);
    } finally {
      await session.release();
    }
  });
}

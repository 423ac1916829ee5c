/**
 * The conversion cores of inference.py with injected inputs: e2e_offline_W (length regulation, three DiT
 * windows with crossfades, BigVGAN) and e2e_singing_core_F0 (F0 shift, F0-conditioned regulation, 128-mel CFM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { f0ToCoarse, shiftF0 } from '../../src/core/dsp/index.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../../src/core/nets/bigvgan.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildLengthRegulator } from '../../src/core/nets/length-regulator.ts';
import { solveEuler } from '../../src/core/pipeline/cfm.ts';
import { VoiceConverter } from '../../src/core/pipeline/convert.ts';
import { GraphVocoder } from '../../src/core/pipeline/vocoder.ts';
import type { NetSession } from '../../src/core/runtime.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { GOLDEN, HUB, assertClose, caseTensors, getF32, getTensor, goldenCase } from '../helpers/golden.ts';

const read = (p: string) => new Uint8Array(readFileSync(p));
const session = (bytes: Uint8Array, label: string) => nodeBackend.createSession(bytes, { label });
const lens = (n: number) => tensor('int64', [1], new BigInt64Array([BigInt(n)]));
const coarse = (bins: Int32Array) => tensor('int64', [1, bins.length], BigInt64Array.from(bins, (v) => BigInt(v)));

test('e2e_offline_W: three DiT windows, crossfades and BigVGAN reproduce main()', async (t) => {
  const c = goldenCase('e2e_offline_W');
  const gt = caseTensors(c);
  const cfg = parseSeedVcConfig(readFileSync(join(GOLDEN, 'models/dit_W/config_dit_W.yml'), 'utf8'));
  const ckpt = loadDitCheckpoint(read(join(GOLDEN, 'models/dit_W/dit_W.pth')), 'dit_W.pth', cfg);
  const vdir = join(HUB, 'nvidia/bigvgan_v2_22khz_80band_256x');
  const vcfg = parseBigvganConfig(readFileSync(join(vdir, 'config.json'), 'utf8'));
  const lr = await session(buildLengthRegulator(cfg.lengthRegulator, ckpt.lengthRegulator).toOnnx(), 'lr');
  const dit = await session(buildDitEstimator(cfg, ckpt.estimator, { keyMask: false }).toOnnx(), 'dit');
  const voc = await session(buildBigvgan(vcfg, loadBigvganWeights(read(join(vdir, 'bigvgan_generator.pt')), 'bigvgan', vcfg)).toOnnx(), 'bigvgan');
  try {
    const P = getF32(gt, 'input.mel2').shape[2];
    const T = Number((getTensor(gt, 'input.target_length').data as BigInt64Array)[0]);
    const cond = (await lr.run({ x: getF32(gt, 'input.S_alt'), ylens: lens(T) })).cond as Tensor<'float32'>;
    const promptCondition = (await lr.run({ x: getF32(gt, 'input.S_ori'), ylens: lens(P) })).cond as Tensor<'float32'>;
    const unused = undefined as unknown as NetSession;
    const conv = new VoiceConverter(cfg, { content: undefined as never, speaker: unused, lengthRegulator: lr, estimator: dit, vocoder: new GraphVocoder(voc) });
    const r = await conv.synthesize(
      { cond, promptCondition, prompt: getF32(gt, 'input.mel2'), style: getF32(gt, 'input.style2') },
      { diffusionSteps: 4, inferenceCfgRate: 0.7, maxContextFrames: (c.args as { max_context_window: number }).max_context_window, noise: (k) => Float32Array.from(getF32(gt, `input.z.chunk${k}`).data) },
    );
    assert.equal(r.vcTargets.length, 3);
    const ours: Record<string, { shape: readonly number[]; data: ArrayLike<number> }> = {
      'output.wave': { shape: [r.audio.length], data: r.audio }, 'intermediate.cond': cond, 'intermediate.prompt_condition': promptCondition,
    };
    r.vcTargets.forEach((v, k) => { ours[`intermediate.chunk${k}.vc_target`] = v; });
    for (const cmp of c.compare) {
      const err = assertClose(`e2e_offline_W ${cmp.tensor}`, ours[cmp.tensor], getTensor(gt, cmp.tensor), cmp.tol);
      t.diagnostic(`${cmp.tensor}: err ${err.toExponential(2)} (tol ${cmp.tol})`);
    }
  } finally {
    await Promise.all([lr.release(), dit.release(), voc.release()]);
  }
});

test('e2e_singing_core_F0: F0 shift, F0-conditioned length regulation and the 128-mel CFM', async (t) => {
  const c = goldenCase('e2e_singing_core_F0');
  const gt = caseTensors(c);
  const args = c.args as { auto_f0_adjust: boolean; semi_tone_shift: number; diffusion_steps: number; inference_cfg_rate: number };
  const cfg = parseSeedVcConfig(readFileSync(join(GOLDEN, 'models/dit_F0/config_dit_F0.yml'), 'utf8'));
  const ckpt = loadDitCheckpoint(read(join(GOLDEN, 'models/dit_F0/dit_F0.pth')), 'dit_F0.pth', cfg);
  const lr = await session(buildLengthRegulator(cfg.lengthRegulator, ckpt.lengthRegulator).toOnnx(), 'lr');
  const dit = await session(buildDitEstimator(cfg, ckpt.estimator, { keyMask: false }).toOnnx(), 'dit');
  try {
    const f0Alt = Float64Array.from(getF32(gt, 'input.F0_alt').data);
    const f0Ori = Float64Array.from(getF32(gt, 'input.F0_ori').data);
    const shifted = shiftF0(f0Alt, f0Ori, { autoF0Adjust: args.auto_f0_adjust, semitoneShift: args.semi_tone_shift });
    const bins = cfg.lengthRegulator.nF0Bins;
    const P = getF32(gt, 'input.mel2').shape[2];
    const T = Number((getTensor(gt, 'input.target_length').data as BigInt64Array)[0]);
    const cond = (await lr.run({ x: getF32(gt, 'input.S_alt'), ylens: lens(T), f0_coarse: coarse(f0ToCoarse(shifted, bins)) })).cond as Tensor<'float32'>;
    const prompt = (await lr.run({ x: getF32(gt, 'input.S_ori'), ylens: lens(P), f0_coarse: coarse(f0ToCoarse(f0Ori, bins)) })).cond as Tensor<'float32'>;
    const D = cond.shape[2];
    const mu = new Float32Array((P + T) * D);
    mu.set(prompt.data);
    mu.set(cond.data, P * D);
    const x = await solveEuler(dit, {
      mu: tensor('float32', [1, P + T, D], mu), prompt: getF32(gt, 'input.mel2'), style: getF32(gt, 'input.style2'),
      noise: tensor('float32', [1, 128, P + T], Float32Array.from(getF32(gt, 'input.z').data)), steps: args.diffusion_steps, cfgRate: args.inference_cfg_rate,
    });
    const C = x.shape[1];
    const target = new Float32Array(C * T);
    for (let ch = 0; ch < C; ch++) target.set(x.data.subarray(ch * (P + T) + P, (ch + 1) * (P + T)), ch * T);
    const ours: Record<string, { shape: readonly number[]; data: ArrayLike<number> }> = {
      'output.vc_target': { shape: [1, C, T], data: target }, 'intermediate.cond': cond, 'intermediate.prompt_condition': prompt,
    };
    assertClose('shifted_f0_alt', { shape: [1, shifted.length], data: shifted }, getTensor(gt, 'intermediate.shifted_f0_alt'), 1e-6);
    for (const cmp of c.compare) {
      const err = assertClose(`e2e_singing_core_F0 ${cmp.tensor}`, ours[cmp.tensor], getTensor(gt, cmp.tensor), cmp.tol);
      t.diagnostic(`${cmp.tensor}: err ${err.toExponential(2)} (tol ${cmp.tol})`);
    }
  } finally {
    await Promise.all([lr.release(), dit.release()]);
  }
});

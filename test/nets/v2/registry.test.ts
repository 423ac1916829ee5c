/**
 * The v2 family of the network registry on the golden hub: every non-autoregressive network opens, and
 * chained on the parity set's default-path conversion (e2e_v2_default, one DiT window) they reproduce its
 * intermediates: content tokens exactly, the regulated prompt and source content, and the CFM's mel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SEED_VC_V2, type V2NetworkName } from '../../../src/core/models/v2-registry.ts';
import type { Precision } from '../../../src/core/onnx/nn.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { astralTokens } from '../../../src/core/nets/v2/astral.ts';
import { solveV2Cfm } from '../../../src/core/pipeline/v2/cfm.ts';
import { readSafetensors } from '../../../src/core/checkpoint/safetensors.ts';
import { kaldiFbank, meanNormalize } from '../../../src/core/dsp/kaldi.ts';
import { resolvePrecision } from '../../../src/core/precision.ts';
import type { NetSession } from '../../../src/core/runtime.ts';
import { type Tensor, tensor, toFloat32 } from '../../../src/core/tensor.ts';
import { nodeBackend } from '../../../src/node/backend.ts';
import { assertClose, assertExactInts, getF32, getTensor, tolerance } from '../../helpers/golden.ts';
import { GOLDEN_V2, v2Case, v2Hub, v2Tensors } from './helpers.ts';

test('v2 registry: files resolve on the hub, networks open, and chained they reproduce e2e_v2_default up to the vocoder input', async (t) => {
  const files: Record<string, string> = { config: join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml') };
  const config = parseV2WrapperConfig(readFileSync(files.config, 'utf8'));
  for (const f of SEED_VC_V2.files(config)) {
    const path = f.hub.map((h) => join(v2Hub(), h.repo, h.file)).find((p) => existsSync(p));
    assert.ok(path, `no hub file for ${f.role}`);
    files[f.role] = path;
  }
  const layout = SEED_VC_V2.layout(config, {
    has: (role) => files[role] !== undefined,
    bytes: (role) => new Uint8Array(readFileSync(files[role])),
    text: (role) => readFileSync(files[role], 'utf8'),
    name: (role) => basename(files[role]),
  });
  const opened: NetSession[] = [];
  const open = async (name: V2NetworkName, precision?: Precision) => {
    const g = layout.networks.find((n) => n.name === name)!.build(precision ?? 'fp32');
    const s = await nodeBackend.createSession(g.toOnnx(), { label: name });
    opened.push(s);
    return s;
  };
  const s = await layout.sessions(open, resolvePrecision('fp32', { device: 'cpu' }));
  try {
    assert.deepEqual(layout.networks.map((n) => n.name), ['hubert', 'astral_wide', 'astral_narrow', 'speaker', 'length_regulator', 'dit', 'vocoder', 'ar_prefill', 'ar_decode']);
    assert.deepEqual(Object.keys(s.fp32Fallback), [], 'an fp32 plan needs no twins');
    const c = v2Case('e2e_v2_default');
    const gt = v2Tensors(c);
    const run = (x: NetSession) => x.run.bind(x);
    const [srcWide] = await astralTokens(run(s.hubert), [run(s.astralWide)], getF32(gt, 'wave16k_source').data);
    const [refWide] = await astralTokens(run(s.hubert), [run(s.astralWide)], getF32(gt, 'wave16k_reference').data);
    assertExactInts('source_wide', srcWide.data, getTensor(gt, 'source_wide'));
    assertExactInts('reference_wide', refWide.data, getTensor(gt, 'reference_wide'));
    // style: CAMPPlus on the mean-normalised fbank of the 16 kHz reference, pooled over frames // 2 outputs
    const fb = kaldiFbank(getF32(gt, 'wave16k_reference').data);
    const feat = tensor('float32', [1, fb.frames, fb.bins], meanNormalize(fb.data, fb.frames, fb.bins));
    const style = (await s.speaker.run({ feat })).embedding as Tensor<'float32'>;
    const e0 = assertClose('style', style, getF32(gt, 'style'), tolerance(c, 'style'));
    const refMel = getF32(gt, 'reference_mel'), srcMel = getF32(gt, 'source_mel');
    const [P, S] = [refMel.shape[2], srcMel.shape[2]];
    const regulate = async (tokens: Tensor, frames: number) =>
      (await s.lengthRegulator.run({ tokens, ylens: tensor('int64', [1], BigInt64Array.from([BigInt(frames)])) })).cond as Tensor<'float32'>;
    const prompt = await regulate(refWide, P);
    const cond = await regulate(srcWide, S);
    const e1 = assertClose('prompt_condition', prompt, getF32(gt, 'prompt_condition'), tolerance(c, 'prompt_condition'));
    const e2 = assertClose('cond', cond, getF32(gt, 'cond'), tolerance(c, 'cond'));
    // one DiT window: mu = cat[prompt_condition, cond], noise z.0, the reference mel as prompt
    const C = config.dit.contentDim;
    const mu = new Float32Array((P + S) * C);
    mu.set(prompt.data); mu.set(cond.data, P * C);
    const noisePath = join(GOLDEN_V2, 'e2e/e2e_v2_default/noise.safetensors');
    const z = toFloat32(readSafetensors(new Uint8Array(readFileSync(noisePath)), noisePath).tensors.get('z.0')!);
    const args = c.args as { diffusion_steps: number; intelligibility_cfg_rate: number; similarity_cfg_rate: number };
    const x = await solveV2Cfm(s.estimator, {
      mu: tensor('float32', [1, P + S, C], mu), prompt: refMel, style: getF32(gt, 'style'),
      noise: tensor('float32', z.shape, Float32Array.from(z.data)), steps: args.diffusion_steps,
      cfgRates: [args.intelligibility_cfg_rate, args.similarity_cfg_rate],
    });
    const M = config.mel.numMels;
    const vcMel = new Float32Array(M * S);
    for (let m = 0; m < M; m++) vcMel.set(x.data.subarray(m * (P + S) + P, (m + 1) * (P + S)), m * S);
    const e3 = assertClose('chunk0.vc_mel', tensor('float32', [1, M, S], vcMel), getF32(gt, 'chunk0.vc_mel'), tolerance(c, 'chunk0.vc_mel'));
    t.diagnostic(`style (${fb.frames} fbank frames) ${e0.toExponential(2)} (tol ${tolerance(c, 'style')}); tokens exact (${srcWide.shape[1]} + ${refWide.shape[1]}); prompt_condition ${e1.toExponential(2)}, cond ${e2.toExponential(2)}, vc_mel ${e3.toExponential(2)} (tol ${tolerance(c, 'chunk0.vc_mel')})`);
  } finally {
    for (const x of opened) await x.release();
  }
});

test('CAMPPlus halfLengthPooling (v2 compute_style): statistics over the first frames // 2 TDNN outputs, odd frames', async () => {
  const { buildCampplus, campplusConfig, loadCampplusWeights } = await import('../../../src/core/nets/campplus.ts');
  const w = loadCampplusWeights(new Uint8Array(readFileSync(join(v2Hub(), 'funasr/campplus/campplus_cn_common.bin'))), 'campplus');
  const F = 101; // odd: 51 TDNN outputs, the last one left out
  const feat = tensor('float32', [1, F, 80], Float32Array.from({ length: F * 80 }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011)));
  const g = buildCampplus(campplusConfig, w, { halfLengthPooling: true, debugOutputs: true });
  const s = await nodeBackend.createSession(g.toOnnx(), { label: 'campplus' });
  try {
    const out = await s.run({ feat });
    const x = out['intermediate.xvector.out_nonlinear'] as Tensor<'float32'>;
    const [, C, T] = x.shape;
    assert.equal(T, 51);
    const keep = Math.floor(F / 2);
    const ours = (out['intermediate.stats'] as Tensor<'float32'>).data;
    let worst = 0;
    for (let ch = 0; ch < C; ch++) {
      let m = 0;
      for (let j = 0; j < keep; j++) m += x.data[ch * T + j];
      m /= keep;
      let v = 0;
      for (let j = 0; j < keep; j++) v += (x.data[ch * T + j] - m) ** 2;
      const sd = Math.sqrt(v / (keep - 1));
      worst = Math.max(worst, Math.abs(ours[ch] - m) / (Math.abs(m) + 1e-3), Math.abs(ours[C + ch] - sd) / (sd + 1e-3));
    }
    assert.ok(worst < 1e-4, `stats over the first ${keep} outputs: worst relative error ${worst}`);
  } finally {
    await s.release();
  }
});

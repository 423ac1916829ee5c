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
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { astralTokens } from '../../../src/core/nets/v2/astral.ts';
import { solveV2Cfm } from '../../../src/core/pipeline/v2/cfm.ts';
import { readSafetensors } from '../../../src/core/checkpoint/safetensors.ts';
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
  const open = async (name: V2NetworkName, precision?: 'fp32' | 'fp16') => {
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
    t.diagnostic(`tokens exact (${srcWide.shape[1]} + ${refWide.shape[1]}); prompt_condition ${e1.toExponential(2)}, cond ${e2.toExponential(2)}, vc_mel ${e3.toExponential(2)} (tol ${tolerance(c, 'chunk0.vc_mel')})`);
  } finally {
    for (const x of opened) await x.release();
  }
});

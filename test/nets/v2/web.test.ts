/**
 * The v2 networks on onnxruntime-web's WASM build (what a browser runs): HuBERT + ASTRAL give the same
 * token ids, and the v2 DiT (fused RotaryEmbedding / MultiHeadAttention in fp32) the same velocity.
 */
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { createWebBackend } from '../../../src/browser/backend.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { loadV2CfmCheckpoint } from '../../../src/core/models/v2-checkpoint.ts';
import { buildAstralExtractor, loadAstralWeights } from '../../../src/core/nets/v2/astral.ts';
import { buildHubert, loadHubertWeights, normalizeHubertInput, parseHubertConfig } from '../../../src/core/nets/v2/hubert.ts';
import { buildV2Dit } from '../../../src/core/nets/v2/dit.ts';
import { type Tensor, tensor } from '../../../src/core/tensor.ts';
import { assertClose, assertExactInts, getF32, getTensor, tolerance } from '../../helpers/golden.ts';
import { GOLDEN_V2, v2Case, v2Hub, v2HubFile, v2Tensors } from './helpers.ts';

ortWeb.env.wasm.numThreads = 1;

test('onnxruntime-web (WASM): v2 HuBERT + ASTRAL ids exact, v2 DiT at golden parity (fp32 and fp16)', async (t) => {
  const backend = createWebBackend(ortWeb, () => {});
  const cfg = parseV2WrapperConfig(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8'));
  const dir = join(v2Hub(), 'facebook', 'hubert-large-ll60k');
  const hcfg = parseHubertConfig(readFileSync(join(dir, 'config.json'), 'utf8'));
  const hubert = loadHubertWeights(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors', hcfg);
  const gtA = v2Tensors(v2Case('v2_astral'));
  const input = normalizeHubertInput(getF32(gtA, 'input.audio16k').data);
  const run = async (g: { toOnnx(): Uint8Array }, feeds: Record<string, Tensor>, label: string) => {
    const s = await backend.createSession(g.toOnnx(), { device: 'wasm', label });
    try { return await s.run(feeds); } finally { await s.release(); }
  };
  const { hidden } = await run(buildHubert(hcfg, hubert), { input_values: tensor('float32', [1, input.length], input) }, 'hubert');
  for (const [side, file, c] of [['wide', 'bsq2048/bsq2048_light.pth', cfg.contentWide], ['narrow', 'bsq32/bsq32_light.pth', cfg.contentNarrow]] as const) {
    const w = loadAstralWeights(v2HubFile('Plachta', 'ASTRAL-quantization', file), file, c);
    const out = await run(buildAstralExtractor(c, w), { hidden }, `astral_${side}`);
    assertExactInts(`web ${side} ids`, out.indices.data as BigInt64Array, getTensor(gtA, `output.${side}.indices`));
  }
  const cfm = loadV2CfmCheckpoint(v2HubFile('Plachta', 'Seed-VC', 'v2', 'cfm_small.pth'), 'cfm_small.pth', cfg);
  const c = v2Case('v2_dit_forward_mask');
  const gt = v2Tensors(c);
  const feeds = Object.fromEntries(['x', 'prompt_x', 'x_lens', 't', 'style', 'cond'].map((k) => [k, getTensor(gt, `input.${k}`)]));
  for (const [precision, tol] of [['fp32', tolerance(c, 'output')], ['fp16', 5e-2]] as const) {
    const out = await run(buildV2Dit(cfg.dit, cfm.estimator, { precision }), feeds, `v2_dit_${precision}`);
    const err = assertClose(`web v2 DiT ${precision}`, out.velocity as Tensor<'float32'>, getF32(gt, 'output'), tol);
    t.diagnostic(`onnxruntime-web wasm v2 DiT ${precision}: err ${err.toExponential(2)} (tol ${tol})`);
  }
});

/**
 * The v2 AR model: sampler parity on crafted logits, and whole generations (prefill + KV-cache decode)
 * from the tiny official-format ar_base.pth with the golden draws — logits within tolerance, tokens
 * exactly equal — in both cache layouts, fp32 and fp16; an official-size random build runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ArCacheLayout, type ArCheckpoint, type ArConfig, arCondition, arConfigFromWrapper, arParamShapes, buildArDecode,
  buildArPrefill, loadArCheckpoint,
} from '../../../src/core/nets/v2/ar.ts';
import type { Precision } from '../../../src/core/onnx/nn.ts';
import type { Weights } from '../../../src/core/nets/weights.ts';
import { ArGenerator } from '../../../src/core/pipeline/v2/ar-generate.ts';
import { drawsFromTable, sampleToken } from '../../../src/core/pipeline/v2/ar-sampler.ts';
import { reduceDurations } from '../../../src/core/pipeline/v2/tokens.ts';
import { type Tensor, tensor, toFloat32 } from '../../../src/core/tensor.ts';
import { nodeBackend } from '../../../src/node/backend.ts';
import { assertClose, assertExactInts, tolerance } from '../../helpers/golden.ts';
import { parse as parseYaml } from 'yaml';
import { GOLDEN_V2, v2Case, v2Hub, v2Tensors } from './helpers.ts';
import { allFinite, randomWeights } from '../../helpers/onnx.ts';

const ints = (t: Tensor | undefined): number[] => Array.from(t!.data as BigInt64Array, Number);
const FP16_TOL = 5e-2;

test('sampler: penalty on the first token, end-token suppression, top-p, temperature, exponential race', () => {
  const c = v2Case('v2_ar_sampler');
  const t = v2Tensors(c);
  const logits = toFloat32(t.get('input.logits')!).data;
  const settings = (c.args as { settings: { history: number[] | null; suppress_tokens: number[] | null; temperature: number; top_p: number; repetition_penalty: number }[] }).settings;
  settings.forEach((s, k) => {
    const q = toFloat32(t.get(`input.${k}.q`)!).data;
    const r = sampleToken(logits, s.history ? s.history[0] : null, s.suppress_tokens ? s.suppress_tokens[0] : null,
      { topP: s.top_p, temperature: s.temperature, repetitionPenalty: s.repetition_penalty }, q);
    assertExactInts(`setting ${k} removed`, r.removed, t.get(`intermediate.${k}.removed`)!);
    assertClose(`setting ${k} probs`, { shape: [r.probs.length], data: r.probs }, t.get(`output.${k}.probs`)!, tolerance(c, `output.${k}.probs`));
    assertExactInts(`setting ${k} token`, [r.token], t.get(`output.${k}.token`)!);
  });
});

let cfg: ArConfig;
let ckpt: ArCheckpoint;
before(() => {
  const parsed = arConfigFromWrapper(parseYaml(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8')));
  cfg = parsed.ar;
  const file = join(v2Hub(), 'Plachta/Seed-VC/v2/ar_base.pth');
  ckpt = loadArCheckpoint(new Uint8Array(readFileSync(file)), file, cfg, parsed.conditionCodebook);
});

const generators: ArGenerator[] = [];
after(async () => { for (const g of generators) await g.release(); });

async function generator(c: ArConfig, w: Weights, layout: ArCacheLayout, precision: Precision): Promise<ArGenerator> {
  const prefill = await nodeBackend.createSession(buildArPrefill(c, w, { precision }).toOnnx(), { label: 'ar_prefill' });
  const decode = await nodeBackend.createSession(buildArDecode(c, w, { precision, cache: layout }).toOnnx(), { label: `ar_decode_${layout}` });
  const g = new ArGenerator(c, prefill, decode, layout);
  generators.push(g);
  return g;
}

test('AR condition: duration reduction and the embedding-only length regulator', () => {
  for (const id of ['v2_ar_generate_0', 'v2_ar_generate_1']) {
    const t = v2Tensors(v2Case(id));
    const reduced = [...reduceDurations(ints(t.get('input.narrow_target'))), ...reduceDurations(ints(t.get('input.narrow_source')))];
    assertExactInts(`${id} narrow_reduced`, reduced, t.get('intermediate.narrow_reduced')!);
    assertClose(`${id} cond`, arCondition(ckpt.conditionTable, reduced), t.get('input.cond')!, 1e-6);
  }
});

for (const id of ['v2_ar_generate_0', 'v2_ar_generate_1']) {
  for (const [layout, precision] of [['past-present', 'fp32'], ['fixed', 'fp32'], ['past-present', 'fp16']] as const) {
    test(`${id}: ${layout} cache, ${precision}: logits and tokens`, async (tc) => {
      const c = v2Case(id);
      const t = v2Tensors(c);
      const a = c.args as { top_p: number; temperature: number; repetition_penalty: number; steps: number };
      const gen = await generator(cfg, ckpt.ar, layout, precision);
      const q = toFloat32(t.get('random.q')!);
      const logits: Float32Array[] = [];
      const r = await gen.generate(toFloat32(t.get('input.cond')!), ints(t.get('input.prompt_target')), {
        topP: a.top_p, temperature: a.temperature, repetitionPenalty: a.repetition_penalty,
        draws: drawsFromTable(q.data, q.shape),
        onStep: (e) => { if (e.step < 6) logits.push(Float32Array.from(e.logits)); },
      });
      for (let s = 0; s < 6; s++) {
        const name = `intermediate.step${s}.logits`;
        const err = assertClose(`${id} ${name}`, { shape: [1, logits[s].length], data: logits[s] }, t.get(name)!,
          precision === 'fp16' ? FP16_TOL : tolerance(c, name));
        tc.diagnostic(`${name}: err ${err.toExponential(2)}`);
      }
      assertExactInts(`${id} tokens`, r.tokens, t.get('output.tokens')!);
      assert.equal(r.steps, a.steps);
      assert.ok(r.endedByEndToken);
    });
  }
}

// Official width; 2 of the 12 layers unless SEED_VC_V2_FULL_DEPTH=1 (as the other v2 full-size tests).
const AR_LAYERS = process.env.SEED_VC_V2_FULL_DEPTH === '1' ? 12 : 2;
test(`official-width AR (768, GQA 12/2, ${AR_LAYERS} of 12 layers): prefill + decode in both layouts agree and stay finite`, async () => {
  const big = arConfigFromWrapper({
    ar: { model: { config: { dim: 768, n_head: 12, n_local_heads: 2, n_layer: AR_LAYERS, intermediate_size: 2304, vocab_size: 2049, rope_base: 10000 } } },
    ar_length_regulator: { codebook_size: 32, channels: 768 },
  }).ar;
  const w = randomWeights(arParamShapes(big), 7);
  const cond = tensor('float32', [1, 40, 768], Float32Array.from({ length: 40 * 768 }, (_, i) => Math.sin(i * 0.37)));
  const prompt = Array.from({ length: 30 }, (_, i) => (i * 37) % 2048);
  const draws = () => new Float32Array(big.vocabSize).fill(1); // greedy
  const results: number[][] = [];
  for (const layout of ['past-present', 'fixed'] as const) {
    const gen = await generator(big, w, layout, 'fp32');
    const seen: Float32Array[] = [];
    const r = await gen.generate(cond, prompt, { topP: 1, temperature: 1, repetitionPenalty: 1, draws, maxDecodeSteps: 4, onStep: (e) => seen.push(e.logits) });
    assert.ok(seen.every((l) => l.length === 2049 && allFinite(l)));
    results.push([...r.tokens]);
    await gen.release();
    generators.pop();
  }
  assert.equal(results[0].length, 5);
  assert.deepEqual(results[0], results[1]);
});

test('the built-in official v2 wrapper values parse: DiT 13 x 512, AR 12 x 768 with 12 / 2 heads, 2048 / 32 codes', async () => {
  const { officialV2Wrapper, parseV2WrapperConfig } = await import('../../../src/core/models/v2-config.ts');
  const { stringify } = await import('yaml');
  const c = parseV2WrapperConfig(stringify(officialV2Wrapper()), 'official');
  assert.deepEqual([c.dit.depth, c.dit.hiddenDim, c.dit.numHeads, c.dit.contentDim], [13, 512, 8, 512]);
  assert.deepEqual([c.contentWide.codebookSize, c.contentNarrow.codebookSize, c.sampleRate, c.hopSize], [2048, 32, 22050, 256]);
  const { ar, conditionCodebook } = arConfigFromWrapper(c.raw);
  assert.deepEqual([ar.nLayer, ar.dim, ar.nHead, ar.nLocalHeads, ar.intermediateSize, ar.vocabSize, conditionCodebook], [12, 768, 12, 2, 2304, 2049, 32]);
});

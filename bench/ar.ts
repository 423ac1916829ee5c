/**
 * v2 AR benchmark: prefill time and decode tokens/s with the KV cache, per cache layout and precision, on
 * the tiny golden checkpoint and an official-size random model (12 x 768, GQA 12/2). Context: Lc condition
 * frames + Lt prompt ids, then `steps` decode steps (the end token is never drawn).
 * Usage: node --import tsx bench/ar.ts [quick] -> one JSON line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type ArConfig, arConfigFromWrapper, arParamShapes, buildArDecode, buildArPrefill, loadArCheckpoint } from '../src/core/nets/v2/ar.ts';
import type { Weights } from '../src/core/nets/weights.ts';
import type { Precision } from '../src/core/onnx/nn.ts';
import { ArGenerator } from '../src/core/pipeline/v2/ar-generate.ts';
import { tensor } from '../src/core/tensor.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { randomWeights } from '../test/helpers/onnx.ts';

const quick = process.argv.includes('quick');
const golden = join(process.env.SEED_VC_SHARED ?? join(import.meta.dirname, '..', '..', 'shared'), 'golden', 'v2');

async function run(c: ArConfig, w: Weights, layout: 'past-present' | 'fixed', precision: Precision, lc: number, lt: number, steps: number) {
  const t0 = performance.now();
  const prefill = await nodeBackend.createSession(buildArPrefill(c, w, { precision }).toOnnx(), { label: 'prefill' });
  const decode = await nodeBackend.createSession(buildArDecode(c, w, { precision, cache: layout }).toOnnx(), { label: 'decode' });
  const load = (performance.now() - t0) / 1000;
  const gen = new ArGenerator(c, prefill, decode, layout);
  const cond = tensor('float32', [1, lc, c.dim], Float32Array.from({ length: lc * c.dim }, (_, i) => Math.sin(i * 0.37)));
  const prompt = Array.from({ length: lt }, (_, i) => (i * 37) % (c.vocabSize - 1));
  const draws = (_s: number, v: number) => { const q = new Float32Array(v).fill(1); q[v - 1] = Infinity; return q; };
  const times: number[] = [];
  let last = performance.now();
  await gen.generate(cond, prompt, {
    topP: 0.9, temperature: 1, repetitionPenalty: 1, draws, maxDecodeSteps: steps,
    onStep: () => { const now = performance.now(); times.push(now - last); last = now; },
  });
  await gen.release();
  const decodeMs = times.slice(1).reduce((a, b) => a + b, 0);
  return { layout, precision, loadSeconds: load, prefillSeconds: times[0] / 1000, decodeTokensPerSecond: (times.length - 1) / (decodeMs / 1000), lc, lt, steps };
}

const results: unknown[] = [];
const parsed = arConfigFromWrapper(parseYaml(readFileSync(join(golden, 'configs/v2/vc_wrapper.yaml'), 'utf8')));
const file = join(golden, JSON.parse(readFileSync(join(golden, 'manifest.json'), 'utf8')).hub, 'Plachta/Seed-VC/v2/ar_base.pth');
const tiny = loadArCheckpoint(new Uint8Array(readFileSync(file)), file, parsed.ar, parsed.conditionCodebook).ar;
const big = arConfigFromWrapper({
  ar: { model: { config: { dim: 768, n_head: 12, n_local_heads: 2, n_layer: 12, intermediate_size: 2304, vocab_size: 2049, rope_base: 10000 } } },
  ar_length_regulator: { codebook_size: 32, channels: 768 },
}).ar;
const bigW = randomWeights(arParamShapes(big), 7);
const steps = quick ? 50 : 200;
for (const precision of ['fp32', 'fp16'] as const) {
  for (const layout of ['past-present', 'fixed'] as const) {
    results.push({ model: 'tiny', ...(await run(parsed.ar, tiny, layout, precision, 245, 124, steps)) });
    results.push({ model: 'official-size', ...(await run(big, bigW, layout, precision, 400, 500, steps)) });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);

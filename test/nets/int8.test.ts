/**
 * The CPU precisions against the fp32 golden vectors: the int8 builds of the DiT and the content encoders
 * (weight-quantized Linear layers, dynamically quantized activations) within the documented int8
 * tolerance, and the fp16-storage builds (fp16 weights, fp32 arithmetic) within the fp16 one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWav } from '../../src/core/audio/wav.ts';
import { resample } from '../../src/core/dsp/index.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildWav2vec2, loadWav2vec2Weights, normalizeWav2vec2Input, parseWav2vec2Config } from '../../src/core/nets/wav2vec2.ts';
import { buildWhisperEncoder, loadWhisperEncoderWeights, parseWhisperConfig, whisperContent } from '../../src/core/nets/whisper-encoder.ts';
import type { Precision } from '../../src/core/onnx/nn.ts';
import { FP16_MAX, hazardFor } from '../../src/core/pipeline/guard.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { GOLDEN, HUB, caseTensors, getF32, getTensor, goldenCase, goldenTensors, relErr } from '../helpers/golden.ts';
import { runGraph } from '../helpers/onnx.ts';

/** Documented tolerances (README, "Precision"): err = max|ours - golden| / rms(golden). */
const INT8_TOL = 0.25;
const FP16_TOL = 5e-2;
const TOL: Partial<Record<Precision, number>> = { int8: INT8_TOL, 'fp16-storage': FP16_TOL };

const bytes = (p: string) => new Uint8Array(readFileSync(p));

for (const [id, name] of [['nets_dit_W_forward', 'dit_W'], ['nets_dit_M_forward', 'dit_M']] as const) {
  test(`DiT estimator int8 and fp16-storage builds stay within their tolerances of ${id}`, async (t) => {
    const dir = join(GOLDEN, 'models', name);
    const cfg = parseSeedVcConfig(readFileSync(join(dir, `config_${name}.yml`), 'utf8'));
    const ckpt = loadDitCheckpoint(bytes(join(dir, `${name}.pth`)), `${name}.pth`, cfg);
    const gt = caseTensors(goldenCase(id));
    const golden = getTensor(gt, 'output') as Tensor<'float32'>;
    for (const precision of ['int8', 'fp16-storage'] as const) {
      const g = buildDitEstimator(cfg, ckpt.estimator, { precision });
      if (precision === 'int8') {
        const ops = g.summary().map((n) => n.opType);
        assert.ok(ops.includes('DynamicQuantizeMatMul'), 'the int8 build quantizes its Linear layers');
      }
      const out = await runGraph(g, {
        x: getF32(gt, 'input.x'), prompt_x: getF32(gt, 'input.prompt_x'), x_lens: getTensor(gt, 'input.x_lens'),
        t: getF32(gt, 'input.t'), style: getF32(gt, 'input.style'), cond: getF32(gt, 'input.cond'),
      });
      const err = relErr((out.velocity as Tensor<'float32'>).data, golden.data);
      t.diagnostic(`${id} ${precision} err ${err.toExponential(2)} (tol ${TOL[precision]})`);
      assert.ok(err < TOL[precision]!, `${id} ${precision} err ${err}`);
      assert.ok(err > 0, 'a quantized build differs from fp32');
    }
  });
}

test('Whisper encoder int8 build reproduces S_alt of e2e_full_short within the int8 tolerance', async (t) => {
  const dir = join(HUB, 'openai', 'whisper-small');
  const cfg = parseWhisperConfig(readFileSync(join(dir, 'config.json'), 'utf8'));
  const weights = loadWhisperEncoderWeights(bytes(join(dir, 'model.safetensors')), 'model.safetensors', cfg);
  const c = goldenCase('e2e_full_short');
  const golden = getTensor(goldenTensors(c.file), 'S_alt') as Tensor<'float32'>;
  const wav = readWav(bytes(join(GOLDEN, 'e2e', 'e2e_full_short', 'source.wav')));
  const wave16k = resample(wav.channelData[0], wav.sampleRate, 16000);
  for (const precision of ['int8', 'fp16-storage'] as const) {
    const s = await nodeBackend.createSession(buildWhisperEncoder(cfg, weights, { precision }).toOnnx(), { label: `whisper-${precision}` });
    try {
      const out = await whisperContent((f) => s.run(f), wave16k, cfg);
      const err = relErr(out.data, golden.data);
      t.diagnostic(`S_alt ${precision} err ${err.toExponential(2)} (tol ${TOL[precision]})`);
      assert.ok(err < TOL[precision]!, `${precision} err ${err}`);
    } finally {
      await s.release();
    }
  }
});

test('XLS-R int8 build stays within the int8 tolerance of its fp32 build', async (t) => {
  const dir = join(HUB, 'facebook/wav2vec2-xls-r-300m');
  const cfg = parseWav2vec2Config(readFileSync(join(dir, 'config.json'), 'utf8'), 12);
  const w = loadWav2vec2Weights(bytes(join(dir, 'model.safetensors')), 'xlsr', cfg);
  const wav = readWav(bytes(join(GOLDEN, 'e2e', 'e2e_full_short', 'source.wav')));
  const x = normalizeWav2vec2Input(resample(wav.channelData[0], wav.sampleRate, 16000).subarray(0, 32000));
  const feeds = { input_values: tensor('float32', [1, x.length], x) };
  const ref = (await runGraph(buildWav2vec2(cfg, w), feeds)).last_hidden_state as Tensor<'float32'>;
  const q = (await runGraph(buildWav2vec2(cfg, w, { precision: 'int8' }), feeds)).last_hidden_state as Tensor<'float32'>;
  const err = relErr(q.data, ref.data);
  t.diagnostic(`XLS-R int8 vs fp32 err ${err.toExponential(2)} (tol ${INT8_TOL})`);
  assert.ok(err < INT8_TOL && err > 0, `err ${err}`);
});

test('the guard checks int8 and fp16-storage windows for non-finite values only (they compute in fp32), fp16 ones also for overflow', () => {
  const big = new Float32Array([0, 0.9 * FP16_MAX]);
  for (const p of ['int8', 'fp16-storage']) {
    assert.equal(hazardFor(p)(big), null, `${p}: a large finite value is fine`);
    assert.match(hazardFor(p)(new Float32Array([1, NaN]))!, /non-finite/);
  }
  assert.match(hazardFor('fp16')(big)!, /fp16 limit/);
});

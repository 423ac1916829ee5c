import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildWhisperEncoder, loadWhisperEncoderWeights, parseWhisperConfig, whisperContent, whisperEncoderParamShapes,
  type WhisperEncoderConfig,
} from '../../src/core/nets/whisper-encoder.ts';
import { resample } from '../../src/core/dsp/index.ts';
import { writeSafetensors } from '../../src/core/checkpoint/index.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { GOLDEN, HUB, assertClose, getTensor, goldenCase, goldenTensors, relErr, tolerance } from '../helpers/golden.ts';
import { allFinite, randomWeights, runGraph, seededUniform } from '../helpers/onnx.ts';

const WHISPER = join(HUB, 'openai', 'whisper-small');

function tinyWhisper() {
  const cfg = parseWhisperConfig(readFileSync(join(WHISPER, 'config.json'), 'utf8'));
  const weights = loadWhisperEncoderWeights(new Uint8Array(readFileSync(join(WHISPER, 'model.safetensors'))), 'model.safetensors', cfg);
  return { cfg, weights };
}

/** Samples of the e2e WAV files: RIFF float32 mono, found by walking the chunks to 'data'. */
function readFloatWav(path: string): Float32Array {
  const b = readFileSync(path);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 12; i + 8 <= b.length;) {
    const id = b.toString('latin1', i, i + 4);
    const n = view.getUint32(i + 4, true);
    if (id === 'data') return new Float32Array(b.buffer.slice(b.byteOffset + i + 8, b.byteOffset + i + 8 + n));
    i += 8 + n + (n & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

// [case, golden tensor, input wav]; each source/reference here is <= 30 s, so one Whisper window
const CASES = [
  ['e2e_full_short', 'S_ori', 'reference.wav'],
  ['e2e_full_short', 'S_alt', 'source.wav'],
  ['e2e_full_la0p9', 'S_ori', 'reference.wav'],
  ['e2e_full_la0p9', 'S_alt', 'source.wav'],
  ['e2e_full_long', 'S_ori', 'reference.wav'],
] as const;

test('parseWhisperConfig reads the hub config; the tiny checkpoint matches its param shapes', () => {
  const { cfg, weights } = tinyWhisper();
  assert.deepEqual(cfg, { dModel: 64, encoderLayers: 2, encoderAttentionHeads: 4, encoderFfnDim: 256, numMelBins: 80, maxSourcePositions: 1500 });
  assert.equal(weights.keys().length, whisperEncoderParamShapes(cfg).size);
  assert.throws(() => parseWhisperConfig({ d_model: 64 }), /Whisper config.json: encoder_layers is missing; accepted: an integer in 1..128/);
});

test('loadWhisperEncoderWeights accepts model.encoder.* and encoder.* keys, ignores decoder weights, names missing keys', () => {
  const { cfg, weights } = tinyWhisper();
  for (const prefix of ['model.', '']) {
    const entries: Record<string, Tensor> = {};
    for (const k of weights.keys()) entries[`${prefix}encoder.${k}`] = weights.get(k);
    entries[`${prefix}decoder.embed_tokens.weight`] = tensor('float32', [4, 64], new Float32Array(256));
    entries[`${prefix}decoder.layers.0.fc1.weight`] = tensor('float32', [256, 64], new Float32Array(256 * 64));
    entries['proj_out.weight'] = tensor('float32', [4, 64], new Float32Array(256));
    const alt = loadWhisperEncoderWeights(writeSafetensors(entries), 'alt.safetensors', cfg);
    assert.deepEqual(alt.keys().sort(), weights.keys().sort());
    delete entries[`${prefix}encoder.layers.1.fc2.bias`];
    assert.throws(() => loadWhisperEncoderWeights(writeSafetensors(entries), 'bad.safetensors', cfg), /layers\.1\.fc2\.bias/);
  }
});

test('Whisper encoder (tiny hub twin) reproduces S_ori / S_alt of the e2e cases, fp32 and fp16', async (t) => {
  const { cfg, weights } = tinyWhisper();
  const sessions = {
    fp32: await nodeBackend.createSession(buildWhisperEncoder(cfg, weights).toOnnx(), { label: 'whisper' }),
    fp16: await nodeBackend.createSession(buildWhisperEncoder(cfg, weights, { precision: 'fp16' }).toOnnx(), { label: 'whisper16' }),
  };
  try {
    for (const [id, name, wav] of CASES) {
      const c = goldenCase(id);
      const golden = getTensor(goldenTensors(c.file), name);
      const wave = readFloatWav(join(GOLDEN, 'e2e', id, wav));
      const wave16k = resample(wave, 22050, 16000);
      const ours = await whisperContent((f) => sessions.fp32.run(f), wave16k, cfg);
      const err = assertClose(`${id} ${name}`, ours, golden, tolerance(c, name));
      const half = await whisperContent((f) => sessions.fp16.run(f), wave16k, cfg);
      const err16 = relErr(half.data, (golden as Tensor<'float32'>).data);
      t.diagnostic(`${id} ${name} [${ours.shape}] err ${err.toExponential(2)} (tol ${tolerance(c, name)}); fp16 err ${err16.toExponential(2)}`);
      assert.ok(err16 < 5e-2, `${id} ${name} fp16 err ${err16}`);
    }
  } finally {
    await sessions.fp32.release();
    await sessions.fp16.release();
  }
});

test('whisperContent refuses more than one 30 s window', async () => {
  await assert.rejects(whisperContent(async () => ({}), new Float32Array(480001)), /window/);
});

test('Whisper encoder at whisper-small size (random weights): [1, 1500, 768], finite', async (t) => {
  const cfg: WhisperEncoderConfig = { dModel: 768, encoderLayers: 12, encoderAttentionHeads: 12, encoderFfnDim: 3072, numMelBins: 80, maxSourcePositions: 1500 };
  const t0 = performance.now();
  const g = buildWhisperEncoder(cfg, randomWeights(whisperEncoderParamShapes(cfg)));
  const rnd = seededUniform(3);
  const feats = new Float32Array(80 * 3000).map(() => rnd());
  const t1 = performance.now();
  const out = await runGraph(g, { input_features: tensor('float32', [1, 80, 3000], feats) });
  const t2 = performance.now();
  assert.deepEqual(out.last_hidden_state.shape, [1, 1500, 768]);
  assert.ok(allFinite(out.last_hidden_state.data as Float32Array));
  t.diagnostic(`whisper-small: build ${((t1 - t0) / 1000).toFixed(1)} s, session + run ${((t2 - t1) / 1000).toFixed(1)} s`);
});

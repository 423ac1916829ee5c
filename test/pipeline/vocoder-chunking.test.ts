/**
 * GraphVocoder runs long mel inputs in pieces with mel context on both sides (memory: BigVGAN's output-rate
 * activations grow with the input). The parity set's BigVGAN twins have the official generators' structure
 * (upsample rates, kernels, dilations, anti-aliased SnakeBeta) at 64 channels, so their receptive field is
 * the official one: with the default 64 frames of context the pieces join to the one-call waveform.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../../src/core/nets/bigvgan.ts';
import { GraphVocoder } from '../../src/core/pipeline/vocoder.ts';
import type { NetSession } from '../../src/core/runtime.ts';
import { tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { HUB } from '../helpers/golden.ts';

const MODELS = ['bigvgan_v2_22khz_80band_256x', 'bigvgan_v2_44khz_128band_512x'];
const sessions = new Map<string, { session: NetSession; mels: number; hop: number }>();

before(async () => {
  for (const name of MODELS) {
    const dir = join(HUB, 'nvidia', name);
    const cfg = parseBigvganConfig(readFileSync(join(dir, 'config.json'), 'utf8'));
    const w = loadBigvganWeights(new Uint8Array(readFileSync(join(dir, 'bigvgan_generator.pt'))), name, cfg);
    sessions.set(name, { session: await nodeBackend.createSession(buildBigvgan(cfg, w).toOnnx(), { label: name }), mels: cfg.numMels, hop: cfg.hopSize });
  }
});
after(async () => { for (const s of sessions.values()) await s.session.release(); });

/** A speech-like log-mel: slow formant-ish ripples around -5. */
function mel(C: number, T: number) {
  const d = new Float32Array(C * T);
  for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) d[c * T + t] = -5 + 2 * Math.sin(c * 0.21 + t * 0.13) * Math.cos(t * 0.031 + c * 0.07);
  return tensor('float32', [1, C, T], d);
}

function relErr(a: Float32Array, b: Float32Array): number {
  let m = 0, s = 0;
  for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s += b[i] * b[i]; }
  return m / Math.sqrt(s / b.length);
}

for (const name of MODELS) {
  test(`${name}: pieces with 64 frames of context join to the one-call waveform; 4 frames are too few`, async (t) => {
    const { session, mels, hop } = sessions.get(name)!;
    const x = mel(mels, 250);
    const whole = await new GraphVocoder(session, { maxFrames: 1000 }).synthesize(x);
    assert.equal(whole.length, 250 * hop);
    const pieces = await new GraphVocoder(session, { maxFrames: 100 }).synthesize(x);
    assert.equal(pieces.length, whole.length);
    const err = relErr(pieces, whole);
    assert.ok(err < 1e-5, `max error / rms ${err.toExponential(2)} with the default context`);
    const short = relErr(await new GraphVocoder(session, { maxFrames: 100, contextFrames: 4 }).synthesize(x), whole);
    assert.ok(short > 1e-3, `4 frames of context change the joins (${short.toExponential(2)}): the context is what makes them exact`);
    t.diagnostic(`max error / rms: ${err.toExponential(2)} (64 frames of context), ${short.toExponential(2)} (4 frames)`);
  });
}

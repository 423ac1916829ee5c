/**
 * The fp16 guard: a DiT whose activations overflow fp16 (but not fp32) must have its window recomputed
 * in fp32, reported, with the output equal to a pure fp32 run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import type { Weights } from '../../src/core/nets/weights.ts';
import { VoiceConverter } from '../../src/core/pipeline/convert.ts';
import { FP16_MAX, fp16Hazard } from '../../src/core/pipeline/guard.ts';
import { noiseFromSafetensors } from '../../src/core/pipeline/noise.ts';
import type { NetSession } from '../../src/core/runtime.ts';
import { tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB } from '../helpers/golden.ts';

test('fp16Hazard flags non-finite values and magnitudes near the fp16 limit', () => {
  assert.equal(fp16Hazard(new Float32Array([0, -3, 1e3])), null);
  assert.match(fp16Hazard(new Float32Array([0, NaN]))!, /non-finite/);
  assert.match(fp16Hazard(new Float32Array([Infinity]))!, /non-finite/);
  assert.match(fp16Hazard(new Float32Array([0.9 * FP16_MAX]))!, /near the fp16 limit/);
});

const dir = join(GOLDEN, 'e2e', 'e2e_full_short');
const wav = (f: string) => {
  const a = readWav(new Uint8Array(readFileSync(join(dir, f))), f);
  return { samples: toMono(a), sampleRate: a.sampleRate };
};
let cacheDir: string;
let model: SeedVc;
const sessions: NetSession[] = [];

before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-guard-'));
  model = await SeedVc.load({ mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
});
after(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  await model.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** The hub DiT with cond_projection scaled by 1e7: its output (~1e7) is finite in fp32 and inf in fp16. */
async function overflowingEstimator(precision: 'fp32' | 'fp16'): Promise<NetSession> {
  const base = join(HUB, 'Plachta/Seed-VC');
  const cfg = parseSeedVcConfig(readFileSync(join(base, 'config_dit_mel_seed_uvit_whisper_small_wavenet.yml'), 'utf8'));
  const ckpt = loadDitCheckpoint(new Uint8Array(readFileSync(join(base, 'DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth'))), 'dit', cfg);
  const w: Weights = {
    get: (k, s) => {
      const t = ckpt.estimator.get(k, s);
      return k === 'cond_projection.weight' ? tensor('float32', t.shape, t.data.map((v) => v * 1e7)) : t;
    },
    has: (k) => ckpt.estimator.has(k),
    keys: (p) => ckpt.estimator.keys(p),
  };
  const s = await nodeBackend.createSession(buildDitEstimator(cfg, w, { precision }).toOnnx(), { label: `dit-overflow-${precision}` });
  sessions.push(s);
  return s;
}

test('an fp16 DiT window that overflows is recomputed in fp32, reported, and matches a pure fp32 run', async () => {
  const fp16 = await overflowingEstimator('fp16');
  const fp32 = await overflowingEstimator('fp32');
  const noise = () => noiseFromSafetensors(new Uint8Array(readFileSync(join(dir, 'noise.safetensors'))), 'noise');
  const opts = { diffusionSteps: 4, inferenceCfgRate: 0.7 };
  const events: string[] = [];

  const guardedConv = new VoiceConverter(model.config, { ...model.converter.sessions, estimator: fp16, fp32Fallback: { estimator: async () => fp32 } });
  const r = await guardedConv.convert(wav('source.wav'), wav('reference.wav'), { ...opts, noise: noise(), onProgress: (e) => { if (e.type === 'guard') events.push(e.reason); } });
  assert.equal(r.guard.length, 1);
  assert.equal(r.guard[0].stage, 'dit');
  assert.equal(r.guard[0].action, 'recomputed in fp32');
  assert.match(r.guard[0].reason, /non-finite|fp16 limit/);
  assert.deepEqual(events, [r.guard[0].reason], 'the event is also emitted as progress');
  assert.ok(r.audio.every(Number.isFinite));

  const pure = await new VoiceConverter(model.config, { ...model.converter.sessions, estimator: fp32, fp32Fallback: {} })
    .convert(wav('source.wav'), wav('reference.wav'), { ...opts, noise: noise() });
  assert.equal(pure.guard.length, 0);
  assert.deepEqual(r.audio, pure.audio, 'the recomputed window is the fp32 result');

  // Without a fallback the fp16 result would have been silent garbage: show the guard mattered.
  const unguarded = await new VoiceConverter(model.config, { ...model.converter.sessions, estimator: fp16, fp32Fallback: {} })
    .convert(wav('source.wav'), wav('reference.wav'), { ...opts, noise: noise() });
  assert.ok(unguarded.intermediates.vcTargets[0].data.some((v) => !Number.isFinite(v)), 'the fp16 estimator really overflows');
});

test('a healthy fp16 run triggers no guard event', async () => {
  const m16 = await SeedVc.load({ mirror: HUB, cacheDir, offline: true, precision: 'fp16', device: 'cpu' });
  try {
    assert.equal(m16.plan.stages.dit.precision, 'fp16-storage', 'a CPU builds fp16 mode as fp16-stored weights');
    const r = await m16.convert(wav('source.wav'), wav('reference.wav'), { diffusionSteps: 2, seed: 7 });
    assert.deepEqual(r.guard, []);
  } finally {
    await m16.dispose();
  }
});

/**
 * DNSMOS: the windowing and the P.808 features against their definitions, and the two real models
 * (read in place from shared/models/dnsmos) on a real clip and on a heavily noised copy of it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { hzToMel, melToHz, linspace } from '../../src/core/dsp/index.ts';
import {
  DNSMOS_WINDOW_SAMPLES, calibrateDnsmos, dnsmosWindows, p808Features,
} from '../../src/core/quality/dnsmos.ts';
import { Dnsmos, dnsmosModelPaths } from '../../src/node/dnsmos.ts';
import { AUDIO, SHARED } from '../helpers/golden.ts';

const MODELS = join(SHARED, 'models', 'dnsmos');

test('windows: 9.01 s (144160 samples) every second; short clips repeated by doubling', () => {
  assert.equal(DNSMOS_WINDOW_SAMPLES, 144160);
  // 12.5 s: floor(12.5) - 9.01 = 2.99 -> 2 + 1 = 3 windows starting at 0, 1, 2 s
  const long = dnsmosWindows(new Float32Array(200000));
  assert.equal(long.numHops, 3);
  assert.equal(long.windows.length, 3);
  assert.ok(long.windows.every((w) => w.length === 144160));
  // 4 s -> 8 s -> 16 s: floor(16) - 9.01 = 6.99 -> 7 windows
  const x = Float32Array.from({ length: 64000 }, (_, i) => i);
  const short = dnsmosWindows(x);
  assert.equal(short.numHops, 7);
  assert.equal(short.windows[0][64000], 0, 'the clip repeats after its end');
  assert.equal(short.windows[0][64001], 1);
  assert.equal(short.windows[1][0], 16000, 'second window starts 1 s in');
  // exactly 9.01 s: a single window
  assert.equal(dnsmosWindows(new Float32Array(144160)).windows.length, 1);
  assert.throws(() => dnsmosWindows(new Float32Array(0)), /empty/);
});

test('calibration: the non-personalised quadratic polynomials', () => {
  const c = calibrateDnsmos(3, 4, 3.5);
  assert.ok(Math.abs(c.SIG - (-0.08397278 * 9 + 1.22083953 * 3 + 0.0052439)) < 1e-12);
  assert.ok(Math.abs(c.BAK - (-0.13166888 * 16 + 1.60915514 * 4 - 0.39604546)) < 1e-12);
  assert.ok(Math.abs(c.OVRL - (-0.06766283 * 12.25 + 1.11546468 * 3.5 + 0.04602535)) < 1e-12);
});

test('P.808 features: 900 x 120 frames in [-1, 1], peak at the tone\'s mel band', () => {
  const sr = 16000;
  const x = Float32Array.from({ length: 144000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 1000 * i) / sr));
  const f = p808Features(x);
  assert.equal(f.frames, 900);
  assert.equal(f.data.length, 900 * 120);
  let max = -Infinity, min = Infinity;
  for (const v of f.data) { max = Math.max(max, v); min = Math.min(min, v); }
  assert.ok(Math.abs(max - 1) < 1e-6, `max ${max} (0 dB re the maximum -> (0 + 40) / 40)`);
  assert.ok(min >= -1 - 1e-6, `min ${min} (floor 80 dB below -> -1)`);
  // a middle frame peaks in the band whose (Slaney) centre is nearest 1 kHz
  const t = 450;
  let best = 0;
  for (let m = 1; m < 120; m++) if (f.data[t * 120 + m] > f.data[t * 120 + best]) best = m;
  const centres = linspace(hzToMel(0), hzToMel(8000), 122);
  const nearest = Array.from({ length: 120 }, (_, m) => Math.abs(melToHz(centres[m + 1]) - 1000));
  const expected = nearest.indexOf(Math.min(...nearest));
  assert.ok(Math.abs(best - expected) <= 1, `peak band ${best}, expected ${expected}`);
});

test('missing models: a one-line error that says where to get them', () => {
  assert.throws(() => dnsmosModelPaths('/nonexistent/dnsmos'), /DNSMOS folder not found.*microsoft\/DNS-Challenge/);
});

const haveModels = existsSync(join(MODELS, 'sig_bak_ovr.onnx')) && existsSync(join(MODELS, 'model_v8.onnx'));
let dnsmos: Dnsmos | undefined;
before(async () => { if (haveModels) dnsmos = await Dnsmos.load(MODELS); });
after(async () => { await dnsmos?.release(); });

test('real models: input names and shapes', { skip: !haveModels && 'no DNSMOS models in shared/models/dnsmos' }, () => {
  assert.deepEqual(dnsmos!.sessions.primary.inputNames, ['input_1']);
  assert.deepEqual(dnsmos!.sessions.p808.inputNames, ['input_1']);
});

test('real clip: finite scores in 1..5, and clean speech beats a heavily noised copy', { skip: !haveModels && 'no DNSMOS models in shared/models/dnsmos' }, async (t) => {
  const path = join(AUDIO, 'source_s1.wav');
  const a = readWav(new Uint8Array(readFileSync(path)), path);
  const clean = { samples: toMono(a), sampleRate: a.sampleRate };
  // white noise at 0 dB SNR
  let s = 7;
  const noise = Float32Array.from(clean.samples, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
  let ps = 0, pn = 0;
  for (let i = 0; i < noise.length; i++) { ps += clean.samples[i] ** 2; pn += noise[i] ** 2; }
  const k = Math.sqrt(ps / pn);
  const noisy = { samples: clean.samples.map((v, i) => v + k * noise[i]), sampleRate: clean.sampleRate };
  const c = await dnsmos!.score(clean);
  const n = await dnsmos!.score(noisy);
  t.diagnostic(`clean SIG ${c.SIG.toFixed(3)} BAK ${c.BAK.toFixed(3)} OVRL ${c.OVRL.toFixed(3)} P808 ${c.P808_MOS.toFixed(3)} (${c.windows} windows)`);
  t.diagnostic(`noisy SIG ${n.SIG.toFixed(3)} BAK ${n.BAK.toFixed(3)} OVRL ${n.OVRL.toFixed(3)} P808 ${n.P808_MOS.toFixed(3)}`);
  for (const r of [c, n]) {
    for (const key of ['SIG', 'BAK', 'OVRL', 'P808_MOS'] as const) {
      assert.ok(Number.isFinite(r[key]) && r[key] >= 1 && r[key] <= 5, `${key} = ${r[key]}`);
    }
    assert.equal(r.windows, r.numHops);
  }
  assert.equal(c.windows, 3, '12.48 s clip: 3 windows');
  assert.ok(c.OVRL > n.OVRL + 0.5, `OVRL clean ${c.OVRL} vs noisy ${n.OVRL}`);
  assert.ok(c.BAK > n.BAK + 1, `BAK clean ${c.BAK} vs noisy ${n.BAK}`);
  assert.ok(c.P808_MOS > n.P808_MOS, `P.808 clean ${c.P808_MOS} vs noisy ${n.P808_MOS}`);
});

/** The comparison metrics against physical facts: identity, known SNRs, cepstral distances, F0 tracks. */
import { mulberry32 as rng } from '../helpers/random.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { melSpectrogram } from '../../src/core/dsp/index.ts';
import {
  compareF0, cosineSimilarity, f0Summary, logMelL1, melCepstralDistortion, melCepstrum, snrDb,
} from '../../src/core/quality/metrics.ts';

function gaussian(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}
const SR = 22050;
const MEL = { nFft: 1024, numMels: 80, sampleRate: SR, hopSize: 256, winSize: 1024, fmin: 0 };
/** A voiced-speech-like test signal: harmonics of a slowly moving F0 with an envelope. */
function harmonic(seconds: number, f0 = 140): Float32Array {
  const n = Math.round(seconds * SR);
  const x = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f = f0 * (1 + 0.1 * Math.sin((2 * Math.PI * i) / SR));
    phase += (2 * Math.PI * f) / SR;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(h * phase) / h;
    x[i] = 0.2 * v * (0.6 + 0.4 * Math.sin((2 * Math.PI * 3 * i) / SR));
  }
  return x;
}

test('identical signals: L1 0, MCD 0, SNR infinite, cosine 1', () => {
  const x = harmonic(1.5);
  const m = melSpectrogram(x, MEL);
  assert.deepEqual(logMelL1(m, m), { l1: 0, frames: m.frames });
  assert.deepEqual(melCepstralDistortion(m, m), { mcd: 0, frames: m.frames });
  const s = snrDb(x, Float32Array.from(x));
  assert.equal(s.snr, Number.POSITIVE_INFINITY);
  assert.equal(s.samples, x.length);
  assert.equal(JSON.stringify({ snr: s.snr }), '{"snr":null}', 'JSON carries infinity as null');
  const e = gaussian(192, 3);
  assert.ok(Math.abs(cosineSimilarity(e, e) - 1) < 1e-12);
  assert.ok(Math.abs(cosineSimilarity(e, e.map((v) => 3 * v)) - 1) < 1e-12, 'scale invariant');
  assert.ok(Math.abs(cosineSimilarity(e, e.map((v) => -v)) + 1) < 1e-12);
  assert.equal(cosineSimilarity([1, 0], [0, 1]), 0);
  assert.ok(Number.isNaN(cosineSimilarity([0, 0], [1, 1])));
});

test('a signal plus noise at a known SNR measures that SNR within 0.1 dB', () => {
  const x = harmonic(2);
  let px = 0;
  for (const v of x) px += v * v;
  for (const target of [-5, 0, 10, 20, 40, 60]) {
    const n = gaussian(x.length, 100 + target);
    let pn = 0;
    for (const v of n) pn += v * v;
    const k = Math.sqrt(px / 10 ** (target / 10) / pn);
    const y = x.map((v, i) => v + k * n[i]);
    const { snr } = snrDb(x, y);
    assert.ok(Math.abs(snr - target) <= 0.1, `SNR ${target} dB measured as ${snr.toFixed(3)} dB`);
  }
  assert.ok(Number.isNaN(snrDb(new Float32Array(8), Float32Array.from({ length: 8 }, () => 1)).snr), 'silent reference');
  assert.equal(snrDb([1, 2, 3], [1, 2]).samples, 2, 'common length');
});

test('log-mel L1 is the mean absolute difference; a uniform gain shows up in L1 and c0 only', () => {
  // harmonics plus broadband noise, so no band sits at the log floor
  const n = gaussian(SR, 5);
  const x = harmonic(1).map((v, i) => v + 0.01 * n[i]);
  const a = melSpectrogram(x, MEL);
  const b = melSpectrogram(x.map((v) => 2 * v), MEL);
  // 2x amplitude adds ln 2 to every (unfloored) log-mel value
  const { l1 } = logMelL1(a, b);
  assert.ok(Math.abs(l1 - Math.LN2) < 1e-3, `L1 of a 6 dB gain: ${l1}`);
  // ... which is a constant across bands: only c0 changes, so MCD (c1..c24) stays ~0
  const { mcd } = melCepstralDistortion(a, b);
  assert.ok(mcd < 0.05, `MCD of a pure gain change: ${mcd}`);
  const n2 = gaussian(x.length, 9);
  const noisy = melSpectrogram(x.map((v, i) => v + 0.05 * n2[i]), MEL);
  const d = melCepstralDistortion(a, noisy);
  assert.ok(d.mcd > 1 && Number.isFinite(d.mcd), `noise gives a clear MCD: ${d.mcd}`);
  assert.equal(d.frames, a.frames);
});

test('MCD follows its definition on hand-made cepstra', () => {
  // Two 80-band frames whose log-mels differ by a single orthonormal DCT basis vector of amplitude 0.5:
  // only cepstral coefficient 3 differs, by 0.5, so MCD = 10/ln10 * sqrt(2 * 0.25).
  const n = 80;
  const base = new Float32Array(n).map((_, i) => -3 + Math.sin(i / 7));
  const basis = new Float32Array(n).map((_, i) => Math.sqrt(2 / n) * Math.cos((Math.PI * 3 * (2 * i + 1)) / (2 * n)));
  const a = { data: base, numMels: n, frames: 1 };
  const b = { data: base.map((v, i) => v + 0.5 * basis[i]), numMels: n, frames: 1 };
  const ca = melCepstrum(a, 25), cb = melCepstrum(b, 25);
  for (let k = 0; k < 25; k++) assert.ok(Math.abs(cb[k] - ca[k] - (k === 3 ? 0.5 : 0)) < 1e-6, `c${k}`);
  const { mcd } = melCepstralDistortion(a, b);
  assert.ok(Math.abs(mcd - (10 / Math.LN10) * Math.sqrt(0.5)) < 1e-5, `MCD ${mcd}`);
});

test('F0 track comparison: cents, correlation, voicing agreement', () => {
  const a = [0, 100, 200, 300, 0, 150];
  const b = [0, 100 * 2 ** (1 / 12), 200 * 2 ** (1 / 12), 300 * 2 ** (1 / 12), 120, 0];
  const c = compareF0(a, b);
  assert.equal(c.frames, 6);
  assert.equal(c.bothVoiced, 3);
  assert.equal(c.voicedA, 4);
  assert.equal(c.voicedB, 4);
  assert.ok(Math.abs(c.voicingAgreement - 4 / 6) < 1e-12);
  assert.ok(Math.abs(c.rmseCents! - 100) < 1e-9);
  assert.ok(Math.abs(c.meanCents! - 100) < 1e-9);
  assert.ok(Math.abs(c.correlation! - 1) < 1e-9);
  const none = compareF0([0, 0], [0, 100]);
  assert.equal(none.rmseCents, null);
  assert.equal(none.correlation, null);
  assert.deepEqual(f0Summary([0, 100, 300, 200]), { frames: 4, voicedFraction: 0.75, medianHz: 200 });
  assert.equal(f0Summary([0, 0]).medianHz, null);
});

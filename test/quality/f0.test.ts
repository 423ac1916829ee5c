/** The YIN estimator on synthetic tones: steady pitch, a chirp, a pitch shift, silence and noise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateF0 } from '../../src/core/quality/f0.ts';
import { compareF0 } from '../../src/core/quality/metrics.ts';

const SR = 16000;
const tone = (hz: number, seconds: number, amp = 0.5) => Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / SR));
/** Frames away from the edges (the first and last windows see zero padding). */
const inner = (f0: Float64Array) => f0.subarray(5, f0.length - 5);

test('a 220 Hz sine comes out 220 ± 1 Hz in every inner frame', () => {
  const tr = estimateF0(tone(220, 1));
  assert.equal(tr.f0.length, 101);
  assert.equal(tr.hopSeconds, 0.01);
  for (const f of inner(tr.f0)) assert.ok(Math.abs(f - 220) <= 1, `frame F0 ${f}`);
  for (const p of inner(tr.periodicity)) assert.ok(p > 0.9, `periodicity ${p}`);
});

test('tones across the 50-1100 Hz range, and harmonic-rich ones, are found', () => {
  for (const hz of [55, 100, 440, 1000]) {
    const f0 = inner(estimateF0(tone(hz, 0.6)).f0);
    const med = [...f0].sort((a, b) => a - b)[f0.length >> 1];
    assert.ok(Math.abs(med - hz) / hz < 0.005, `${hz} Hz tone: median ${med}`);
  }
  // a sawtooth-like signal with a strong 2nd harmonic must not jump an octave up
  const x = Float32Array.from({ length: SR }, (_, i) => {
    const p = (2 * Math.PI * 150 * i) / SR;
    return 0.3 * Math.sin(p) + 0.5 * Math.sin(2 * p) + 0.2 * Math.sin(3 * p);
  });
  for (const f of inner(estimateF0(x).f0)) assert.ok(Math.abs(f - 150) < 1.5, `150 Hz complex tone: ${f}`);
});

test('a linear chirp 120 -> 600 Hz is tracked', () => {
  const seconds = 2, f1 = 120, f2 = 600;
  const k = (f2 - f1) / seconds;
  const x = Float32Array.from({ length: seconds * SR }, (_, i) => {
    const t = i / SR;
    return 0.5 * Math.sin(2 * Math.PI * (f1 * t + 0.5 * k * t * t));
  });
  const tr = estimateF0(x);
  let checked = 0;
  for (let t = 5; t < tr.f0.length - 5; t++) {
    const expected = f1 + k * t * tr.hopSeconds;
    assert.ok(Math.abs(tr.f0[t] - expected) / expected < 0.03, `frame ${t}: ${tr.f0[t].toFixed(1)} Hz, expected ${expected.toFixed(1)}`);
    checked++;
  }
  assert.ok(checked > 180);
  // and monotonically rising overall
  const f = inner(tr.f0);
  assert.ok(f[f.length - 1] > 4 * f[0]);
});

test('a 3-semitone shifted tone gives 300 ± 5 cents RMSE', () => {
  const a = estimateF0(tone(220, 1)).f0;
  const b = estimateF0(tone(220 * 2 ** (3 / 12), 1)).f0;
  const c = compareF0(a, b);
  assert.ok(c.bothVoiced > 90);
  assert.ok(Math.abs(c.rmseCents! - 300) <= 5, `RMSE ${c.rmseCents} cents`);
  assert.ok(c.voicingAgreement > 0.97);
});

test('silence and white noise are unvoiced', () => {
  const silent = estimateF0(new Float32Array(SR));
  assert.ok(silent.f0.every((v) => v === 0));
  assert.ok(silent.periodicity.every((v) => v === 0));
  const tiny = estimateF0(tone(220, 0.5, 1e-6));
  assert.ok(tiny.f0.every((v) => v === 0), 'below the absolute floor');
  let s = 12345;
  const noise = Float32Array.from({ length: SR }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.5;
  });
  const voiced = estimateF0(noise).f0.filter((v) => v > 0).length;
  assert.ok(voiced < 5, `${voiced} noise frames called voiced`);
  // tone, silence, tone: the gap is unvoiced
  const x = new Float32Array(SR);
  x.set(tone(200, 0.4), 0);
  x.set(tone(200, 0.4), Math.round(0.6 * SR));
  const f0 = estimateF0(x).f0;
  for (let t = 45; t <= 55; t++) assert.equal(f0[t], 0, `frame ${t} in the gap`);
  assert.ok(Math.abs(f0[20] - 200) < 1 && Math.abs(f0[80] - 200) < 1);
  assert.throws(() => estimateF0(x, { fmin: 0 }), /fmin/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamingSoxr, resampleSoxr, soxrOutputLength, soxrPlan } from '../../src/core/dsp/soxr.ts';
import { resampleSoxr as fromIndex } from '../../src/core/dsp/index.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { GOLDEN, goldenTensors, getF32, relErr } from '../helpers/golden.ts';

interface SoxrCase { key: string; in_rate: number; out_rate: number; in_samples: number; out_samples: number }
const index = JSON.parse(readFileSync(join(GOLDEN, 'dsp_soxr', 'index.json'), 'utf8')) as { cases: SoxrCase[]; tolerance: string };
const TOL = 1e-4; // index.json: max|ours - output| / rms(output) <= 1e-4, equal lengths

test('dsp_soxr: every case equals libsoxr HQ (length exact, err <= 1e-4)', (t) => {
  assert.match(index.tolerance, /1e-4/);
  assert.equal(index.cases.length, 30);
  const tensors = goldenTensors('dsp_soxr/cases.safetensors');
  let worst = 0;
  for (const c of index.cases) {
    const x = getF32(tensors, `${c.key}.input`).data;
    const g = getF32(tensors, `${c.key}.output`).data;
    assert.equal(x.length, c.in_samples);
    const y = fromIndex(x, c.in_rate, c.out_rate);
    assert.equal(y.length, g.length, `${c.key}: length ${y.length} != ${g.length}`);
    assert.equal(soxrOutputLength(x.length, c.in_rate, c.out_rate), c.out_samples);
    const err = relErr(y, g);
    assert.ok(err <= TOL, `${c.key} ${c.in_rate}->${c.out_rate} n=${c.in_samples}: err ${err.toExponential(3)}`);
    worst = Math.max(worst, err);
    t.diagnostic(`${c.key} ${c.in_rate}->${c.out_rate} n=${c.in_samples}: err=${err.toExponential(2)}`);
  }
  t.diagnostic(`worst err=${worst.toExponential(2)} tol=${TOL}`);
});

test('soxr plans: the stage layout libsoxr picks for the golden ratios', () => {
  const kinds = (a: number, b: number) => soxrPlan(a, b).stages.map((s) => (s.kind === 'fir' ? `fir${s.L}/${s.M}` : s.kind === 'poly' ? `poly${s.L}/${s.step}` : 'half'));
  assert.deepEqual(kinds(22050, 16000), ['fir2/1', 'poly160/441']);
  assert.deepEqual(kinds(44100, 16000), ['fir1/1', 'poly160/441']);
  assert.deepEqual(kinds(44100, 22050), ['fir1/2']);
  assert.deepEqual(kinds(16000, 22050), ['fir2/1', 'poly882/1280']);
  // ratio >= 4 adds half-band decimators; a large upsampling ratio a post stage
  assert.deepEqual(kinds(96000, 16000).filter((k) => k === 'half').length, 1);
  assert.ok(kinds(8000, 48000).some((k) => k.startsWith('fir') && k !== 'fir2/1'));
});

test('resampleSoxr: a sine stays a sine with zero delay and a flat passband, for every stage layout', () => {
  for (const [a, b] of [[22050, 16000], [96000, 16000], [8000, 48000], [16000, 22050], [44100, 22050], [192000, 22050], [22050, 22051]]) {
    const f = 440;
    const n = a; // one second
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / a));
    const y = resampleSoxr(x, a, b);
    assert.equal(y.length, Math.trunc(n * b / a + 0.5));
    let maxErr = 0;
    // away from the edges (the filters ring over a few ms there)
    for (let k = Math.ceil(b * 0.1); k < y.length - Math.ceil(b * 0.1); k++) {
      maxErr = Math.max(maxErr, Math.abs(y[k] - Math.sin((2 * Math.PI * f * k) / b)));
    }
    assert.ok(maxErr < 2e-4, `${a}->${b}: max deviation from the ideal sine ${maxErr}`);
  }
});

test('resampleSoxr: a tone above the new Nyquist frequency is removed', () => {
  const a = 22050, b = 16000;
  const x = Float64Array.from({ length: a }, (_, i) => Math.sin((2 * Math.PI * 9000 * i) / a));
  const y = resampleSoxr(x, a, b);
  let peak = 0;
  for (let k = 2000; k < y.length - 2000; k++) peak = Math.max(peak, Math.abs(y[k]));
  assert.ok(peak < 1e-5, `alias peak ${peak}`); // HQ: > 120 dB stop-band
});

test('resampleSoxr: same rate copies, bad rates are a typed error', () => {
  const x = new Float32Array([1, 2, 3]);
  assert.deepEqual([...resampleSoxr(x, 16000, 16000)], [1, 2, 3]);
  assert.equal(resampleSoxr(new Float32Array(0), 22050, 16000).length, 0);
  assert.throws(() => resampleSoxr(x, 0, 16000), InvalidInputError);
  assert.throws(() => resampleSoxr(x, 16000, Number.NaN), InvalidInputError);
});

test('StreamingSoxr: pieces of any size give the one-call output (within float32 rounding), each sample once', () => {
  for (const [a, b] of [[48000, 22050], [22050, 16000], [16000, 22050], [44100, 22050]]) {
    const n = 30000;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01) * Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3));
    const whole = resampleSoxr(x, a, b);
    const s = new StreamingSoxr(a, b);
    const parts: Float32Array[] = [];
    let i = 0, k = 0;
    while (i < n) {
      const len = [1, 517, 4410, 3969, 64][k++ % 5];
      parts.push(s.push(x.subarray(i, Math.min(n, i + len))));
      i += len;
    }
    parts.push(s.push(new Float32Array(0), true));
    const y = new Float32Array(parts.reduce((m, p) => m + p.length, 0));
    let o = 0;
    for (const p of parts) { y.set(p, o); o += p.length; }
    assert.equal(y.length, whole.length, `${a}->${b}`);
    let worst = 0;
    for (let j = 0; j < y.length; j++) worst = Math.max(worst, Math.abs(y[j] - whole[j]));
    assert.ok(worst < 1e-6, `${a}->${b}: max diff ${worst}`);
    assert.ok(s.reach > 0 && s.reach < 1000, `${a}->${b}: reach ${s.reach}`);
  }
});

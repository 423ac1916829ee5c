import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fft, ifft, rfft, getFftPlan, getRealFftPlan } from '../../src/core/dsp/fft.ts';

/** Naive O(n^2) DFT in float64, angles reduced mod n for accuracy. */
function naiveDft(re: Float64Array, im: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  const or = new Float64Array(n);
  const oi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * ((k * t) % n)) / n;
      const c = Math.cos(a), s = Math.sin(a);
      sr += re[t] * c - im[t] * s;
      si += re[t] * s + im[t] * c;
    }
    or[k] = sr; oi[k] = si;
  }
  return { re: or, im: oi };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function maxRelErr(a: { re: Float64Array; im: Float64Array }, b: { re: Float64Array; im: Float64Array }, len = b.re.length): number {
  let maxAbs = 0, sumSq = 0;
  for (let i = 0; i < len; i++) {
    maxAbs = Math.max(maxAbs, Math.hypot(a.re[i] - b.re[i], a.im[i] - b.im[i]));
    sumSq += b.re[i] ** 2 + b.im[i] ** 2;
  }
  return maxAbs / Math.sqrt(sumSq / Math.max(1, len));
}

const SIZES = [1, 2, 3, 5, 16, 400, 1000, 1024, 7 * 11 * 13, 97, 997, 2 * 37, 4096];

for (const n of SIZES) {
  test(`complex FFT of length ${n} equals the naive DFT (float64)`, (t) => {
    const r = rng(n);
    const re = Float64Array.from({ length: n }, r);
    const im = Float64Array.from({ length: n }, r);
    const want = naiveDft(re, im);
    const got = fft(re, im);
    const err = maxRelErr(got, want);
    t.diagnostic(`n=${n} err=${err.toExponential(2)}`);
    assert.ok(err < 1e-12, `n=${n}: err ${err}`);
    const back = ifft(got.re, got.im);
    const errBack = maxRelErr(back, { re, im });
    assert.ok(errBack < 1e-12, `n=${n}: inverse err ${errBack}`);
  });

  test(`real FFT of length ${n} equals the first n/2+1 naive DFT bins`, (t) => {
    const r = rng(1000 + n);
    const x = Float64Array.from({ length: n }, r);
    const want = naiveDft(x, new Float64Array(n));
    const got = rfft(x);
    assert.equal(got.re.length, Math.floor(n / 2) + 1);
    const err = maxRelErr(got, want, got.re.length);
    t.diagnostic(`n=${n} err=${err.toExponential(2)}`);
    assert.ok(err < 1e-12, `n=${n}: err ${err}`);
  });
}

test('plans are cached per size and the real plan reads at an offset', () => {
  assert.equal(getFftPlan(400), getFftPlan(400));
  assert.equal(getRealFftPlan(512), getRealFftPlan(512));
  const x = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i));
  const re = new Float64Array(5), im = new Float64Array(5);
  getRealFftPlan(8).forward(x, re, im, 7);
  const want = rfft(x.slice(7, 15));
  assert.deepEqual([...re], [...want.re]);
  assert.deepEqual([...im], [...want.im]);
});

test('a pure tone lands in its bin', () => {
  const n = 400;
  const x = Float64Array.from({ length: n }, (_, i) => Math.cos((2 * Math.PI * 37 * i) / n));
  const { re, im } = rfft(x);
  for (let k = 0; k < re.length; k++) {
    const mag = Math.hypot(re[k], im[k]);
    if (k === 37) assert.ok(Math.abs(mag - n / 2) < 1e-9);
    else assert.ok(mag < 1e-9, `bin ${k}: ${mag}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resample, resampleGeometry, resampledLength, sincResampleKernel } from '../../src/core/dsp/resample.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { assertClose, caseTensors, getF32, goldenCase, tolerance } from '../helpers/golden.ts';

for (const id of ['dsp_resample_22050_16000', 'dsp_resample_44100_16000', 'dsp_resample_24000_22050']) {
  test(`${id}: equals torchaudio.functional.resample`, (t) => {
    const c = goldenCase(id);
    const g = caseTensors(c);
    const a = c.args as { orig_freq: number; new_freq: number; width: number; orig_reduced: number; new_reduced: number };
    const geo = resampleGeometry(a.orig_freq, a.new_freq);
    assert.equal(geo.width, a.width);
    assert.equal(geo.orig, a.orig_reduced);
    assert.equal(geo.new, a.new_reduced);
    const wav = getF32(g, 'input.wav').data;
    const out = resample(wav, a.orig_freq, a.new_freq);
    assert.equal(out.length, resampledLength(wav.length, a.orig_freq, a.new_freq));
    const tol = tolerance(c, 'output');
    const err = assertClose('output', { shape: [1, out.length], data: out }, getF32(g, 'output'), tol);
    t.diagnostic(`output err=${err.toExponential(3)} tol=${tol}`);
  });
}

test('dsp_resample_24000_22050: the polyphase kernel equals torchaudio\'s (float32 construction)', (t) => {
  const c = goldenCase('dsp_resample_24000_22050');
  const g = caseTensors(c);
  const { kernel, geometry } = sincResampleKernel(24000, 22050);
  const tol = tolerance(c, 'intermediate.kernel');
  const err = assertClose('kernel', { shape: [geometry.new, 1, geometry.taps], data: kernel }, getF32(g, 'intermediate.kernel'), tol);
  t.diagnostic(`intermediate.kernel err=${err.toExponential(3)} tol=${tol}`);
});

test('the taps resample() skips (argument clamped to the window edge) weigh less than 1e-20', () => {
  for (const [o, n] of [[22050, 16000], [44100, 16000], [24000, 22050], [16000, 22050], [48000, 44100]]) {
    const { kernel, geometry } = sincResampleKernel(o, n);
    let significant = 0;
    for (let p = 0; p < geometry.new; p++) {
      for (let k = 0; k < geometry.taps; k++) {
        const v = Math.abs(kernel[p * geometry.taps + k]);
        if (v >= 1e-20) significant++;
      }
    }
    // about 2 * 6 * o / min(o, n) significant taps per phase, far fewer than the dense 2*width + o
    const perPhase = significant / geometry.new;
    assert.ok(perPhase <= (12 * geometry.orig) / geometry.base + 2, `${o}->${n}: ${perPhase} taps per phase`);
    const dense = kernel.slice();
    const x = Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i * 0.05) * Math.cos(i * 0.0071));
    const fast = resample(x, o, n);
    // dense reference (float64 accumulation over every tap)
    const { orig: oo, new: nn, width, taps } = geometry;
    const outLen = Math.ceil((nn * x.length) / oo);
    let maxDiff = 0;
    for (let j = 0; j < outLen; j++) {
      const b = Math.floor(j / nn), p = j % nn;
      let acc = 0;
      for (let k = 0; k < taps; k++) {
        const i = b * oo + k - width;
        if (i >= 0 && i < x.length) acc += dense[p * taps + k] * x[i];
      }
      maxDiff = Math.max(maxDiff, Math.abs(Math.fround(acc) - fast[j]));
    }
    assert.ok(maxDiff <= 1e-7, `${o}->${n}: sparse vs dense max diff ${maxDiff}`);
  }
});

test('same rate returns a copy; lengths are ceil(new * N / orig)', () => {
  const x = Float32Array.from([0.1, -0.2, 0.3]);
  const y = resample(x, 16000, 16000);
  assert.notEqual(y, x);
  assert.deepEqual([...y], [...x]);
  assert.equal(resample(new Float32Array(0), 44100, 16000).length, 0);
  assert.equal(resample(new Float32Array(1), 44100, 16000).length, 1);
  assert.equal(resample(new Float32Array(441), 44100, 16000).length, 160);
  assert.equal(resample(new Float32Array(442), 44100, 16000).length, 161);
  assert.equal(resampledLength(705600, 22050, 16000), 512000);
  assert.throws(() => resample(x, 0, 16000), InvalidInputError);
  assert.throws(() => resample(x, 44100.5, 16000), InvalidInputError);
});

test('a 1 kHz sine resampled 44100 -> 16000 keeps its frequency and amplitude within 1%', (t) => {
  const sr = 44100, amp = 0.5, f0 = 1000;
  const x = Float32Array.from({ length: sr }, (_, i) => amp * Math.sin((2 * Math.PI * f0 * i) / sr));
  const y = resample(x, sr, 16000);
  assert.equal(y.length, 16000);
  // steady-state part: away from the zero-padded edges
  const a = 1000, b = 15000;
  let peak = 0;
  let crossings = 0;
  for (let i = a; i < b; i++) {
    peak = Math.max(peak, Math.abs(y[i]));
    if (y[i - 1] < 0 && y[i] >= 0) crossings++;
  }
  // least-squares fit of the amplitude at exactly 1 kHz
  let s = 0, cc = 0;
  for (let i = a; i < b; i++) {
    s += y[i] * Math.sin((2 * Math.PI * f0 * i) / 16000);
    cc += y[i] * Math.cos((2 * Math.PI * f0 * i) / 16000);
  }
  const fitted = (2 / (b - a)) * Math.hypot(s, cc);
  const freq = (crossings * 16000) / (b - a);
  t.diagnostic(`fitted amplitude ${fitted.toFixed(5)} (want ${amp}), peak ${peak.toFixed(5)}, frequency from zero crossings ${freq.toFixed(2)} Hz`);
  assert.ok(Math.abs(fitted - amp) / amp < 0.01);
  assert.ok(Math.abs(peak - amp) / amp < 0.01);
  assert.ok(Math.abs(freq - f0) / f0 < 0.01);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stft, hannWindow, reflectPad, stft } from '../../src/core/dsp/stft.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { assertClose, caseTensors, getF32, goldenCase, tolerance } from '../helpers/golden.ts';

test('hannWindow: periodic and symmetric Hann (torch.hann_window)', () => {
  const p = hannWindow(8, true);
  const s = hannWindow(9, false);
  // float32 values (a few ulp from the exact formula)
  for (let k = 0; k < 8; k++) assert.ok(Math.abs(p[k] - (0.5 - 0.5 * Math.cos((2 * Math.PI * k) / 8))) < 3e-7);
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(s[k] - (0.5 - 0.5 * Math.cos((2 * Math.PI * k) / 8))) < 3e-7);
  assert.equal(p[0], 0);
  assert.equal(p[4], 1);
  assert.ok(Math.abs(s[8]) < 1e-7);
  assert.deepEqual([...hannWindow(1)], [1]);
});

test('reflectPad mirrors without repeating the edge sample, like F.pad(mode="reflect")', () => {
  const x = Float32Array.from([1, 2, 3, 4, 5]);
  assert.deepEqual([...reflectPad(x, 3, 2)], [4, 3, 2, 1, 2, 3, 4, 5, 4, 3]);
  assert.ok(reflectPad(x, 1, 1) instanceof Float32Array);
  assert.ok(reflectPad(Float64Array.from(x), 1, 1) instanceof Float64Array);
  assert.throws(() => reflectPad(x, 5, 0), InvalidInputError);
});

test('frame counts follow torch.stft (center and not)', () => {
  const a = new Stft({ nFft: 1024, hopLength: 256 });
  assert.equal(a.frameCount(1024), 1);
  assert.equal(a.frameCount(1023), 0);
  assert.equal(a.frameCount(44100 + 768), 172);
  const b = new Stft({ nFft: 400, hopLength: 160, center: true });
  assert.equal(b.frameCount(480000), 3001);
});

test('a window shorter than nFft is zero-padded in the centre; spectra match a direct DFT', () => {
  const n = 37;
  const x = Float64Array.from({ length: n }, (_, i) => Math.sin(0.3 * i) + 0.1 * i);
  const win = Float64Array.from({ length: 6 }, (_, i) => 1 + i);
  const spec = stft(x, { nFft: 10, hopLength: 4, window: win, spectrum: 'power' });
  assert.equal(spec.bins, 6);
  assert.equal(spec.frames, 1 + Math.floor((n - 10) / 4));
  for (let t = 0; t < spec.frames; t++) {
    for (let k = 0; k < 6; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < 10; i++) {
        const w = i >= 2 && i < 8 ? win[i - 2] : 0;
        const v = x[t * 4 + i] * w;
        re += v * Math.cos((2 * Math.PI * k * i) / 10);
        im -= v * Math.sin((2 * Math.PI * k * i) / 10);
      }
      assert.ok(Math.abs(spec.data[k * spec.frames + t] - Math.fround(re * re + im * im)) < 1e-3, `t=${t} k=${k}`);
    }
  }
});

test('dsp_mel_22k: magnitude of the first 16 frames (before the mel matmul)', (t) => {
  const c = goldenCase('dsp_mel_22k');
  const g = caseTensors(c);
  const wav = getF32(g, 'input.wav').data;
  const x = reflectPad(wav, 384, 384);
  const spec = stft(x, { nFft: 1024, hopLength: 256, window: hannWindow(1024), spectrum: 'magnitude', magnitudeEps: 1e-9 });
  const head = new Float32Array(513 * 16);
  for (let k = 0; k < 513; k++) for (let f = 0; f < 16; f++) head[k * 16 + f] = spec.data[k * spec.frames + f];
  const tol = tolerance(c, 'output');
  const err = assertClose('magnitude_first16', { shape: [1, 513, 16], data: head }, getF32(g, 'intermediate.magnitude_first16'), tol);
  t.diagnostic(`intermediate.magnitude_first16 err=${err.toExponential(3)} (asserted against the output tol ${tol})`);
});

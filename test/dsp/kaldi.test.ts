import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kaldiFbank, kaldiMelBanks, meanNormalize, poveyWindow } from '../../src/core/dsp/kaldi.ts';
import { assertClose, caseTensors, getF32, goldenCase, relErr, tolerance } from '../helpers/golden.ts';

const c = goldenCase('dsp_kaldi_fbank');

test('dsp_kaldi_fbank: Kaldi mel banks (float32 construction, zero Nyquist column)', (t) => {
  const g = caseTensors(c);
  const banks = kaldiMelBanks(80, 512, 16000, 20, 0);
  const tol = tolerance(c, 'intermediate.mel_banks');
  const err = assertClose('mel_banks', { shape: [80, 257], data: banks }, getF32(g, 'intermediate.mel_banks'), tol);
  t.diagnostic(`intermediate.mel_banks err=${err.toExponential(3)} tol=${tol}`);
  const w = poveyWindow(400);
  const werr = relErr(w, getF32(g, 'intermediate.window_povey').data);
  t.diagnostic(`intermediate.window_povey err=${werr.toExponential(3)} (asserted against the mel_banks tol ${tol})`);
  assert.ok(werr <= tol);
});

test('dsp_kaldi_fbank: fbank and the mean-normalised CAMPPlus input', (t) => {
  const g = caseTensors(c);
  const wav = getF32(g, 'input.wav16k').data;
  const fb = kaldiFbank(wav, { numMelBins: 80, sampleFrequency: 16000 });
  assert.equal(fb.frames, 1 + Math.floor((wav.length - 400) / 160));
  const tol = tolerance(c, 'output.fbank');
  const err = assertClose('fbank', { shape: [fb.frames, fb.bins], data: fb.data }, getF32(g, 'output.fbank'), tol);
  t.diagnostic(`output.fbank err=${err.toExponential(3)} tol=${tol}`);
  const norm = meanNormalize(fb.data, fb.frames, fb.bins);
  const tolN = tolerance(c, 'output.feat_mean_normalized');
  const errN = assertClose('feat_mean_normalized', { shape: [fb.frames, fb.bins], data: norm }, getF32(g, 'output.feat_mean_normalized'), tolN);
  t.diagnostic(`output.feat_mean_normalized err=${errN.toExponential(3)} tol=${tolN}`);
});

test('kaldi fbank of a signal shorter than one window has no frames; normalised bins have zero mean', () => {
  assert.equal(kaldiFbank(new Float32Array(399)).frames, 0);
  const x = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i * 0.2) * 0.3);
  const fb = kaldiFbank(x);
  const norm = meanNormalize(fb.data, fb.frames, fb.bins);
  for (let m = 0; m < fb.bins; m++) {
    let s = 0;
    for (let f = 0; f < fb.frames; f++) s += norm[f * fb.bins + m];
    assert.ok(Math.abs(s / fb.frames) < 1e-5);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSalience, rmvpeMel } from '../../src/core/dsp/rmvpe-dsp.ts';
import { assertClose, caseTensors, getF32, goldenCase, tolerance } from '../helpers/golden.ts';

test('dsp_rmvpe_mel_decode: RMVPE HTK log-mel front end', (t) => {
  const c = goldenCase('dsp_rmvpe_mel_decode');
  const g = caseTensors(c);
  const audio = getF32(g, 'input.audio16k').data;
  const mel = rmvpeMel(audio);
  assert.equal(mel.frames, 1 + Math.floor(audio.length / 160));
  const tol = tolerance(c, 'output.mel');
  const err = assertClose('output.mel', { shape: [1, mel.nMels, mel.frames], data: mel.data }, getF32(g, 'output.mel'), tol);
  t.diagnostic(`output.mel err=${err.toExponential(3)} tol=${tol}`);
});

test('dsp_rmvpe_mel_decode: salience decoding', (t) => {
  const c = goldenCase('dsp_rmvpe_mel_decode');
  const g = caseTensors(c);
  const hidden = getF32(g, 'input.hidden');
  const thred = (c.args as { thred: number }).thred;
  const f0 = decodeSalience(hidden.data, thred);
  const tol = tolerance(c, 'output.f0');
  const err = assertClose('output.f0', { shape: [f0.length], data: f0 }, getF32(g, 'output.f0'), tol);
  t.diagnostic(`output.f0 err=${err.toExponential(3)} tol=${tol}`);
  // frames whose maximum salience is at or below the threshold are unvoiced (exactly 0 Hz), the others are not
  for (let i = 0; i < f0.length; i++) {
    let max = 0;
    for (let k = 0; k < 360; k++) max = Math.max(max, hidden.data[i * 360 + k]);
    assert.equal(f0[i] === 0, max <= Math.fround(thred), `frame ${i}`);
  }
});

test('nets_rmvpe: log-mel of its 2 s input and the decode of its salience', (t) => {
  const c = goldenCase('nets_rmvpe');
  const g = caseTensors(c);
  const audio = getF32(g, 'input.audio16k').data;
  const mel = rmvpeMel(audio);
  const tolMel = tolerance(c, 'intermediate.mel');
  const errMel = assertClose('intermediate.mel', { shape: [1, mel.nMels, mel.frames], data: mel.data }, getF32(g, 'intermediate.mel'), tolMel);
  t.diagnostic(`intermediate.mel err=${errMel.toExponential(3)} tol=${tolMel}`);
  const hidden = getF32(g, 'output.hidden');
  const f0 = decodeSalience(hidden.data, (c.args as { thred: number }).thred);
  const tolF0 = tolerance(c, 'output.f0');
  const errF0 = assertClose('output.f0', { shape: [f0.length], data: f0 }, getF32(g, 'output.f0'), tolF0);
  t.diagnostic(`output.f0 (decoded from golden output.hidden) err=${errF0.toExponential(3)} tol=${tolF0}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossfade, crossfadeCurves } from '../../src/core/dsp/crossfade.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { assertClose, caseTensors, getF32, goldenCase, relErr, tolerance } from '../helpers/golden.ts';

const c = goldenCase('dsp_crossfade');

test('dsp_crossfade: long and short-tail branches of inference.py crossfade', (t) => {
  const g = caseTensors(c);
  const overlap = (c.args as { overlap: number }).overlap;
  const chunk1 = getF32(g, 'input.chunk1').data;
  const { fadeOut, fadeIn } = crossfadeCurves(overlap);
  const tolL = tolerance(c, 'output.long');
  t.diagnostic(`intermediate.fade_out err=${relErr(fadeOut, getF32(g, 'intermediate.fade_out').data).toExponential(3)}, fade_in err=${relErr(fadeIn, getF32(g, 'intermediate.fade_in').data).toExponential(3)}`);
  assert.ok(relErr(fadeOut, getF32(g, 'intermediate.fade_out').data) <= tolL);
  assert.ok(relErr(fadeIn, getF32(g, 'intermediate.fade_in').data) <= tolL);

  const chunk2 = getF32(g, 'input.chunk2').data.slice();
  const long = crossfade(chunk1, chunk2, overlap);
  assert.equal(long, chunk2, 'blends in place and returns chunk2');
  const errL = assertClose('output.long', { shape: [long.length], data: long }, getF32(g, 'output.long'), tolL);
  t.diagnostic(`output.long err=${errL.toExponential(3)} tol=${tolL}`);

  const short = crossfade(chunk1, getF32(g, 'input.chunk2_short').data.slice(), overlap);
  const tolS = tolerance(c, 'output.short');
  const errS = assertClose('output.short', { shape: [short.length], data: short }, getF32(g, 'output.short'), tolS);
  t.diagnostic(`output.short err=${errS.toExponential(3)} tol=${tolS}`);
});

test('crossfade: fades sum to one, ends are exact, bad overlaps are refused', () => {
  const { fadeOut, fadeIn } = crossfadeCurves(4096);
  assert.equal(fadeOut[0], 1);
  assert.ok(fadeIn[0] < 1e-30);
  assert.equal(fadeIn[4095], 1);
  for (let i = 0; i < 4096; i += 97) assert.ok(Math.abs(fadeOut[i] + fadeIn[i] - 1) < 1e-12);
  assert.throws(() => crossfade(new Float32Array(3), new Float32Array(10), 4), InvalidInputError);
  assert.throws(() => crossfadeCurves(0), InvalidInputError);
});

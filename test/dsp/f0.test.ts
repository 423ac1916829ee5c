import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f0ToCoarse, medianLogF0, roundHalfEven, shiftF0 } from '../../src/core/dsp/f0.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { assertClose, assertExactInts, caseTensors, getF32, getTensor, goldenCase, relErr, tolerance } from '../helpers/golden.ts';

test('roundHalfEven rounds ties to even like torch.round', () => {
  assert.deepEqual([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, 2.6, -2.6].map(roundHalfEven), [-2, -2, -0, 0, 2, 2, 2, 3, -3]);
});

test('dsp_f0_to_coarse: 256 and 512 bins, exact', (t) => {
  const c = goldenCase('dsp_f0_to_coarse');
  const g = caseTensors(c);
  const f0 = getF32(g, 'input.f0').data;
  const f64 = Float64Array.from(f0);
  for (const bins of [256, 512]) {
    const name = `output.coarse_${bins}`;
    assert.equal(tolerance(c, name), 0);
    assertExactInts(name, f0ToCoarse(f64, bins), getTensor(g, name));
    assertExactInts(`${name} (float32 input)`, f0ToCoarse(f0, bins), getTensor(g, name));
    t.diagnostic(`${name}: all ${f0.length} bins equal (tol 0)`);
  }
  // the documented edge values
  const edge = f0ToCoarse(Float64Array.from([0, 1e-5, 50, 1100, 1200]), 256);
  assert.deepEqual([...edge], [1, 1, 1, 255, 0]);
});

test('dsp_f0_shift: median log-F0 alignment and semitone shift in float64', (t) => {
  const c = goldenCase('dsp_f0_shift');
  const g = caseTensors(c);
  const ori = getF32(g, 'input.F0_ori').data;
  const alt = getF32(g, 'input.F0_alt').data;
  const medOri = medianLogF0(ori), medAlt = medianLogF0(alt);
  const errMed = Math.max(
    relErr([medOri], getF32(g, 'intermediate.median_log_f0_ori').data),
    relErr([medAlt], getF32(g, 'intermediate.median_log_f0_alt').data),
  );
  t.diagnostic(`intermediate.median_log_f0_{ori,alt} err=${errMed.toExponential(3)}`);
  assert.ok(errMed <= 1e-6);
  assert.equal(ori.filter((v) => v > 1).length, Number((getTensor(g, 'intermediate.voiced_count_ori').data as BigInt64Array)[0]));
  for (const v of (c.args as { variants: { tag: string; auto_f0_adjust: boolean; semi_tone_shift: number }[] }).variants) {
    const name = `output.shifted_f0_alt.${v.tag}`;
    const out = shiftF0(alt, ori, { autoF0Adjust: v.auto_f0_adjust, semitoneShift: v.semi_tone_shift });
    const tol = tolerance(c, name);
    const err = assertClose(name, { shape: [1, out.length], data: out }, getF32(g, name), tol);
    t.diagnostic(`${name} err=${err.toExponential(3)} tol=${tol}`);
  }
});

test('shiftF0: unvoiced frames become F0 + 1e-5; lower median for even counts; silent reference refused', () => {
  const out = shiftF0(Float64Array.from([0, 200, 0.5]), Float64Array.from([100, 300, 0]), { autoF0Adjust: false, semitoneShift: 12 });
  assert.ok(Math.abs(out[0] - 1e-5) < 1e-15);
  assert.ok(Math.abs(out[1] - 400.00002) < 1e-9);
  assert.ok(Math.abs(out[2] - 0.50001) < 1e-12);
  assert.equal(medianLogF0(Float64Array.from([100, 400, 200, 300])), Math.log(200 + 1e-5));
  assert.throws(() => shiftF0(Float64Array.from([200]), Float64Array.from([0, 0]), { autoF0Adjust: true, semitoneShift: 0 }), InvalidInputError);
});

/**
 * F0 utilities of the singing (F0-conditioned) path: the coarse quantisation of
 * modules/length_regulator.py and the log-F0 median alignment + semitone shift of inference.py.
 */
import { InvalidInputError } from '../errors.ts';

const F0_MIN = 50;
const F0_MAX = 1100;
const F0_MEL_MIN = 1127 * Math.log(1 + F0_MIN / 700);
const F0_MEL_MAX = 1127 * Math.log(1 + F0_MAX / 700);

/** torch.round: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; move those ties that landed on an odd integer down
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * f0_to_coarse(f0, nBins) in float64: mel-scale bins 1..nBins-1 over 50..1100 Hz; f0 <= ~50 Hz (and 0)
 * give 1, and any bin that rounds to >= nBins gives 0 (the reference's quirk, not nBins-1).
 */
export function f0ToCoarse(f0: Float64Array | Float32Array, nBins: number): Int32Array {
  if (!Number.isInteger(nBins) || nBins < 3) throw new InvalidInputError(`f0ToCoarse: nBins must be an integer >= 3, got ${nBins}`);
  const a = (nBins - 2) / (F0_MEL_MAX - F0_MEL_MIN);
  const b = F0_MEL_MIN * a - 1;
  const out = new Int32Array(f0.length);
  for (let i = 0; i < f0.length; i++) {
    let mel = 1127 * Math.log(1 + f0[i] / 700);
    if (mel > 0) mel = mel * a - b;
    let c = roundHalfEven(mel);
    if (!(c > 0)) c = 0; // also NaN -> 0, as long() of NaN is unspecified anyway
    if (c < 1) c = 1;
    if (c >= nBins) c = 0;
    out[i] = c;
  }
  return out;
}

/** torch.median of log(F0 + 1e-5) over the voiced frames (F0 > 1): the lower middle value; NaN if none. */
export function medianLogF0(f0: Float64Array | Float32Array): number {
  const v: number[] = [];
  for (let i = 0; i < f0.length; i++) if (f0[i] > 1) v.push(Math.log(f0[i] + 1e-5));
  if (v.length === 0) return NaN;
  v.sort((x, y) => x - y);
  return v[(v.length - 1) >> 1];
}

/** Options of {@link shiftF0} (inference.py --auto-f0-adjust and --semi-tone-shift). */
export interface ShiftF0Options {
  autoF0Adjust: boolean;
  semitoneShift: number;
}

/**
 * inference.py's F0 block, in float64: on voiced frames (F0_alt > 1) optionally move log F0 so its median
 * matches the reference's, then multiply by 2^(semitones/12); unvoiced frames come out as F0 + 1e-5
 * (exp(log(F0 + 1e-5))), not 0. Throws when auto adjustment needs a reference with no voiced frame.
 */
export function shiftF0(f0Alt: Float64Array | Float32Array, f0Ori: Float64Array | Float32Array, opts: ShiftF0Options): Float64Array {
  const n = f0Alt.length;
  const out = new Float64Array(n);
  let medAlt = 0;
  let medOri = 0;
  if (opts.autoF0Adjust) {
    medAlt = medianLogF0(f0Alt);
    if (!Number.isNaN(medAlt)) {
      medOri = medianLogF0(f0Ori);
      if (Number.isNaN(medOri)) throw new InvalidInputError('shiftF0: auto F0 adjustment needs a reference with voiced frames (F0 > 1), found none');
    }
  }
  const factor = 2 ** (opts.semitoneShift / 12);
  for (let i = 0; i < n; i++) {
    const lf = Math.log(f0Alt[i] + 1e-5);
    if (f0Alt[i] > 1) {
      // (log_f0 - median_alt) + median_ori, in the reference's order
      let v = Math.exp(opts.autoF0Adjust ? lf - medAlt + medOri : lf);
      if (opts.semitoneShift !== 0) v *= factor;
      out[i] = v;
    } else {
      out[i] = Math.exp(lf);
    }
  }
  return out;
}

/**
 * float32 elementary functions evaluated the way PyTorch's vectorised CPU kernels do (SLEEF's
 * 1-ulp single-precision algorithms with fused multiply-adds), for the few places where a golden
 * value depends on torch's float32 rounding of a transcendental (Kaldi mel banks). Each float32
 * operation is emulated with Math.fround; an FMA is one float64 evaluation rounded once to float32.
 */

const f = Math.fround;
const scratch = new Float32Array(1);
const scratchBits = new Int32Array(scratch.buffer);

/** fma in float32: a*b is exact in float64 for float32 inputs, the sum is rounded (twice, harmlessly). */
function fma(a: number, b: number, c: number): number {
  return f(a * b + c);
}

/** Unbiased exponent of a positive normal float32. */
function exponentOf(x: number): number {
  scratch[0] = x;
  return ((scratchBits[0] >>> 23) & 0xff) - 127;
}

const LN2_HI = f(0.69314718246459960938);
const LN2_LO = f(-1.904654323148236017e-9);
const C0 = f(0.3027294874);
const C1 = f(0.3996108174);
const C2 = f(0.666669488);
const INV_075 = f(1 / 0.75);

/**
 * Natural log of a float32 as torch's vectorised float32 `log` computes it (SLEEF logf, 1 ulp): mantissa
 * reduced to [0.75, 1.5), atanh series in double-float arithmetic. Positive normal inputs; others fall
 * back to Math.log.
 */
export function logf32(x: number): number {
  const d = f(x);
  if (!(d >= 1.1754943508222875e-38) || d === Infinity) return f(Math.log(d));
  const e = exponentOf(f(d * INV_075));
  const m = d * 2 ** -e; // exact
  // s = (LN2_HI, LN2_LO) * e, double-float
  const sx0 = f(LN2_HI * e);
  const sy0 = fma(LN2_LO, e, fma(LN2_HI, e, -sx0));
  // numerator n = -1 + m and denominator dd = 1 + m as double-floats (two-sum)
  const nx = f(-1 + m);
  const nv = f(nx - -1);
  const ny = f(f(-1 - f(nx - nv)) + f(m - nv));
  const dx = f(1 + m);
  const dv = f(dx - 1);
  const dy = f(f(1 - f(dx - dv)) + f(m - dv));
  // x = n / dd, double-float division with FMA
  const t = f(1 / dx);
  const qx = f(nx * t);
  const u = fma(t, nx, -qx);
  const v = fma(-dy, t, fma(-dx, t, 1));
  const qy = fma(qx, v, fma(ny, t, u));
  const x2 = f(qx * qx);
  let p = C0;
  p = fma(p, x2, C1);
  p = fma(p, x2, C2);
  // s += 2x (double-float add)
  const ax = f(2 * qx), ay = f(2 * qy);
  const s1x = f(sx0 + ax);
  const s1y = f(f(f(f(sx0 - s1x) + ax) + sy0) + ay);
  // s += x^3 * p (double-float + float)
  const w = f(f(x2 * qx) * p);
  const s2x = f(s1x + w);
  const s2y = f(f(f(s1x - s2x) + w) + s1y);
  return f(s2x + s2y);
}

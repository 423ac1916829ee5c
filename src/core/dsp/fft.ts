/**
 * Fast Fourier transforms of any length, in float64.
 *
 * Complex transforms use a Stockham auto-sort (no bit reversal) with radix-4, 2, 3 and 5 butterflies
 * and a generic odd-radix butterfly for the other small primes; lengths with a prime factor above
 * {@link MAX_DIRECT_RADIX} go through Bluestein's chirp-z algorithm on a power-of-two plan.
 * Real transforms of even length pack the input into a complex transform of half the length.
 * Plans (twiddles, work buffers) are cached per length; a plan is not re-entrant, which is fine in
 * single-threaded JS.
 *
 * Sign convention (numpy / torch): X[k] = sum_t x[t] exp(-2 pi i k t / n); the inverse is scaled by 1/n.
 */
import { InvalidInputError } from '../errors.ts';

/** Largest prime factor handled by a direct (generic) butterfly; larger ones use Bluestein. */
export const MAX_DIRECT_RADIX = 31;

interface Stage {
  /** Radix of the stage. */
  r: number;
  /** Sub-transform length after this stage (n_stage / r). */
  m: number;
  /** Stride (product of the radices of the previous stages). */
  s: number;
  /** Twiddles W_{r*m}^{p*j}, p < m, 1 <= j < r, at [(p*(r-1) + j-1)]. */
  twr: Float64Array;
  twi: Float64Array;
}

/** Radix sequence of n: fours first, then a two, then odd primes ascending. */
function factorize(n: number): number[] {
  const f: number[] = [];
  while (n % 4 === 0) { f.push(4); n /= 4; }
  while (n % 2 === 0) { f.push(2); n /= 2; }
  for (let p = 3; p * p <= n; p += 2) {
    while (n % p === 0) { f.push(p); n /= p; }
  }
  if (n > 1) f.push(n);
  return f;
}

/** A complex FFT plan for one length, transforming split real/imaginary float64 arrays in place. */
export class FftPlan {
  readonly n: number;
  private readonly stages: Stage[] = [];
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  /** Generic-radix DFT tables cos/sin(2 pi k / r), indexed by radix. */
  private readonly rootTables = new Map<number, { c: Float64Array; s: Float64Array }>();
  private readonly scratchR = new Float64Array(MAX_DIRECT_RADIX);
  private readonly scratchI = new Float64Array(MAX_DIRECT_RADIX);
  private readonly scratchOr = new Float64Array(MAX_DIRECT_RADIX);
  private readonly scratchOi = new Float64Array(MAX_DIRECT_RADIX);
  private readonly bluestein: {
    plan: FftPlan;
    chirpR: Float64Array; chirpI: Float64Array; // exp(-i pi k^2 / n), k < n
    bR: Float64Array; bI: Float64Array; // FFT of the conjugate chirp, length M
    ar: Float64Array; ai: Float64Array; // work, length M
  } | undefined;

  /** Builds twiddles and buffers for length n (prefer the cached {@link getFftPlan}). */
  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new InvalidInputError(`FFT length must be a positive integer, got ${n}`);
    this.n = n;
    const factors = factorize(n);
    if (factors.length > 0 && factors[factors.length - 1] > MAX_DIRECT_RADIX) {
      this.wr = new Float64Array(0);
      this.wi = new Float64Array(0);
      let M = 1;
      while (M < 2 * n - 1) M *= 2;
      const plan = getFftPlan(M);
      const chirpR = new Float64Array(n);
      const chirpI = new Float64Array(n);
      const twoN = 2 * n;
      for (let k = 0; k < n; k++) {
        // k^2 mod 2n keeps the angle small (exact integer arithmetic for n < 2^26).
        const k2 = (k * k) % twoN;
        const a = (Math.PI * k2) / n;
        chirpR[k] = Math.cos(a);
        chirpI[k] = -Math.sin(a);
      }
      const bR = new Float64Array(M);
      const bI = new Float64Array(M);
      bR[0] = chirpR[0]; bI[0] = -chirpI[0];
      for (let k = 1; k < n; k++) {
        bR[k] = chirpR[k]; bI[k] = -chirpI[k];
        bR[M - k] = chirpR[k]; bI[M - k] = -chirpI[k];
      }
      plan.forward(bR, bI);
      this.bluestein = { plan, chirpR, chirpI, bR, bI, ar: new Float64Array(M), ai: new Float64Array(M) };
      return;
    }
    this.wr = new Float64Array(n);
    this.wi = new Float64Array(n);
    let s = 1;
    let len = n;
    for (const r of factors) {
      const m = len / r;
      const twr = new Float64Array(m * (r - 1));
      const twi = new Float64Array(m * (r - 1));
      for (let p = 0; p < m; p++) {
        for (let j = 1; j < r; j++) {
          const a = (-2 * Math.PI * ((p * j) % len)) / len;
          twr[p * (r - 1) + j - 1] = Math.cos(a);
          twi[p * (r - 1) + j - 1] = Math.sin(a);
        }
      }
      this.stages.push({ r, m, s, twr, twi });
      if (r !== 2 && r !== 3 && r !== 4 && !this.rootTables.has(r)) {
        const c = new Float64Array(r);
        const si = new Float64Array(r);
        for (let k = 0; k < r; k++) { c[k] = Math.cos((2 * Math.PI * k) / r); si[k] = Math.sin((2 * Math.PI * k) / r); }
        this.rootTables.set(r, { c, s: si });
      }
      s *= r;
      len = m;
    }
  }

  /** Forward DFT of (re, im) in place. */
  forward(re: Float64Array, im: Float64Array): void {
    if (re.length < this.n || im.length < this.n) {
      throw new InvalidInputError(`FFT of length ${this.n} needs arrays of at least ${this.n} values, got ${re.length}/${im.length}`);
    }
    if (this.bluestein) { this.forwardBluestein(re, im); return; }
    let xr = re, xi = im, yr = this.wr, yi = this.wi;
    for (const st of this.stages) {
      switch (st.r) {
        case 4: this.radix4(st, xr, xi, yr, yi); break;
        case 2: this.radix2(st, xr, xi, yr, yi); break;
        case 3: this.radix3(st, xr, xi, yr, yi); break;
        default: this.radixGeneric(st, xr, xi, yr, yi);
      }
      const tr = xr; xr = yr; yr = tr;
      const ti = xi; xi = yi; yi = ti;
    }
    if (xr !== re) {
      re.set(xr.subarray(0, this.n));
      im.set(xi.subarray(0, this.n));
    }
  }

  /** Inverse DFT of (re, im) in place, scaled by 1/n. */
  inverse(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    for (let i = 0; i < n; i++) im[i] = -im[i];
    this.forward(re, im);
    const inv = 1 / n;
    for (let i = 0; i < n; i++) { re[i] *= inv; im[i] = -im[i] * inv; }
  }

  private radix2(st: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { m, s, twr, twi } = st;
    for (let p = 0; p < m; p++) {
      const wr = twr[p], wi = twi[p];
      const i0 = s * p, i1 = s * (p + m), o0 = s * 2 * p, o1 = o0 + s;
      for (let q = 0; q < s; q++) {
        const ar = xr[i0 + q], ai = xi[i0 + q], br = xr[i1 + q], bi = xi[i1 + q];
        yr[o0 + q] = ar + br; yi[o0 + q] = ai + bi;
        const dr = ar - br, di = ai - bi;
        yr[o1 + q] = dr * wr - di * wi; yi[o1 + q] = dr * wi + di * wr;
      }
    }
  }

  private radix4(st: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { m, s, twr, twi } = st;
    for (let p = 0; p < m; p++) {
      const w1r = twr[3 * p], w1i = twi[3 * p], w2r = twr[3 * p + 1], w2i = twi[3 * p + 1], w3r = twr[3 * p + 2], w3i = twi[3 * p + 2];
      const i0 = s * p, i1 = s * (p + m), i2 = s * (p + 2 * m), i3 = s * (p + 3 * m);
      const o0 = s * 4 * p, o1 = o0 + s, o2 = o1 + s, o3 = o2 + s;
      for (let q = 0; q < s; q++) {
        const a0r = xr[i0 + q], a0i = xi[i0 + q], a1r = xr[i1 + q], a1i = xi[i1 + q];
        const a2r = xr[i2 + q], a2i = xi[i2 + q], a3r = xr[i3 + q], a3i = xi[i3 + q];
        const t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
        const t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
        yr[o0 + q] = t0r + t2r; yi[o0 + q] = t0i + t2i;
        // A1 = t1 - i t3, A2 = t0 - t2, A3 = t1 + i t3, each times its twiddle
        const b1r = t1r + t3i, b1i = t1i - t3r;
        const b2r = t0r - t2r, b2i = t0i - t2i;
        const b3r = t1r - t3i, b3i = t1i + t3r;
        yr[o1 + q] = b1r * w1r - b1i * w1i; yi[o1 + q] = b1r * w1i + b1i * w1r;
        yr[o2 + q] = b2r * w2r - b2i * w2i; yi[o2 + q] = b2r * w2i + b2i * w2r;
        yr[o3 + q] = b3r * w3r - b3i * w3i; yi[o3 + q] = b3r * w3i + b3i * w3r;
      }
    }
  }

  private radix3(st: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { m, s, twr, twi } = st;
    const h = Math.sqrt(3) / 2;
    for (let p = 0; p < m; p++) {
      const w1r = twr[2 * p], w1i = twi[2 * p], w2r = twr[2 * p + 1], w2i = twi[2 * p + 1];
      const i0 = s * p, i1 = s * (p + m), i2 = s * (p + 2 * m);
      const o0 = s * 3 * p, o1 = o0 + s, o2 = o1 + s;
      for (let q = 0; q < s; q++) {
        const a0r = xr[i0 + q], a0i = xi[i0 + q];
        const tr = xr[i1 + q] + xr[i2 + q], ti = xi[i1 + q] + xi[i2 + q];
        const dr = xr[i1 + q] - xr[i2 + q], di = xi[i1 + q] - xi[i2 + q];
        yr[o0 + q] = a0r + tr; yi[o0 + q] = a0i + ti;
        const mr = a0r - 0.5 * tr, mi = a0i - 0.5 * ti;
        const b1r = mr + h * di, b1i = mi - h * dr;
        const b2r = mr - h * di, b2i = mi + h * dr;
        yr[o1 + q] = b1r * w1r - b1i * w1i; yi[o1 + q] = b1r * w1i + b1i * w1r;
        yr[o2 + q] = b2r * w2r - b2i * w2i; yi[o2 + q] = b2r * w2i + b2i * w2r;
      }
    }
  }

  private radixGeneric(st: Stage, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { r, m, s, twr, twi } = st;
    const { c, s: sn } = this.rootTables.get(r)!;
    const ar = this.scratchR, ai = this.scratchI, or = this.scratchOr, oi = this.scratchOi;
    const r1 = r - 1;
    for (let p = 0; p < m; p++) {
      for (let q = 0; q < s; q++) {
        for (let k = 0; k < r; k++) { const ix = q + s * (p + k * m); ar[k] = xr[ix]; ai[k] = xi[ix]; }
        for (let j = 0; j < r; j++) {
          let sr = 0, si = 0, idx = 0;
          for (let k = 0; k < r; k++) {
            // W_r^{jk} = cos(2 pi jk/r) - i sin(2 pi jk/r)
            const cr = c[idx], ci = -sn[idx];
            sr += ar[k] * cr - ai[k] * ci;
            si += ar[k] * ci + ai[k] * cr;
            idx += j; if (idx >= r) idx -= r;
          }
          or[j] = sr; oi[j] = si;
        }
        const ob = q + s * r * p;
        yr[ob] = or[0]; yi[ob] = oi[0];
        for (let j = 1; j < r; j++) {
          const wr = twr[p * r1 + j - 1], wi = twi[p * r1 + j - 1];
          yr[ob + s * j] = or[j] * wr - oi[j] * wi;
          yi[ob + s * j] = or[j] * wi + oi[j] * wr;
        }
      }
    }
  }

  private forwardBluestein(re: Float64Array, im: Float64Array): void {
    const b = this.bluestein!;
    const n = this.n;
    const { ar, ai, chirpR, chirpI, bR, bI, plan } = b;
    const M = ar.length;
    for (let k = 0; k < n; k++) {
      const xr = re[k], xi = im[k], cr = chirpR[k], ci = chirpI[k];
      ar[k] = xr * cr - xi * ci;
      ai[k] = xr * ci + xi * cr;
    }
    ar.fill(0, n); ai.fill(0, n);
    plan.forward(ar, ai);
    for (let k = 0; k < M; k++) {
      const xr = ar[k], xi = ai[k];
      ar[k] = xr * bR[k] - xi * bI[k];
      ai[k] = xr * bI[k] + xi * bR[k];
    }
    plan.inverse(ar, ai);
    for (let k = 0; k < n; k++) {
      const xr = ar[k], xi = ai[k], cr = chirpR[k], ci = chirpI[k];
      re[k] = xr * cr - xi * ci;
      im[k] = xr * ci + xi * cr;
    }
  }
}

/**
 * A real-input FFT plan: `forward` writes the n/2+1 (floor) non-negative-frequency bins.
 * Even lengths run a complex transform of n/2; odd lengths a complex transform of n.
 */
export class RealFftPlan {
  readonly n: number;
  /** Number of output bins, floor(n/2) + 1. */
  readonly bins: number;
  private readonly half: FftPlan;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;
  private readonly cosT: Float64Array;
  private readonly sinT: Float64Array;

  /** Builds the half-length complex plan and the split twiddles (prefer the cached {@link getRealFftPlan}). */
  constructor(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new InvalidInputError(`FFT length must be a positive integer, got ${n}`);
    this.n = n;
    this.bins = Math.floor(n / 2) + 1;
    const even = n % 2 === 0 && n >= 2;
    const len = even ? n / 2 : n;
    this.half = getFftPlan(len);
    this.zr = new Float64Array(len);
    this.zi = new Float64Array(len);
    if (even) {
      const h = n / 2;
      this.cosT = new Float64Array(h + 1);
      this.sinT = new Float64Array(h + 1);
      for (let k = 0; k <= h; k++) {
        const a = (-2 * Math.PI * k) / n;
        this.cosT[k] = Math.cos(a);
        this.sinT[k] = Math.sin(a);
      }
    } else {
      this.cosT = new Float64Array(0);
      this.sinT = new Float64Array(0);
    }
  }

  /** Transforms `input[offset .. offset+n)` into `outRe`/`outIm` (each at least `bins` long). */
  forward(input: ArrayLike<number>, outRe: Float64Array, outIm: Float64Array, offset = 0): void {
    const n = this.n;
    if (input.length < offset + n) throw new InvalidInputError(`rfft of length ${n} at offset ${offset} needs ${offset + n} input values, got ${input.length}`);
    if (outRe.length < this.bins || outIm.length < this.bins) throw new InvalidInputError(`rfft of length ${n} needs output arrays of ${this.bins} bins`);
    const zr = this.zr, zi = this.zi;
    if (n % 2 !== 0 || n < 2) {
      for (let i = 0; i < n; i++) { zr[i] = input[offset + i]; zi[i] = 0; }
      this.half.forward(zr, zi);
      for (let k = 0; k < this.bins; k++) { outRe[k] = zr[k]; outIm[k] = zi[k]; }
      return;
    }
    const h = n / 2;
    for (let i = 0; i < h; i++) { zr[i] = input[offset + 2 * i]; zi[i] = input[offset + 2 * i + 1]; }
    this.half.forward(zr, zi);
    const cosT = this.cosT, sinT = this.sinT;
    // k = 0 and k = h from Z[0]
    outRe[0] = zr[0] + zi[0]; outIm[0] = 0;
    outRe[h] = zr[0] - zi[0]; outIm[h] = 0;
    for (let k = 1; k < h; k++) {
      const ar = zr[k], ai = zi[k];
      const br = zr[h - k], bi = -zi[h - k]; // conj(Z[h-k])
      const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
      // O = (Zk - conj(Z[h-k])) / (2i)
      const or = 0.5 * (ai - bi), oi = -0.5 * (ar - br);
      const wr = cosT[k], wi = sinT[k];
      outRe[k] = er + or * wr - oi * wi;
      outIm[k] = ei + or * wi + oi * wr;
    }
  }
}

const complexPlans = new Map<number, FftPlan>();
const realPlans = new Map<number, RealFftPlan>();

/** The cached complex FFT plan for length n. */
export function getFftPlan(n: number): FftPlan {
  let p = complexPlans.get(n);
  if (!p) { p = new FftPlan(n); complexPlans.set(n, p); }
  return p;
}

/** The cached real-input FFT plan for length n. */
export function getRealFftPlan(n: number): RealFftPlan {
  let p = realPlans.get(n);
  if (!p) { p = new RealFftPlan(n); realPlans.set(n, p); }
  return p;
}

/** Complex forward FFT (allocating): returns new float64 re/im arrays of the input's length. */
export function fft(re: ArrayLike<number>, im?: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  if (im && im.length !== n) throw new InvalidInputError(`fft: re has ${n} values, im ${im.length}`);
  const r = Float64Array.from(re);
  const i = im ? Float64Array.from(im) : new Float64Array(n);
  getFftPlan(n).forward(r, i);
  return { re: r, im: i };
}

/** Complex inverse FFT scaled by 1/n (allocating). */
export function ifft(re: ArrayLike<number>, im: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  if (im.length !== n) throw new InvalidInputError(`ifft: re has ${n} values, im ${im.length}`);
  const r = Float64Array.from(re);
  const i = Float64Array.from(im);
  getFftPlan(n).inverse(r, i);
  return { re: r, im: i };
}

/** Real-input FFT (allocating): the floor(n/2)+1 non-negative-frequency bins, like numpy.fft.rfft. */
export function rfft(x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const plan = getRealFftPlan(x.length);
  const re = new Float64Array(plan.bins);
  const im = new Float64Array(plan.bins);
  plan.forward(x, re, im);
  return { re, im };
}

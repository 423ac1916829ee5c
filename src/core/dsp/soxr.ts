/**
 * libsoxr's constant-rate resampler at quality HQ (SOXR_HQ: 20 bits, linear phase, passband ~0.913 of the
 * lower Nyquist frequency), as librosa calls it (`res_type='soxr_hq'`, one process call over the whole input,
 * then a flush): a TypeScript port of the design, computed in float64.
 *
 * libsoxr splits a ratio into stages: optional half-band decimators (ratios >= 4), a "pre" FIR stage (x2 up,
 * or a plain low-pass at the input rate), a polyphase "arbitrary-ratio" FIR stage (exact phases for rational
 * ratios, interpolated coefficients otherwise), and an optional "post" FIR stage. Each stage's filter is a
 * Kaiser-windowed sinc designed from the attenuation budget. libsoxr runs the FIR stages as FFT overlap-save
 * blocks; every stage is linear and aligned to zero delay, so its output stream depends only on its input
 * stream, and we compute the same streams (direct convolution for short filters, FFT overlap-add for long
 * ones). Output sample k sits at input time k * inRate / outRate; the output has
 * floor(n * outRate / inRate + 0.5) samples (the flush stops there).
 *
 * Ported from libsoxr 0.1.3 (LGPL-2.1, Copyright (c) 2007-18 robs@users.sourceforge.net): the stage plan of
 * cr.c `_soxr_init`, the filter design of filter.c, the polyphase coefficient layout of cr.c, and the half-band
 * coefficient tables of half-coefs.h.
 */
import { InvalidInputError } from '../errors.ts';
import { getFftPlan, getRealFftPlan } from './fft.ts';

const MULT32 = 65536 * 65536;
const linearToDb = (x: number): number => Math.log10(x) * 20;

/** Modified Bessel function of the first kind, order 0 (power series; arguments here are < 40). */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function kaiserBeta(att: number, trBw: number): number {
  if (att >= 60) {
    const coefs = [
      [-6.784957e-10, 1.02856e-05, 0.1087556, -0.8988365 + 0.001],
      [-6.897885e-10, 1.027433e-05, 0.10876, -0.8994658 + 0.002],
      [-1.000683e-09, 1.030092e-05, 0.1087677, -0.9007898 + 0.003],
      [-3.654474e-10, 1.040631e-05, 0.1087085, -0.8977766 + 0.006],
      [8.106988e-09, 6.983091e-06, 0.1091387, -0.9172048 + 0.015],
      [9.519571e-09, 7.272678e-06, 0.1090068, -0.9140768 + 0.025],
      [-5.626821e-09, 1.342186e-05, 0.1083999, -0.9065452 + 0.05],
      [-9.965946e-08, 5.073548e-05, 0.1040967, -0.7672778 + 0.085],
      [1.604808e-07, -5.856462e-05, 0.1185998, -1.34824 + 0.1],
      [-1.511964e-07, 6.363034e-05, 0.1064627, -0.9876665 + 0.18],
    ];
    const realm = Math.log(trBw / 0.0005) / Math.log(2);
    const ri = Math.trunc(realm);
    const c0 = coefs[Math.min(Math.max(ri, 0), coefs.length - 1)];
    const c1 = coefs[Math.min(Math.max(1 + ri, 0), coefs.length - 1)];
    const b0 = ((c0[0] * att + c0[1]) * att + c0[2]) * att + c0[3];
    const b1 = ((c1[0] * att + c1[1]) * att + c1[2]) * att + c1[3];
    return b0 + (b1 - b0) * (realm - ri);
  }
  if (att > 50) return 0.1102 * (att - 8.7);
  if (att > 20.96) return 0.58417 * Math.pow(att - 20.96, 0.4) + 0.07886 * (att - 20.96);
  return 0;
}

/** Kaiser-windowed sinc low-pass of `numTaps` taps, cut-off Fc (1 = Nyquist), symmetric. */
function makeLpf(numTaps: number, fc: number, beta: number, rho: number, scale: number): Float64Array {
  const m = numTaps - 1;
  const h = new Float64Array(numTaps);
  const mult = scale / besselI0(beta);
  const mult1 = 1 / (0.5 * m + rho);
  for (let i = 0; i <= Math.trunc(m / 2); i++) {
    const z = i - 0.5 * m;
    const x = z * Math.PI;
    const y = z * mult1;
    let v = x !== 0 ? Math.sin(fc * x) / x : fc;
    v *= besselI0(beta * Math.sqrt(1 - y * y)) * mult;
    h[i] = v;
    h[m - i] = v;
  }
  return h;
}

/**
 * filter.c lsx_design_lpf: a low-pass from the passband end Fp, stopband start Fs, Nyquist Fn and attenuation.
 * k > 0: number of phases (a polyphase prototype); k < 0: numTaps = 1 (mod -k). numTaps 0: estimated.
 * With fn < 0 only the tap count is computed.
 */
function designLpf(
  fp: number, fs: number, fn: number, att: number, numTaps: number, k: number, beta: number,
): { taps: number; h?: Float64Array } {
  const n = numTaps;
  const phases = Math.max(k, 1);
  const modulo = Math.max(-k, 1);
  const rho = phases === 1 ? 0.5 : att < 120 ? 0.63 : 0.75;
  fp /= Math.abs(fn);
  fs /= Math.abs(fn);
  let trBw = 0.5 * (fs - fp);
  trBw /= phases;
  fs /= phases;
  trBw = Math.min(trBw, 0.5 * fs);
  const fc = fs - trBw;
  // lsx_kaiser_params
  if (beta < 0) beta = kaiserBeta(att, (trBw * 0.5) / fc);
  const a = att < 60 ? (att - 7.95) / (2.285 * Math.PI * 2)
    : ((0.0007528358 - 1.577737e-05 * beta) * beta + 0.6248022) * beta + 0.06186902;
  let taps = numTaps === 0 ? Math.ceil(a / trBw + 1) : numTaps;
  if (!n) {
    taps = phases > 1 ? Math.trunc(taps / phases) * phases + phases - 1
      : Math.trunc((taps + modulo - 2) / modulo) * modulo + 1;
  }
  return fn < 0 ? { taps } : { taps, h: makeLpf(taps, fc, beta, rho, phases) };
}

const sinePhi = (x: number): number => ((2.0517e-07 * x - 1.1303e-04) * x + 0.023154) * x + 0.55924;
const sinePow = (x: number): number => Math.log(0.5) / Math.log(Math.sin(x * 0.5));

/** filter.c lsx_inv_f_resp: where a filter of attenuation `a` has dropped by `drop` dB (0..1 of Nyquist). */
function invFResp(drop: number, a: number): number {
  let x = sinePhi(a);
  drop = Math.exp(drop * (Math.LN10 * 0.05));
  const s = drop > 0.5 ? 1 - drop : drop;
  x = Math.asin(Math.pow(s, 1 / sinePow(x))) / x;
  return drop > 0.5 ? x : 1 - x;
}
const to3dB = (a: number): number => 1 - invFResp(-3, a);

/** Half-band decimator coefficients (half-coefs.h, the float32 SIMD engine's set: 8 and 9 taps). */
const HALF_FIRS: { coefs: number[]; att: number }[] = [
  {
    coefs: [3.1154652365332069e-01, -8.7344917685739543e-02, 3.6814458353637280e-02, -1.5189204581464479e-02,
      5.4540855610738801e-03, -1.5643862626630416e-03, 3.1816575906323303e-04, -3.4799449225005688e-05],
    att: Math.fround(136.51),
  },
  {
    coefs: [3.1227034755311189e-01, -8.9221517147969526e-02, 3.9139704015071934e-02, -1.7250558515852023e-02,
      6.8589440230476112e-03, -2.3045049636430419e-03, 6.0963740543348963e-04, -1.1323803957431231e-04,
      1.1197769991000046e-05],
    att: Math.fround(152.32),
  },
];

/**
 * Polyphase FIR families (cr-core.c poly_firs, the float32 SIMD engine): per entry the phase-bit scalars of
 * the coefficient-interpolation orders [0 (exact phases), first, second] and those orders.
 */
const POLY_FIRS: { scalar: number; order: number }[][] = [
  [{ scalar: 0, order: 0 }, { scalar: 7.2, order: 1 }, { scalar: 5.0, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 9.4, order: 1 }, { scalar: 6.7, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 12.4, order: 1 }, { scalar: 7.8, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 13.6, order: 1 }, { scalar: 9.3, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 10.5, order: 2 }, { scalar: 8.4, order: 3 }],
  [{ scalar: 0, order: 0 }, { scalar: 11.85, order: 2 }, { scalar: 9.0, order: 3 }],
  [{ scalar: 0, order: 0 }, { scalar: 8.0, order: 1 }, { scalar: 5.3, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 8.6, order: 1 }, { scalar: 5.7, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 10.6, order: 1 }, { scalar: 6.75, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 12.6, order: 1 }, { scalar: 8.6, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 9.6, order: 2 }, { scalar: 7.6, order: 3 }],
  [{ scalar: 0, order: 0 }, { scalar: 11.4, order: 2 }, { scalar: 8.65, order: 3 }],
  [{ scalar: 0, order: 0 }],
  [{ scalar: 0, order: 0 }, { scalar: 8, order: 1 }, { scalar: 6, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 9, order: 1 }, { scalar: 6, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 11, order: 1 }, { scalar: 7, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 13, order: 1 }, { scalar: 8, order: 2 }],
  [{ scalar: 0, order: 0 }, { scalar: 10, order: 2 }, { scalar: 8, order: 3 }],
  [{ scalar: 0, order: 0 }, { scalar: 12, order: 2 }, { scalar: 9, order: 3 }],
].map((e) => e.map((f) => ({ scalar: Math.fround(f.scalar), order: f.order })));

/** A half-band decimate-by-2 stage. */
export interface HalfStage { kind: 'half'; coefs: number[] }
/** An FFT-block FIR stage: zero-stuff by L, filter with h (gain L folded in), keep every M-th sample. */
export interface FirStage { kind: 'fir'; L: number; M: number; h: Float64Array; postPeak: number }
/**
 * The polyphase stage. `g[q]`, q = tap * phases + phase, is the prototype; with `order` > 0 coefficients are
 * interpolated between phases (Newton form from g[q-1..q+2]). Rational: output k at at0 + k*step in units of
 * 1/L input samples. Otherwise: a 32.32 fixed-point clock.
 */
export interface PolyStage {
  kind: 'poly'; numCoefs: number; phases: number; phaseBits: number; order: number; g: Float64Array;
  rational: boolean; L: number; at0: number; step: number;
}
export type SoxrStage = HalfStage | FirStage | PolyStage;

/** The stages libsoxr HQ uses for a ratio, as `_soxr_init` plans them. */
export interface SoxrPlan { ioRatio: number; stages: SoxrStage[] }

/** soxr_quality_spec(SOXR_HQ, 0) and soxr_runtime_spec(1) defaults. */
const HQ_BITS = 20;
const HQ_PASSBAND_END = 1 - 0.05 / to3dB(HQ_BITS * linearToDb(2));
const COEF_SIZE_KBYTES = 400;
const SIZEOF_REAL = 4; // the float32 engine (precision <= 20 bits)

function firStage(fp: number, fs: number, fn: number, att: number, L: number, M: number, multiplier: number): FirStage {
  const k = Number.isInteger(Math.log2(L)) && L >= 2 && fn === L ? L << 1 : 4;
  const { taps, h } = designLpf(fp, fs, fn, att, 0, -k, -1);
  const scaled = new Float64Array(taps);
  for (let i = 0; i < taps; i++) scaled[i] = h![i] * L * multiplier;
  return { kind: 'fir', L, M, h: scaled, postPeak: Math.trunc(taps / 2) };
}

/** Plans the stages of libsoxr HQ for inRate/outRate (cr.c `_soxr_init`, linear phase, rolloff small). */
export function soxrPlan(inRate: number, outRate: number): SoxrPlan {
  const ioRatio = inRate / outRate;
  const tolerance = 1 + 1e-5;
  const bits = HQ_BITS;
  const fp0 = HQ_PASSBAND_END;
  const fs0 = 1;
  const tbw0 = fs0 - fp0;
  const tbwTighten = 1;
  const tighten = (x: number): number => fs0 - (fs0 - x) * tbwTighten;
  let arbM = ioRatio;
  let fp1 = fp0;
  let fs1 = fs0;
  const bits1 = Math.min(bits, 33);
  let att = (bits1 + 1) * linearToDb(2);
  let attArb = att;
  let preL = 1, preM = 1, shr = 0, arbL = 1, postL = 1, postM = 1;
  let upsample = false, rational = false;
  const iOpt = true;
  let mode = Math.trunc((Math.ceil(bits1) - 6) / 4);
  const interpolator = -1;
  if (ioRatio < 1 && fs0 - 1 > 1 - fp0 / tolerance) throw new Error('soxr: imaging greater than rolloff');
  if (0.002 / tolerance > tbw0 || tbw0 > 0.5 * tolerance) throw new Error('soxr: bad transition band');

  let n = 0;
  while (!n++) {
    const maxL = mode ? 2048 : Math.ceil((COEF_SIZE_KBYTES * 1000) / (42 * SIZEOF_REAL));
    let epsilon = 0;
    upsample = arbM < 1;
    shr = 0;
    for (let i = Math.trunc(0.5 * arbM); (i >>= 1); ) { arbM *= 0.5; ++shr; }
    preM = upsample || (arbM > 1.5 && arbM < 2) ? 1 : 0;
    postM = 1 + (arbM > 1 && preM ? 1 : 0);
    arbM /= postM;
    preL = 1 + (!preM && arbM < 2 ? 1 : 0) + (upsample && mode ? 1 : 0);
    arbM *= preL;
    const frac = arbM - Math.trunc(arbM);
    if (frac !== 0) epsilon = Math.abs(Math.floor(frac * MULT32 + 0.5) / (frac * MULT32) - 1);
    rational = frac === 0;
    for (let i = 1; i <= maxL && !rational; ++i) {
      const d = frac * i;
      const tr = Math.trunc(d + 0.5);
      if ((rational = Math.abs(tr / d - 1) <= epsilon)) {
        if (tr === i) {
          arbM = Math.ceil(arbM);
          const x = arbM > 3 ? 1 : 0;
          shr += x;
          arbM /= 1 + x;
        } else {
          arbM = i * Math.trunc(arbM) + tr;
          arbL = i;
        }
      }
    }
    let L = preL * arbL;
    let M = Math.trunc(arbM * postM);
    const x = (L | M) & 1;
    if (!x) { L >>= 1; M >>= 1; }
    const d = (preL * arbL) / arbM;
    if (iOpt && postL === 1 && d > 4 && d !== 5) {
      postL = 4;
      for (let i = Math.trunc(d / 16); (i >>= 1) && postL < 256; ) postL <<= 1;
      arbM = (arbM * postL) / arbL / preL;
      arbL = 1;
      n = 0;
    } else if (rational && (Math.max(L, M) < 3 + 2 * (iOpt ? 1 : 0) || L * M < 6 * (iOpt ? 1 : 0))) {
      preL = L; preM = M; arbM = 1; arbL = 1; postM = 1;
    }
    if (!mode && (!rational || !n)) { ++mode; n = 0; }
  }
  const havePre = preM * preL !== 1;
  const haveArb = arbM * arbL !== 1;
  const havePost = postM * postL !== 1;
  const numStages = shr + (havePre ? 1 : 0) + (haveArb ? 1 : 0) + (havePost ? 1 : 0);
  const alpha = postM / (ioRatio * postL);
  if (numStages > 1) {
    let nb = numStages;
    if (haveArb) { att += linearToDb(2); attArb = att; --nb; }
    att += linearToDb(nb);
  }
  const stages: SoxrStage[] = [];
  let hi = 0;
  while (hi + 1 < HALF_FIRS.length && att > HALF_FIRS[hi].att) hi++;
  for (let i = 0; i < shr; i++) stages.push({ kind: 'half', coefs: HALF_FIRS[hi].coefs });

  let multiplier = 1;
  if (havePre) {
    const fn1 = preM ? Math.max(preL, preM) : arbM / arbL;
    stages.push(firStage(tighten(fp1), fs1, fn1, att, preL, Math.max(preM, 1), multiplier));
    multiplier = 1;
    fp1 /= fn1;
    fs1 /= fn1;
  }
  if (haveArb) {
    const rolloffSmall = Math.fround(-0.01);
    const family = POLY_FIRS[6 * ((upsample ? 1 : 0) + (preM ? 1 : 0)) + mode - (upsample ? 0 : 1)];
    let numCoefs = family[0].scalar;
    const mult = upsample ? 1 : arbM / arbL;
    let fp = fp1, fs: number, fn: number;
    if (!upsample && preM) { fn = 2 * mult; fs = 3 + Math.abs(fs1 - 1); } else { fn = 1; fs = 2 - (mode ? fp1 + (fs1 - fp1) * 0.7 : fs1); }
    if (mode) fp = fs - (fs - fp) / (1 - invFResp(rolloffSmall, attArb));
    let i = (interpolator < 0 ? (rational ? 0 : 1) : Math.max(interpolator, rational ? 0 : 1)) - 1;
    let phaseBits = 0, phases = 0, order = 0, at = 0, coefsSize = 0;
    let f1: { scalar: number; order: number };
    do {
      f1 = family[++i];
      if (i) { arbM /= arbL; arbL = 1; rational = false; }
      phaseBits = Math.ceil(f1.scalar - Math.log(mult) / Math.log(2));
      phases = !rational ? 1 << phaseBits : arbL;
      if (family[0].scalar === 0) {
        const phases0 = Math.max(phases, 19);
        const n0 = designLpf(fp, fs, -fn, attArb, 0, phases0, -1).taps;
        numCoefs = Math.trunc(n0 / phases0) + 1;
        numCoefs += numCoefs & (preM ? 0 : 1);
      }
      if ((numCoefs & 1) && rational && (arbL & 1)) { phases <<= 1; arbL <<= 1; arbM *= 2; }
      at = arbL * (0.5 * (numCoefs & 1));
      order = i + (i && mode > 4 ? 1 : 0);
      const numCoefs4 = (numCoefs + 3) & ~3;
      coefsSize = numCoefs4 * phases * (order + 1) * SIZEOF_REAL;
    } while (interpolator < 0 && i < 2 && family[i + 1] && coefsSize / 1000 > COEF_SIZE_KBYTES);
    const { h } = designLpf(fp, fs, fn, attArb, numCoefs * phases - 1, phases, -1);
    // cr.c prepare_poly_fir_coefs reads coefs[q - 1] for flat index q = tap * phases + phase (q = 0 -> 0).
    const g = new Float64Array(numCoefs * phases + 2);
    for (let q = 1; q < numCoefs * phases; q++) g[q] = h![q - 1] * multiplier;
    multiplier = 1;
    const step = rational ? Math.trunc(arbM) : Math.trunc(arbM * MULT32 + 0.5);
    const at0 = rational ? Math.trunc(at) : Math.trunc(at * MULT32 + 0.5);
    stages.push({ kind: 'poly', numCoefs, phases, phaseBits, order, g, rational, L: arbL, at0, step });
  }
  if (havePost) {
    stages.push(firStage(tighten(fp0 / (upsample ? alpha : 1)), upsample ? Math.max(2 - fs0 / alpha, 1) : fs0,
      Math.max(postL, postM), att, postL, postM, multiplier));
  }
  return { ioRatio, stages };
}

/** Input samples (including the stage's zero preload) a stage needs to produce `count` outputs. */
function stageInputNeed(s: SoxrStage, count: number): { need: number; preload: number } {
  if (count <= 0) return { need: 0, preload: 0 };
  switch (s.kind) {
    case 'half': {
      const pre = 2 * s.coefs.length;
      return { need: 2 * (count - 1) + 2 * s.coefs.length + 1 + pre, preload: pre };
    }
    case 'fir': {
      const at0 = s.postPeak % s.L;
      const lastU = (count - 1) * s.M + s.h.length - 1;
      return { need: Math.floor((lastU - at0) / s.L) + 1, preload: Math.trunc(s.postPeak / s.L) };
    }
    case 'poly': {
      const lastAt = s.at0 + (count - 1) * s.step;
      const lastInt = s.rational ? Math.floor(lastAt / s.L) : Math.floor(lastAt / MULT32);
      return { need: lastInt + s.numCoefs, preload: (s.numCoefs - 1) >> 1 };
    }
  }
}

/** Runs one stage over its whole (zero-preloaded) input stream `xf`, producing `count` outputs. */
function runStage(s: SoxrStage, xf: Float64Array, count: number): Float64Array {
  const y = new Float64Array(count);
  if (s.kind === 'half') {
    const c = s.coefs, pre = 2 * c.length;
    for (let k = 0; k < count; k++) {
      const center = pre + 2 * k;
      let sum = xf[center] * 0.5;
      for (let j = 0; j < c.length; j++) sum += (xf[center - (2 * j + 1)] + xf[center + 2 * j + 1]) * c[j];
      y[k] = sum;
    }
  } else if (s.kind === 'fir') {
    firConvolve(s, xf, y);
  } else if (s.rational) {
    const { g, phases, numCoefs: nc, L, at0, step } = s;
    for (let k = 0; k < count; k++) {
      const at = at0 + k * step;
      const div = Math.floor(at / L), rem = at - div * L;
      let sum = 0;
      // tap slot jj multiplies xf[div + jj] with prototype index (nc - 1 - jj) * phases + rem
      for (let jj = 0; jj < nc; jj++) sum += g[(nc - 1 - jj) * phases + rem] * xf[div + jj];
      y[k] = sum;
    }
  } else {
    const { g, phases, numCoefs: nc, phaseBits, order, at0, step } = s;
    const fracScale = 2 ** phaseBits;
    for (let k = 0; k < count; k++) {
      const at = at0 + k * step;
      const integer = Math.floor(at / MULT32);
      const frac = at - integer * MULT32;
      const phase = Math.floor(frac / 2 ** (32 - phaseBits));
      const x = ((frac * fracScale) % MULT32) / MULT32;
      let sum = 0;
      for (let jj = 0; jj < nc; jj++) {
        const q = (nc - 1 - jj) * phases + phase;
        const f0 = g[q], f1 = g[q + 1], f2 = g[q + 2], fm1 = q > 0 ? g[q - 1] : 0;
        let coef: number;
        if (order === 1) coef = f0 + (f1 - f0) * x;
        else if (order === 2) {
          const c = 0.5 * (f2 + f0) - f1;
          const b = f1 - c - f0;
          coef = (c * x + b) * x + f0;
        } else {
          const c = 0.5 * (f1 + fm1) - f0;
          const d = (1 / 6) * (f2 - f1 + fm1 - f0 - 4 * c);
          const b = f1 - f0 - d - c;
          coef = ((d * x + c) * x + b) * x + f0;
        }
        sum += coef * xf[integer + jj];
      }
      y[k] = sum;
    }
  }
  return y;
}

/**
 * y[k] = sum_i h[i] u[kM + i], where u is xf zero-stuffed by L with xf[j] at position at0 + jL. Short filters
 * convolve directly; long ones (the low-pass pre-filters of large ratios) by FFT overlap-add on the input rate.
 */
function firConvolve(s: FirStage, xf: Float64Array, y: Float64Array): void {
  const { L, M, h } = s;
  const taps = h.length;
  const at0 = s.postPeak % L;
  const count = y.length;
  if (taps > 64 && count * M > 4 * taps) {
    let u = xf;
    if (L > 1) { // zero-stuffed stream, xf[j] at at0 + jL
      u = new Float64Array(at0 + xf.length * L);
      for (let j = 0; j < xf.length; j++) u[at0 + j * L] = xf[j];
    }
    firConvolveFft(h, u, y, M);
    return;
  }
  for (let k = 0; k < count; k++) {
    const n = k * M;
    // j with n <= at0 + jL <= n + taps - 1
    const j0 = Math.max(0, Math.ceil((n - at0) / L));
    let sum = 0;
    for (let j = j0, t = at0 + j0 * L - n; t < taps; j++, t += L) sum += h[t] * xf[j];
    y[k] = sum;
  }
}

/** firConvolve through FFT blocks on the (zero-stuffed) stream u: correlation of u with h, every M-th sample kept. */
function firConvolveFft(h: Float64Array, xf: Float64Array, y: Float64Array, M: number): void {
  const taps = h.length;
  let nfft = 1;
  while (nfft < 4 * taps) nfft <<= 1;
  const block = nfft - taps + 1;
  const plan = getRealFftPlan(nfft);
  const bins = plan.bins;
  // spectrum of the reversed filter: correlation y[n] = sum_i h[i] x[n+i] = (x * rev(h))[n + taps - 1]
  const hr = new Float64Array(nfft);
  for (let i = 0; i < taps; i++) hr[i] = h[taps - 1 - i];
  const Hr = new Float64Array(bins), Hi = new Float64Array(bins);
  plan.forward(hr, Hr, Hi);
  const inv = getRealFftPlan(nfft);
  const buf = new Float64Array(nfft);
  const Xr = new Float64Array(bins), Xi = new Float64Array(bins);
  const full = new Float64Array(nfft);
  const totalN = (y.length - 1) * M + 1; // correlation outputs needed
  // overlap-save: block b computes correlation outputs n in [b*block, (b+1)*block) from x[n .. n + block + taps - 2]
  for (let start = 0; start < totalN; start += block) {
    buf.fill(0);
    const end = Math.min(xf.length, start + nfft);
    for (let i = start; i < end; i++) buf[i - start] = xf[i];
    plan.forward(buf, Xr, Xi);
    for (let b = 0; b < bins; b++) {
      const r = Xr[b] * Hr[b] - Xi[b] * Hi[b];
      const im = Xr[b] * Hi[b] + Xi[b] * Hr[b];
      Xr[b] = r; Xi[b] = im;
    }
    inverseReal(inv.n, Xr, Xi, full);
    // linear convolution (x_block * rev h)[m] is valid for m in [taps - 1, nfft); correlation n = start + m - (taps - 1)
    for (let m = taps - 1; m < nfft; m++) {
      const nn = start + m - (taps - 1);
      if (nn >= totalN) break;
      if (nn % M === 0) y[nn / M] = full[m];
    }
  }
}

/** Inverse real FFT (1/n scaled) from the n/2+1 bins, through the complex plan of the module. */
function inverseReal(n: number, re: Float64Array, im: Float64Array, out: Float64Array): void {
  const cr = new Float64Array(n), ci = new Float64Array(n);
  const bins = (n >> 1) + 1;
  for (let k = 0; k < bins; k++) { cr[k] = re[k]; ci[k] = im[k]; }
  for (let k = bins; k < n; k++) { cr[k] = re[n - k]; ci[k] = -im[n - k]; }
  getFftPlan(n).inverse(cr, ci);
  for (let i = 0; i < n; i++) out[i] = cr[i];
}


/** Output length of {@link resampleSoxr}: floor(n * toRate / fromRate + 0.5), as libsoxr's flush ends it. */
export function soxrOutputLength(n: number, fromRate: number, toRate: number): number {
  return Math.trunc(n / (fromRate / toRate) + 0.5);
}

const planCache = new Map<string, SoxrPlan>();

/**
 * Resamples mono `samples` from `fromRate` to `toRate` as libsoxr HQ does for librosa (`librosa.resample`,
 * `librosa.load(sr=...)`): same filters, same alignment, same length.
 */
export function resampleSoxr(samples: ArrayLike<number>, fromRate: number, toRate: number): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0) || !Number.isFinite(fromRate) || !Number.isFinite(toRate)) {
    throw new InvalidInputError(`resampleSoxr: rates must be positive and finite, got ${fromRate} -> ${toRate}`);
  }
  const outLen = soxrOutputLength(samples.length, fromRate, toRate);
  if (fromRate === toRate) return Float32Array.from(samples);
  const key = `${fromRate}/${toRate}`;
  let plan = planCache.get(key);
  if (!plan) { plan = soxrPlan(fromRate, toRate); planCache.set(key, plan); }
  // backwards: how many outputs each stage must produce
  const counts: number[] = new Array(plan.stages.length + 1);
  const needs: { need: number; preload: number }[] = [];
  counts[plan.stages.length] = outLen;
  for (let i = plan.stages.length - 1; i >= 0; i--) {
    const nd = stageInputNeed(plan.stages[i], counts[i + 1]);
    needs[i] = nd;
    counts[i] = Math.max(0, nd.need - nd.preload);
  }
  let stream: Float64Array = Float64Array.from(samples);
  for (let i = 0; i < plan.stages.length; i++) {
    const { need, preload } = needs[i];
    const xf = new Float64Array(Math.max(need, preload) + 4);
    xf.set(stream.subarray(0, Math.max(0, Math.min(stream.length, xf.length - preload))), preload);
    stream = runStage(plan.stages[i], xf, counts[i + 1]);
  }
  const out = new Float32Array(outLen);
  for (let i = 0; i < outLen; i++) out[i] = stream[i];
  return out;
}

/** How far (in input samples, each side) an output sample of the HQ resampler reaches into its input. */
export function soxrReach(fromRate: number, toRate: number): number {
  const plan = soxrPlan(fromRate, toRate);
  let rate = 1; // this stage's input rate / the original input rate
  let reach = 0;
  for (const s of plan.stages) {
    if (s.kind === 'half') { reach += (2 * s.coefs.length) / rate; rate /= 2; }
    else if (s.kind === 'fir') { reach += s.h.length / 2 / s.L / rate; rate *= s.L / s.M; }
    else {
      reach += (s.numCoefs / 2 + 1) / rate;
      rate *= s.rational ? s.L / s.step : MULT32 / s.step;
    }
  }
  return Math.ceil(reach) + 2;
}

function gcdInt(a: number, b: number): number {
  while (b) { const t = a % b; a = b; b = t; }
  return a;
}

/**
 * libsoxr HQ over a stream that arrives in pieces (integer rates): the same output as one call over the whole
 * stream, each sample emitted once the input `reach` samples past it has arrived (that is its latency).
 */
export class StreamingSoxr {
  private history = new Float32Array(0);
  /** Global index of history[0] (always a multiple of the input period, so outputs stay on the global grid). */
  private historyStart = 0;
  private received = 0;
  private emitted = 0;
  private readonly period: number;
  readonly reach: number;

  constructor(readonly fromRate: number, readonly toRate: number) {
    if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
      throw new InvalidInputError(`StreamingSoxr: rates must be positive integers, got ${fromRate} -> ${toRate}`);
    }
    this.period = fromRate / gcdInt(fromRate, toRate);
    this.reach = soxrReach(fromRate, toRate);
  }

  /** Output samples for the new input (possibly none yet); `final` flushes the tail as the one-call resampler would. */
  push(input: Float32Array, final = false): Float32Array {
    if (this.fromRate === this.toRate) return input.slice();
    const h = new Float32Array(this.history.length + input.length);
    h.set(this.history);
    h.set(input, this.history.length);
    this.history = h;
    this.received += input.length;
    const ratio = this.toRate / this.fromRate;
    const limit = final ? Math.trunc(this.received * ratio + 0.5) : Math.max(this.emitted, Math.floor((this.received - this.reach) * ratio));
    if (limit <= this.emitted) return new Float32Array(0);
    // resample the kept history; its output j is global output historyStart * ratio + j
    const y = resampleSoxr(this.history, this.fromRate, this.toRate);
    const base = Math.round(this.historyStart * ratio);
    const out = new Float32Array(limit - this.emitted);
    for (let i = 0; i < out.length; i++) out[i] = y[this.emitted + i - base] ?? 0;
    this.emitted = limit;
    // keep what the next outputs still need: from reach before the next output time, on the period grid
    const need = Math.floor(this.emitted / ratio) - this.reach;
    const drop = Math.max(0, Math.floor((need - this.historyStart) / this.period) * this.period);
    if (drop > 0) { this.history = this.history.slice(drop); this.historyStart += drop; }
    return out;
  }
}

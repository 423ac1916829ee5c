/**
 * Deterministic test signals, shared by the tests and by test/fixtures/audio/make-fixtures.ts
 * (which encoded the committed codec fixtures from exactly these samples).
 */

/** int16 samples of amp * sin(2 pi f n / sr), amp in [0, 1) relative to full scale 32768. */
export function sineInt16(freq: number, amp: number, sampleRate: number, frames: number): Int16Array {
  const out = new Int16Array(frames);
  for (let n = 0; n < frames; n++) {
    out[n] = Math.max(-32768, Math.min(32767, Math.round(amp * 32768 * Math.sin((2 * Math.PI * freq * n) / sampleRate))));
  }
  return out;
}

/** The 24-bit FLAC fixture: the int24 extremes, then a 440 Hz sine at amplitude 0.5, 400 samples at 8 kHz. */
export function int24Fixture(): Int32Array {
  const out = new Int32Array(400);
  out.set([0, 1, -1, 8388607, -8388608, 1234567, -1234567]);
  for (let n = 7; n < out.length; n++) out[n] = Math.round(0.5 * 8388608 * Math.sin((2 * Math.PI * 440 * n) / 8000));
  return out;
}

/** int16 -> float the way the readers scale it. */
export function int16ToFloat(x: Int16Array): Float32Array {
  return Float32Array.from(x, (v) => v / 32768);
}

/** Channel c of every fixture: a (440 * (c + 1)) Hz sine at amplitude 0.5 / (c + 1), 0.5 s long. */
export function fixtureChannel(c: number, sampleRate: number): Int16Array {
  return sineInt16(440 * (c + 1), 0.5 / (c + 1), sampleRate, sampleRate / 2);
}

/**
 * Frequency (Hz) of the strongest DFT bin between fLo and fHi, over a Hann-windowed stretch of at most
 * 4096 samples from the middle of `x`, refined by Gaussian (log-parabolic) interpolation between bins.
 */
export function dominantFrequency(x: Float32Array, sampleRate: number, fLo = 50, fHi = 2000): number {
  const n = Math.min(4096, x.length);
  const seg = x.subarray((x.length - n) >> 1, ((x.length - n) >> 1) + n);
  const w = Float64Array.from({ length: n }, (_, i) => (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n)) * seg[i]);
  const mag = (k: number) => {
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      const a = (2 * Math.PI * k * i) / n;
      re += w[i] * Math.cos(a);
      im -= w[i] * Math.sin(a);
    }
    return Math.hypot(re, im) + 1e-30;
  };
  const kLo = Math.max(1, Math.floor((fLo * n) / sampleRate));
  const kHi = Math.min((n >> 1) - 1, Math.ceil((fHi * n) / sampleRate));
  let best = kLo;
  let bestMag = -1;
  for (let k = kLo; k <= kHi; k++) {
    const m = mag(k);
    if (m > bestMag) { bestMag = m; best = k; }
  }
  const [l, c, r] = [mag(best - 1), bestMag, mag(best + 1)].map(Math.log);
  const denom = l - 2 * c + r;
  const shift = denom === 0 ? 0 : (0.5 * (l - r)) / denom;
  return ((best + shift) * sampleRate) / n;
}

/**
 * Signal-to-noise ratio (dB) of `x` against `ref` at the best integer lag in [lagLo, lagHi]
 * (x[i + lag] ~ ref[i]); samples of `ref` with no partner in `x` count as noise.
 */
export function alignedSnr(x: Float32Array, ref: Float32Array, lagLo: number, lagHi: number): { snr: number; lag: number } {
  let bestLag = lagLo;
  let bestDot = -Infinity;
  for (let lag = lagLo; lag <= lagHi; lag++) {
    let dot = 0;
    for (let i = Math.max(0, -lag); i < ref.length && i + lag < x.length; i++) dot += ref[i] * x[i + lag];
    if (dot > bestDot) { bestDot = dot; bestLag = lag; }
  }
  let sig = 0;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    const j = i + bestLag;
    const d = (j >= 0 && j < x.length ? x[j] : 0) - ref[i];
    sig += ref[i] * ref[i];
    err += d * d;
  }
  return { snr: 10 * Math.log10(sig / Math.max(err, 1e-30)), lag: bestLag };
}

/** Root mean square. */
export function rms(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, x.length));
}

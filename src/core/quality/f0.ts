/**
 * A YIN fundamental-frequency estimator (de Cheveigné & Kawahara 2002) for quality comparisons: the
 * difference function, its cumulative-mean normalisation, the absolute threshold with a walk to the
 * local minimum, and parabolic interpolation of the raw difference around the chosen lag.
 *
 * Frame t is centred on sample t * hop; frames whose energy is below an absolute floor, or far below
 * the loudest frame, are unvoiced (F0 0) without looking for a period.
 */
import { InvalidInputError } from '../errors.ts';

export interface F0Options {
  /** Sample rate of the input (default 16000). */
  sampleRate?: number;
  /** Frame hop in ms (default 10). */
  hopMs?: number;
  /** Lowest and highest F0 searched, Hz (default 50 and 1100). */
  fmin?: number;
  fmax?: number;
  /** Integration window in ms; raised to one period of fmin when shorter (default 25). */
  windowMs?: number;
  /** YIN absolute threshold on the normalised difference (default 0.15). */
  threshold?: number;
  /** Frames with RMS below this are unvoiced (default 1e-4, about -80 dBFS). */
  minRms?: number;
  /** Frames more than this many dB below the loudest frame are unvoiced (default 50). */
  silenceDb?: number;
}

export interface F0Track {
  /** F0 per frame in Hz, 0 where unvoiced. */
  f0: Float64Array;
  /** 1 - the normalised difference at the chosen lag (1 = perfectly periodic), 0 where silent. */
  periodicity: Float64Array;
  /** Seconds between frames. */
  hopSeconds: number;
}

export const F0_DEFAULTS = {
  sampleRate: 16000, hopMs: 10, fmin: 50, fmax: 1100, windowMs: 25, threshold: 0.15, minRms: 1e-4, silenceDb: 50,
} as const;

/** Estimates F0 with YIN. Frames: floor(samples / hop) + 1, frame t centred on sample t * hop. */
export function estimateF0(wave: Float32Array | Float64Array, options: F0Options = {}): F0Track {
  const o = { ...F0_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<F0Options>;
  const sr = o.sampleRate;
  if (!(sr > 0) || !(o.hopMs > 0) || !(o.fmin > 0) || !(o.fmax > o.fmin) || o.fmax >= sr / 2) {
    throw new InvalidInputError(`F0 estimator: need sampleRate > 0, hopMs > 0 and 0 < fmin < fmax < sampleRate/2 (got ${sr}, ${o.hopMs}, ${o.fmin}, ${o.fmax})`);
  }
  const hop = Math.max(1, Math.round((o.hopMs * sr) / 1000));
  const tauMin = Math.max(2, Math.floor(sr / o.fmax));
  // One lag past the longest period so the parabola around it has a right neighbour.
  const tauMax = Math.ceil(sr / o.fmin) + 1;
  const W = Math.max(Math.round((o.windowMs * sr) / 1000), tauMax);
  const frames = Math.floor(wave.length / hop) + 1;
  const f0 = new Float64Array(frames);
  const periodicity = new Float64Array(frames);
  const span = W + tauMax;
  const seg = new Float64Array(span);
  const d = new Float64Array(tauMax + 1);
  const norm = new Float64Array(tauMax + 1);
  const energy = new Float64Array(frames);

  const fill = (t: number) => {
    const start = t * hop - (W >> 1);
    for (let i = 0; i < span; i++) {
      const k = start + i;
      seg[i] = k >= 0 && k < wave.length ? wave[k] : 0;
    }
  };
  let loudest = 0;
  for (let t = 0; t < frames; t++) {
    fill(t);
    let e = 0;
    for (let j = 0; j < W; j++) e += seg[j] * seg[j];
    energy[t] = e / W;
    if (energy[t] > loudest) loudest = energy[t];
  }
  const floor = Math.max(o.minRms * o.minRms, loudest * 10 ** (-o.silenceDb / 10));

  for (let t = 0; t < frames; t++) {
    if (!(energy[t] >= floor) || energy[t] === 0) continue;
    fill(t);
    // Difference function d(tau) = sum_j (x_j - x_{j+tau})^2 over the integration window.
    for (let tau = 1; tau <= tauMax; tau++) {
      let acc = 0;
      for (let j = 0; j < W; j++) {
        const v = seg[j] - seg[j + tau];
        acc += v * v;
      }
      d[tau] = acc;
    }
    // Cumulative-mean-normalised difference d'(tau) = d(tau) * tau / sum_{k<=tau} d(k).
    let cum = 0;
    norm[0] = 1;
    for (let tau = 1; tau <= tauMax; tau++) {
      cum += d[tau];
      norm[tau] = cum > 0 ? (d[tau] * tau) / cum : 1;
    }
    let best = -1;
    for (let tau = tauMin; tau < tauMax; tau++) {
      if (norm[tau] < o.threshold) {
        while (tau + 1 < tauMax && norm[tau + 1] < norm[tau]) tau++;
        best = tau;
        break;
      }
    }
    if (best < 0) {
      let minV = Infinity;
      for (let tau = tauMin; tau < tauMax; tau++) minV = Math.min(minV, norm[tau]);
      periodicity[t] = Math.max(0, 1 - minV);
      continue;
    }
    periodicity[t] = Math.max(0, 1 - norm[best]);
    // Parabolic interpolation of the raw difference around the chosen lag.
    const a = d[best - 1], b = d[best], c = d[best + 1];
    const den = a - 2 * b + c;
    let shift = den > 0 ? (0.5 * (a - c)) / den : 0;
    if (!(Math.abs(shift) <= 1)) shift = 0;
    const hz = sr / (best + shift);
    if (hz >= o.fmin && hz <= o.fmax) f0[t] = hz;
  }
  return { f0, periodicity, hopSeconds: hop / sr };
}

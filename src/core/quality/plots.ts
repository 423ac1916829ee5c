/**
 * Report figures: a log-mel spectrogram with time / frequency ticks and a dB colour bar, and the
 * difference of two spectrograms (B - A, in dB) on a diverging map with a symmetric scale. Low
 * frequencies at the bottom, time left to right; every tick label is drawn into the image.
 */
import type { MelSpectrogram } from '../dsp/index.ts';
import { hzToMel } from '../dsp/index.ts';
import { type Colormap, type ColormapName, colorAt, colormap } from './colormap.ts';
import { LN_TO_DB } from './metrics.ts';
import { GLYPH_H, Raster, type Rgb } from './raster.ts';

/** What the mel bands and frames of a spectrogram mean (Seed-VC's mel config). */
export interface MelAxis {
  sampleRate: number;
  hopSize: number;
  fmin: number;
  /** Upper band edge in Hz (sampleRate / 2 when the config leaves it open). */
  fmax: number;
}

export interface PlotOptions {
  axis: MelAxis;
  /** Text scale (the font is 5 x 7 pixels at 1; default 2). */
  textScale?: number;
  /** Plot area width bounds in pixels: short clips are stretched, long ones averaged (defaults 600, 1400). */
  minWidth?: number;
  maxWidth?: number;
  /** Plot height target in pixels (default 240; each mel band gets round(240 / bands) rows). */
  height?: number;
}

export interface ColorScale {
  map: ColormapName;
  lo: number;
  hi: number;
  ticks: number[];
  unit: string;
  /** Signed labels (+1, -1). */
  signed?: boolean;
}

const INK: Rgb = [35, 35, 35];
const FRAME: Rgb = [90, 90, 90];

/** Shortest decimal spelling of v with at most `digits` decimals ("0.5", "12", "-2.25"). */
export function formatTick(v: number, digits = 2, signed = false): string {
  let s = v.toFixed(digits);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (s === '-0') s = '0';
  return signed && v > 0 ? `+${s}` : s;
}

/** The fewest decimals (at most 6) that spell every value of `values` exactly. */
export function decimalsFor(values: readonly number[]): number {
  for (let d = 0; d < 6; d++) {
    const k = 10 ** d;
    if (values.every((v) => Math.abs(Math.round(v * k) / k - v) <= 1e-9 * Math.max(1, Math.abs(v)))) return d;
  }
  return 6;
}

/** Pixel width of the plot area for `frames` frames. */
export function plotWidth(frames: number, minWidth = 600, maxWidth = 1400): number {
  if (frames <= 0) return minWidth;
  if (frames < minWidth) return frames * Math.ceil(minWidth / frames);
  return Math.min(frames, maxWidth);
}

/** The smallest "nice" step (1, 2, 2.5, 5 x 10^k) at least `raw`. */
function niceStep(raw: number): number {
  const e = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= raw) return m * e;
  return 10 * e;
}

/** The smallest of 1, 2, 3, 5 x 10^k at least v (for symmetric difference scales). */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 3, 5, 10]) if (m * e >= v * (1 - 1e-9)) return m * e;
  return 10 * e;
}

interface Layout {
  raster: Raster;
  left: number;
  top: number;
  w: number;
  h: number;
  rowPx: number;
}

/** Draws the frame, axes, ticks and colour bar; the caller fills the plot area. */
function layout(frames: number, numMels: number, opts: PlotOptions, scale: ColorScale): Layout {
  const s = opts.textScale ?? 2;
  const th = GLYPH_H * s;
  const rowPx = Math.max(1, Math.round((opts.height ?? 240) / numMels));
  const w = plotWidth(frames, opts.minWidth, opts.maxWidth);
  const h = numMels * rowPx;
  const { axis } = opts;
  const hzTicks = [0, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000].filter((f) => f >= axis.fmin && f <= axis.fmax);
  const hzLabel = (f: number) => (f >= 1000 ? `${formatTick(f / 1000, 1)}k` : String(f));
  const cbDigits = decimalsFor(scale.ticks);
  const cbLabels = scale.ticks.map((v) => formatTick(v, cbDigits, scale.signed));
  const left = Math.max(...hzTicks.map((f) => Raster.textWidth(hzLabel(f), s)), Raster.textWidth('Hz', s)) + 14;
  const top = Math.ceil(1.5 * th) + 8; // room for the unit labels above the top tick labels
  const cbGap = 18, cbW = 14;
  const right = cbGap + cbW + 6 + Math.max(...cbLabels.map((l) => Raster.textWidth(l, s)), Raster.textWidth(scale.unit, s)) + 8;
  const bottom = th + 14;
  const raster = new Raster(left + w + right, top + h + bottom);

  // frequency ticks on the mel scale: band m's centre sits at (m + 1) / (bands + 1) of the mel range
  const melLo = hzToMel(axis.fmin), melHi = hzToMel(axis.fmax);
  let lastY = Infinity;
  for (const f of hzTicks) {
    const u = ((hzToMel(f) - melLo) / (melHi - melLo)) * (numMels + 1) - 1;
    if (u < -1 || u > numMels) continue;
    const y = Math.round(top + h - Math.min(h, Math.max(0, (u + 0.5) * rowPx)));
    if (lastY - y < th + 4) continue;
    lastY = y;
    raster.fillRect(left - 6, y, 5, 1, FRAME);
    raster.text(left - 9, Math.max(0, y - Math.floor(th / 2)), hzLabel(f), INK, { scale: s, align: 'right' });
  }
  raster.text(left - 9, 2, 'Hz', INK, { scale: s, align: 'right' });

  // time ticks
  const seconds = (frames * axis.hopSize) / axis.sampleRate;
  const maxTicks = Math.max(1, Math.floor(w / (Raster.textWidth('00.00', s) + 24)));
  const step = niceStep(Math.max(seconds / maxTicks, 0.01));
  const xOf = (sec: number) => left + (sec * axis.sampleRate) / axis.hopSize * (w / Math.max(1, frames));
  for (let k = 0; k * step <= seconds + 1e-9; k++) {
    const x = Math.round(xOf(k * step));
    if (x > left + w) break;
    raster.fillRect(x, top + h + 1, 1, 5, FRAME);
    raster.text(x, top + h + 8, formatTick(k * step, decimalsFor([step])), INK, { scale: s, align: 'center' });
  }
  raster.text(left + w + 4, top + h + 8, 's', INK, { scale: s });

  // colour bar
  const map = colormap(scale.map);
  const cbX = left + w + cbGap;
  for (let r = 0; r < h; r++) raster.fillRect(cbX, top + r, cbW, 1, colorAt(map, 1 - (r + 0.5) / h));
  raster.strokeRect(cbX, top, cbW, h, FRAME);
  scale.ticks.forEach((v, i) => {
    const y = Math.round(top + h - ((v - scale.lo) / (scale.hi - scale.lo)) * h);
    raster.fillRect(cbX + cbW + 1, y, 4, 1, FRAME);
    raster.text(cbX + cbW + 7, Math.min(top + h + bottom - th, Math.max(0, y - Math.floor(th / 2))), cbLabels[i], INK, { scale: s });
  });
  raster.text(cbX, 2, scale.unit, INK, { scale: s });
  raster.strokeRect(left, top, w, h, FRAME);
  return { raster, left, top, w, h, rowPx };
}

/** Fills the plot area from per-(mel, frame) values through the colour map. */
function fill(l: Layout, numMels: number, frames: number, value: (m: number, t: number) => number, scale: ColorScale): void {
  const map: Colormap = colormap(scale.map);
  const col = new Float64Array(numMels);
  for (let x = 0; x < l.w; x++) {
    const f0 = Math.floor((x * frames) / l.w);
    const f1 = Math.max(f0 + 1, Math.floor(((x + 1) * frames) / l.w));
    for (let m = 0; m < numMels; m++) {
      let acc = 0;
      for (let t = f0; t < f1; t++) acc += value(m, t);
      col[m] = acc / (f1 - f0);
    }
    for (let m = 0; m < numMels; m++) {
      const c = colorAt(map, (col[m] - scale.lo) / (scale.hi - scale.lo));
      l.raster.fillRect(l.left + x, l.top + l.h - (m + 1) * l.rowPx, 1, l.rowPx, c);
    }
  }
}

/** The shared dB range of spectrograms (80 dB below the loudest value, rounded up to 10 dB). */
export function spectrogramScale(...mels: MelSpectrogram[]): ColorScale {
  let max = -Infinity;
  for (const mel of mels) for (const v of mel.data) if (v > max) max = v;
  const hi = Number.isFinite(max) ? Math.ceil((max * LN_TO_DB) / 10) * 10 : 0;
  const lo = hi - 80;
  return { map: 'ember', lo, hi, ticks: [lo, lo + 20, lo + 40, lo + 60, hi], unit: 'dB' };
}

/** A log-mel spectrogram (natural-log magnitude, as Seed-VC computes it) in dB. */
export function renderSpectrogram(mel: MelSpectrogram, opts: PlotOptions, scale: ColorScale = spectrogramScale(mel)): Raster {
  const l = layout(mel.frames, mel.numMels, opts, scale);
  fill(l, mel.numMels, mel.frames, (m, t) => mel.data[m * mel.frames + t] * LN_TO_DB, scale);
  return l.raster;
}

/** The symmetric scale of a B - A difference: the 99th percentile of |difference| (dB), rounded up. */
export function differenceScale(a: MelSpectrogram, b: MelSpectrogram): ColorScale {
  const T = Math.min(a.frames, b.frames);
  const abs = new Float64Array(a.numMels * T);
  for (let m = 0; m < a.numMels; m++) {
    for (let t = 0; t < T; t++) abs[m * T + t] = Math.abs(b.data[m * b.frames + t] - a.data[m * a.frames + t]) * LN_TO_DB;
  }
  abs.sort();
  const p99 = abs.length ? abs[Math.min(abs.length - 1, Math.floor(0.99 * abs.length))] : 0;
  const lim = p99 > 0 ? niceCeil(p99) : 1;
  return { map: 'redblue', lo: -lim, hi: lim, ticks: [-lim, -lim / 2, 0, lim / 2, lim], unit: 'dB', signed: true };
}

/** B - A of two log-mel spectrograms, in dB, over their common frames. */
export function renderDifference(a: MelSpectrogram, b: MelSpectrogram, opts: PlotOptions, scale: ColorScale = differenceScale(a, b)): Raster {
  const T = Math.min(a.frames, b.frames);
  const l = layout(T, a.numMels, opts, scale);
  fill(l, a.numMels, T, (m, t) => (b.data[m * b.frames + t] - a.data[m * a.frames + t]) * LN_TO_DB, scale);
  return l.raster;
}

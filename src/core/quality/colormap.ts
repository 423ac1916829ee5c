/**
 * Colour maps built in Oklab (Björn Ottosson's perceptual colour space), so that perceived lightness is a
 * straight line of the value and equal steps look like equal steps:
 *
 * - `ember` (sequential, for spectrograms): lightness 0.16 -> 0.96 linearly while the hue turns from
 *   violet through red and orange to pale yellow; chroma peaks mid-scale and each colour is pulled into
 *   the sRGB gamut by lowering its chroma only, never its lightness.
 * - `redblue` (diverging, for differences): near-white at 0, lightness falling symmetrically with |value|,
 *   blue for negative and red for positive values, equal chroma on both sides.
 *
 * Maps are 256-entry RGB lookup tables; {@link colorAt} maps t in [0, 1] to one entry.
 */

export type ColormapName = 'ember' | 'redblue';

export interface Colormap {
  name: ColormapName;
  /** 256 x RGB, bytes. */
  lut: Uint8Array;
}

/** Oklab -> linear sRGB. */
function oklabToLinear(L: number, a: number, b: number): [number, number, number] {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
}

function encodeSrgb(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.round(255 * Math.min(1, Math.max(0, v)));
}

/** The sRGB colour of Oklab lightness L, chroma C and hue h (degrees), chroma reduced until in gamut. */
export function oklch(L: number, C: number, hDeg: number): [number, number, number] {
  const h = (hDeg * Math.PI) / 180;
  const inGamut = (c: number) => oklabToLinear(L, c * Math.cos(h), c * Math.sin(h)).every((v) => v >= -1e-6 && v <= 1 + 1e-6);
  let c = C;
  if (!inGamut(c)) {
    let lo = 0, hi = C;
    for (let i = 0; i < 30; i++) {
      const mid = 0.5 * (lo + hi);
      if (inGamut(mid)) lo = mid; else hi = mid;
    }
    c = lo;
  }
  const rgb = oklabToLinear(L, c * Math.cos(h), c * Math.sin(h));
  return [encodeSrgb(rgb[0]), encodeSrgb(rgb[1]), encodeSrgb(rgb[2])];
}

/** Oklab lightness of an sRGB byte colour (for tests of monotonicity). */
export function oklabLightness(r: number, g: number, b: number): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const R = lin(r), G = lin(g), B = lin(b);
  const l = Math.cbrt(0.4122214708 * R + 0.5363325363 * G + 0.0514459929 * B);
  const m = Math.cbrt(0.2119034982 * R + 0.6806995451 * G + 0.1073969566 * B);
  const s = Math.cbrt(0.0883024619 * R + 0.2817188376 * G + 0.6299787005 * B);
  return 0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s;
}

function build(name: ColormapName, f: (t: number) => [number, number, number]): Colormap {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(f(i / 255), i * 3);
  return { name, lut };
}

const cache = new Map<ColormapName, Colormap>();

export function colormap(name: ColormapName): Colormap {
  let m = cache.get(name);
  if (!m) {
    if (name === 'ember') {
      m = build(name, (t) => oklch(0.16 + 0.8 * t, 0.04 + 0.15 * Math.sin(Math.PI * Math.min(1, t * 1.08)), 300 + 160 * t));
    } else {
      m = build(name, (t) => {
        const u = 2 * t - 1;
        const a = Math.abs(u);
        return oklch(0.97 - 0.5 * a, 0.2 * a ** 0.85, u < 0 ? 255 : 27);
      });
    }
    cache.set(name, m);
  }
  return m;
}

/** The LUT index for t (clamped to [0, 1]; NaN maps to 0). */
export function lutIndex(t: number): number {
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/** The colour of t in [0, 1]. */
export function colorAt(map: Colormap, t: number): [number, number, number] {
  const i = lutIndex(t) * 3;
  return [map.lut[i], map.lut[i + 1], map.lut[i + 2]];
}

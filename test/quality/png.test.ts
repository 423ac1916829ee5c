/** Colour maps, the raster font, the spectrogram figures and their PNG encoding (decoded back with pngjs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { colorAt, colormap, lutIndex, oklabLightness } from '../../src/core/quality/colormap.ts';
import { decimalsFor, differenceScale, formatTick, niceCeil, plotWidth, renderDifference, renderSpectrogram, spectrogramScale } from '../../src/core/quality/plots.ts';
import { FONT_CHARS, Raster } from '../../src/core/quality/raster.ts';
import { encodePng } from '../../src/node/png.ts';

const axis = { sampleRate: 22050, hopSize: 256, fmin: 0, fmax: 11025 };

/** A synthetic log-mel [80, frames]: a ramp over bands (ln magnitude from -11 to 1). */
function ramp(frames: number): { data: Float32Array; numMels: number; frames: number } {
  const data = new Float32Array(80 * frames);
  for (let m = 0; m < 80; m++) for (let t = 0; t < frames; t++) data[m * frames + t] = -11 + (12 * m) / 79;
  return { data, numMels: 80, frames };
}

test('colour maps: perceptual lightness is monotonic (ember) and symmetric around white (redblue)', () => {
  const ember = colormap('ember');
  let prev = -1;
  for (let i = 0; i < 256; i++) {
    const L = oklabLightness(ember.lut[3 * i], ember.lut[3 * i + 1], ember.lut[3 * i + 2]);
    assert.ok(L > prev - 0.004, `ember lightness falls at ${i}: ${prev} -> ${L}`);
    prev = L;
  }
  assert.ok(oklabLightness(...colorAt(ember, 0)) < 0.25 && oklabLightness(...colorAt(ember, 1)) > 0.9);
  const rb = colormap('redblue');
  const mid = colorAt(rb, 0.5);
  assert.ok(mid.every((v) => v > 235), `diverging midpoint is near white: ${mid}`);
  const [r1, , b1] = colorAt(rb, 1), [r0, , b0] = colorAt(rb, 0);
  assert.ok(r1 > b1 + 80 && b0 > r0 + 80, 'red for positive, blue for negative');
  for (let i = 0; i < 128; i++) {
    const La = oklabLightness(rb.lut[3 * i], rb.lut[3 * i + 1], rb.lut[3 * i + 2]);
    const Lb = oklabLightness(rb.lut[3 * (255 - i)], rb.lut[3 * (255 - i) + 1], rb.lut[3 * (255 - i) + 2]);
    assert.ok(Math.abs(La - Lb) < 0.02, `asymmetric lightness at ${i}: ${La} vs ${Lb}`);
  }
  assert.equal(lutIndex(Number.NaN), 0);
  assert.equal(lutIndex(2), 255);
});

test('tick helpers', () => {
  assert.equal(formatTick(0.5), '0.5');
  assert.equal(formatTick(2, 2, true), '+2');
  assert.equal(formatTick(-0.0001), '0');
  assert.equal(decimalsFor([-0.01, -0.005, 0, 0.005, 0.01]), 3);
  assert.equal(decimalsFor([-80, -60, 0]), 0);
  assert.equal(niceCeil(0.0071), 0.01);
  assert.equal(niceCeil(2.4), 3);
  assert.equal(niceCeil(0), 1);
  assert.equal(plotWidth(344), 688);
  assert.equal(plotWidth(1000), 1000);
  assert.equal(plotWidth(5000), 1400);
});

test('raster text: every font character draws ink inside its cell', () => {
  const r = new Raster(200, 20);
  r.text(1, 1, FONT_CHARS.replace(' ', ''), [0, 0, 0]);
  let ink = 0;
  for (let i = 0; i < r.data.length; i += 4) if (r.data[i] === 0) ink++;
  assert.ok(ink > 100);
  assert.equal(Raster.textWidth('12.5', 2), (4 * 6 - 1) * 2);
  assert.throws(() => new Raster(0, 10), /positive/);
});

test('spectrogram PNG: decodes to the raster size, plot pixels come from the colour map', () => {
  const mel = ramp(344);
  const scale = spectrogramScale(mel);
  assert.equal(scale.hi, 10, 'max ln 1 = 8.7 dB rounds up to 10');
  assert.equal(scale.lo, -70);
  const raster = renderSpectrogram(mel, { axis }, scale);
  const png = PNG.sync.read(encodePng(raster));
  assert.equal(png.width, raster.width);
  assert.equal(png.height, raster.height);
  assert.deepEqual(Buffer.from(png.data), Buffer.from(raster.data), 'lossless round trip');
  // Find the plot: the top row of the plot holds band 79 (ln 1 -> 8.69 dB); the bottom row band 0 (ln -11).
  const ember = colormap('ember');
  const expectTop = colorAt(ember, (1 * 20 / Math.LN10 - scale.lo) / (scale.hi - scale.lo));
  const expectBottom = colorAt(ember, (-11 * 20 / Math.LN10 - scale.lo) / (scale.hi - scale.lo));
  const px = (x: number, y: number) => [png.data[(y * png.width + x) * 4], png.data[(y * png.width + x) * 4 + 1], png.data[(y * png.width + x) * 4 + 2]];
  // scan the middle column for the plot's vertical extent: the frame line is (90, 90, 90)
  const x = Math.floor(png.width / 2);
  const ys: number[] = [];
  for (let y = 0; y < png.height; y++) if (px(x, y).join() === '90,90,90') ys.push(y);
  assert.ok(ys.length >= 2, 'plot frame found');
  const top = ys[0] + 1, bottom = ys[ys.length - 1] - 1;
  assert.equal(bottom - top + 1, 240, 'three pixel rows per mel band');
  assert.deepEqual(px(x, top), expectTop);
  assert.deepEqual(px(x, bottom), expectBottom);
});

test('difference PNG: identical inputs are white, B louder is red, with a symmetric legend', () => {
  const a = ramp(100);
  const same = renderDifference(a, a, { axis });
  const louder = { ...a, data: a.data.map((v) => v + 0.1) };
  const scale = differenceScale(a, louder);
  assert.equal(scale.hi, 1, '0.1 ln = 0.87 dB -> 1 dB');
  assert.equal(scale.lo, -1);
  const diff = renderDifference(a, louder, { axis }, scale);
  const png = PNG.sync.read(encodePng(diff));
  assert.equal(png.width, diff.width);
  const rb = colormap('redblue');
  const cx = Math.floor(diff.width / 3), cy = Math.floor(diff.height / 2);
  assert.deepEqual(same.getPixel(cx, cy).slice(0, 3), colorAt(rb, 0.5));
  assert.deepEqual([...png.data.subarray((cy * png.width + cx) * 4, (cy * png.width + cx) * 4 + 3)], colorAt(rb, (0.1 * 20 / Math.LN10 + 1) / 2));
});

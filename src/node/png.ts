/** PNG encoding of a report raster (RGBA rows) with pngjs. */
import { PNG } from 'pngjs';
import type { Raster } from '../core/quality/raster.ts';

export function encodePng(raster: Pick<Raster, 'width' | 'height' | 'data'>): Buffer {
  const png = new PNG({ width: raster.width, height: raster.height });
  png.data = Buffer.from(raster.data.buffer, raster.data.byteOffset, raster.data.byteLength);
  return PNG.sync.write(png, { colorType: 6 });
}

/**
 * A minimal RGBA raster for report figures: rectangles, lines and text in a built-in 5x7 pixel font that
 * covers what axis labels need (digits, '.', '+', '-', and the units Hz, kHz, s, dB). Rows top to bottom,
 * 4 bytes a pixel, ready for a PNG encoder.
 */

export type Rgb = readonly [number, number, number];

const GLYPHS: Record<string, string[]> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  '-': ['.....', '.....', '.....', '.####', '.....', '.....', '.....'],
  '+': ['.....', '..#..', '..#..', '#####', '..#..', '..#..', '.....'],
  k: ['#....', '#....', '#..#.', '#.#..', '##...', '#.#..', '#..#.'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  z: ['.....', '.....', '#####', '...#.', '..#..', '.#...', '#####'],
  s: ['.....', '.....', '.####', '#....', '.###.', '....#', '####.'],
  d: ['....#', '....#', '.##.#', '#..##', '#...#', '#...#', '.####'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
};
export const GLYPH_W = 5;
export const GLYPH_H = 7;

/** Characters the built-in font can draw. */
export const FONT_CHARS = Object.keys(GLYPHS).join('');

export class Raster {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`raster size must be positive integers, got ${width} x ${height}`);
    }
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
    this.data[i + 3] = 255;
  }

  getPixel(x: number, y: number): [number, number, number, number] {
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2], this.data[i + 3]];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.floor(x)), y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w)), y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const i = (yy * this.width + xx) * 4;
        this.data[i] = c[0];
        this.data[i + 1] = c[1];
        this.data[i + 2] = c[2];
        this.data[i + 3] = 255;
      }
    }
  }

  /** A 1-pixel rectangle outline around [x, x+w) x [y, y+h). */
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.fillRect(x - 1, y - 1, w + 2, 1, c);
    this.fillRect(x - 1, y + h, w + 2, 1, c);
    this.fillRect(x - 1, y - 1, 1, h + 2, c);
    this.fillRect(x + w, y - 1, 1, h + 2, c);
  }

  /** Width in pixels of `text` at `scale`. */
  static textWidth(text: string, scale = 1): number {
    return text.length ? (text.length * (GLYPH_W + 1) - 1) * scale : 0;
  }

  /**
   * Draws `text` with its top edge at y; `align` places x at the left, centre or right end. Characters
   * the font lacks are drawn as a box.
   */
  text(x: number, y: number, text: string, c: Rgb, opts: { scale?: number; align?: 'left' | 'center' | 'right' } = {}): void {
    const s = opts.scale ?? 1;
    const w = Raster.textWidth(text, s);
    let cx = Math.round(opts.align === 'center' ? x - w / 2 : opts.align === 'right' ? x - w : x);
    for (const ch of text) {
      const g = GLYPHS[ch] ?? ['#####', '#...#', '#...#', '#...#', '#...#', '#...#', '#####'];
      for (let r = 0; r < GLYPH_H; r++) {
        for (let k = 0; k < GLYPH_W; k++) if (g[r][k] === '#') this.fillRect(cx + k * s, y + r * s, s, s, c);
      }
      cx += (GLYPH_W + 1) * s;
    }
  }
}

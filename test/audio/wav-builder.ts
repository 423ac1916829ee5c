/**
 * Builds WAV files byte by byte for the tests: any chunk order, any (even lying) sizes, any fmt.
 */

const enc = new TextEncoder();

/** A chunk: 4-char id, u32 size (the real one unless `declaredSize` lies), body, pad byte if odd. */
export function chunk(id: string, body: Uint8Array | number[], declaredSize?: number): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  const out = new Uint8Array(8 + b.length + (b.length & 1));
  out.set(enc.encode(id.padEnd(4).slice(0, 4)));
  new DataView(out.buffer).setUint32(4, declaredSize ?? b.length, true);
  out.set(b, 8);
  return out;
}

/** A RIFF file of the given chunks (the RIFF size is filled in correctly). */
export function riff(chunks: Uint8Array[], { magic = 'RIFF', form = 'WAVE' } = {}): Uint8Array {
  const out = cat([enc.encode(magic), new Uint8Array(4), enc.encode(form), ...chunks]);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

/** A plain fmt body (16 bytes, or 18 with `cbSize`). Derived fields default to consistent values. */
export function fmtBody(o: { tag: number; channels: number; rate: number; bits: number; cbSize?: number; length?: number }): Uint8Array {
  const len = o.length ?? (o.cbSize === undefined ? 16 : 18);
  const b = new Uint8Array(Math.max(len, 18));
  const v = new DataView(b.buffer);
  const align = (o.channels * o.bits) / 8;
  v.setUint16(0, o.tag, true);
  v.setUint16(2, o.channels, true);
  v.setUint32(4, o.rate, true);
  v.setUint32(8, o.rate * align, true);
  v.setUint16(12, align, true);
  v.setUint16(14, o.bits, true);
  if (o.cbSize !== undefined) v.setUint16(16, o.cbSize, true);
  return b.subarray(0, len);
}

/** A 40-byte WAVE_FORMAT_EXTENSIBLE fmt body whose subformat GUID starts with `subformat`. */
export function extensibleFmtBody(o: {
  channels: number; rate: number; bits: number; validBits?: number; subformat: number; guidTail?: number[];
}): Uint8Array {
  const head = fmtBody({ tag: 0xfffe, channels: o.channels, rate: o.rate, bits: o.bits, cbSize: 22 });
  const b = new Uint8Array(40);
  b.set(head);
  const v = new DataView(b.buffer);
  v.setUint16(18, o.validBits ?? o.bits, true);
  v.setUint32(20, o.channels === 2 ? 3 : 4, true); // channel mask: FL|FR or FC
  v.setUint16(24, o.subformat, true);
  b.set(o.guidTail ?? [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  return b;
}

/** Little-endian sample bytes of one kind, interleaved as given. */
export function samples(kind: 'u8' | 'i16' | 'i24' | 'i32' | 'f32' | 'f64', values: number[]): Uint8Array {
  const size = { u8: 1, i16: 2, i24: 3, i32: 4, f32: 4, f64: 8 }[kind];
  const b = new Uint8Array(values.length * size);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => {
    const at = i * size;
    switch (kind) {
      case 'u8': v.setUint8(at, x); break;
      case 'i16': v.setInt16(at, x, true); break;
      case 'i24': v.setUint8(at, x & 0xff); v.setUint8(at + 1, (x >> 8) & 0xff); v.setInt8(at + 2, x >> 16); break;
      case 'i32': v.setInt32(at, x, true); break;
      case 'f32': v.setFloat32(at, x, true); break;
      case 'f64': v.setFloat64(at, x, true); break;
    }
  });
  return b;
}

export function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * Byte-level builders for the checkpoint tests: a pickle assembler (opcode by opcode) and a zip writer
 * (STORED or DEFLATED entries, optional ZIP64 records, optional data alignment), enough to assemble
 * torch.save archives by hand.
 */
import { deflateSync } from 'fflate';

const enc = new TextEncoder();

export function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function le(n: number, bytes: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < bytes; i++) { out.push(Number(v & 0xffn)); v >>= 8n; }
  return out;
}

/** Pickle assembler: each method appends one opcode with its argument; `bytes()` returns the program. */
export class PickleWriter {
  private parts: (Uint8Array | number[])[] = [];
  raw(...b: number[]): this { this.parts.push(b); return this; }
  op(c: string): this { return this.raw(c.charCodeAt(0)); }
  proto(v = 2): this { return this.raw(0x80, v); }
  stop(): this { return this.op('.'); }
  mark(): this { return this.op('('); }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, ...le(n, 2));
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.raw(0x4a, ...le(n < 0 ? n + 2 ** 32 : n, 4));
    return this.long(BigInt(n));
  }
  long(v: bigint): this {
    const out: number[] = [];
    let x = v;
    // two's complement, minimal length with a sign bit that matches
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const last = out[out.length - 1];
      if ((x === 0n && !(last & 0x80)) || (x === -1n && last & 0x80)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.raw(0x47, ...b);
  }
  str(s: string): this { const b = enc.encode(s); this.parts.push([0x58, ...le(b.length, 4)], b); return this; }
  shortStr(s: string): this { const b = enc.encode(s); this.parts.push([0x8c, b.length], b); return this; }
  bytesObj(b: Uint8Array): this { this.parts.push([0x43, b.length], b); return this; }
  none(): this { return this.op('N'); }
  bool(v: boolean): this { return this.raw(v ? 0x88 : 0x89); }
  global(module: string, name: string): this { this.parts.push([0x63], enc.encode(`${module}\n${name}\n`)); return this; }
  stackGlobal(module: string, name: string): this { return this.shortStr(module).shortStr(name).raw(0x93); }
  put(i: number): this { return i < 256 ? this.raw(0x71, i) : this.raw(0x72, ...le(i, 4)); }
  get(i: number): this { return i < 256 ? this.raw(0x68, i) : this.raw(0x6a, ...le(i, 4)); }
  tuple(n: 0 | 1 | 2 | 3): this { return this.raw([0x29, 0x85, 0x86, 0x87][n]); }
  /** A tuple of small ints, as torch writes sizes and strides. */
  ints(xs: readonly number[]): this {
    if (xs.length <= 3) { for (const x of xs) this.int(x); return this.tuple(xs.length as 0 | 1 | 2 | 3); }
    this.mark();
    for (const x of xs) this.int(x);
    return this.op('t');
  }
  /** `collections.OrderedDict()` */
  orderedDict(): this { return this.global('collections', 'OrderedDict').tuple(0).op('R'); }
  /**
   * `_rebuild_tensor_v2(<storage pid>, offset, size, stride, False, OrderedDict())` with the persistent id
   * `('storage', torch.<type>, key, 'cpu', numel)`.
   */
  tensor(storageType: string, key: string, numel: number, offset: number, size: readonly number[], stride: readonly number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).op('t').op('Q');
    this.int(offset).ints(size).ints(stride).bool(false).orderedDict().op('t').op('R');
    return this;
  }
  bytes(): Uint8Array { return concat(this.parts); }
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** 0 stored (default), 8 deflated. */
  method?: 0 | 8;
}

export interface ZipWriteOptions {
  /** Write ZIP64 EOCD record + locator (torch always does). */
  zip64?: boolean;
  /** Pad local extra fields so that data starts at a multiple of this (torch uses 64). */
  align?: number;
}

/** A minimal zip writer (local headers carry the sizes; no data descriptors). */
export function writeZip(entries: readonly ZipInput[], opts: ZipWriteOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const method = e.method ?? 0;
    const body = method === 8 ? deflateSync(e.data) : e.data;
    const crc = crc32(e.data);
    let extra = new Uint8Array(0);
    if (opts.align) {
      const dataAt = offset + 30 + name.length;
      let pad = (opts.align - ((dataAt + 4) % opts.align)) % opts.align;
      extra = new Uint8Array(4 + pad);
      extra.set([0x46, 0x42, ...le(pad, 2)]); // 'FB' padding field, as torch writes
      extra.fill(0x5a, 4);
    }
    const local = concat([
      le(0x04034b50, 4), le(20, 2), le(0x0800, 2), le(method, 2), le(0, 4), le(crc, 4),
      le(body.length, 4), le(e.data.length, 4), le(name.length, 2), le(extra.length, 2), name, extra,
    ]);
    central.push(concat([
      le(0x02014b50, 4), le(45, 2), le(20, 2), le(0x0800, 2), le(method, 2), le(0, 4), le(crc, 4),
      le(body.length, 4), le(e.data.length, 4), le(name.length, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4),
      le(offset, 4), name,
    ]));
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const cd = concat(central);
  const cdOffset = offset;
  const tail: Uint8Array[] = [cd];
  if (opts.zip64) {
    const recOffset = cdOffset + cd.length;
    tail.push(concat([
      le(0x06064b50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4),
      le(entries.length, 8), le(entries.length, 8), le(cd.length, 8), le(cdOffset, 8),
    ]));
    tail.push(concat([le(0x07064b50, 4), le(0, 4), le(recOffset, 8), le(1, 4)]));
  }
  tail.push(concat([
    le(0x06054b50, 4), le(0, 2), le(0, 2), le(entries.length, 2), le(entries.length, 2), le(cd.length, 4), le(cdOffset, 4), le(0, 2),
  ]));
  return concat([...parts, ...tail]);
}

/** Independent bitwise CRC-32 for the writer (the reader's table version is what is under test). */
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A torch.save-style archive: `<prefix>/data.pkl`, `<prefix>/data/<key>` storages, `<prefix>/version`. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: ZipWriteOptions & { prefix?: string; byteorder?: string; method?: 0 | 8 } = {}): Uint8Array {
  const p = opts.prefix ?? 'archive';
  const entries: ZipInput[] = [{ name: `${p}/data.pkl`, data: pickle, method: opts.method }];
  if (opts.byteorder !== undefined) entries.push({ name: `${p}/byteorder`, data: enc.encode(opts.byteorder) });
  for (const [k, v] of Object.entries(storages)) entries.push({ name: `${p}/data/${k}`, data: v, method: opts.method });
  entries.push({ name: `${p}/version`, data: enc.encode('3\n') });
  return writeZip(entries, { zip64: opts.zip64 ?? true, align: opts.align ?? 64 });
}

export function f32Bytes(values: readonly number[]): Uint8Array { return new Uint8Array(Float32Array.from(values).buffer); }
export function u16Bytes(values: readonly number[]): Uint8Array { return new Uint8Array(Uint16Array.from(values).buffer); }
export function i64Bytes(values: readonly bigint[]): Uint8Array { return new Uint8Array(BigInt64Array.from(values).buffer); }


/** Seeded PRNG for reproducible fuzzing. */
export { mulberry32 as rng } from '../helpers/random.ts';

/**
 * Hostile checkpoints, built in memory: each is small on disk and would cost gigabytes or hours to a
 * reader that trusted it. Shared by the unit tests and the abuse suite (which runs them in a child
 * process and measures time and peak memory).
 */
import { constants, crc32 as zlibCrc32, deflateRawSync } from 'node:zlib';
import { PickleWriter, concat, f32Bytes, torchZip } from '../checkpoint/fixtures.ts';

/**
 * A pickle whose dicts share their children through the memo: level k is {'a': level k-1, 'b': level k-1},
 * so `depth` levels hold 2^depth paths in ~10 bytes per level. The leaf is {'w': tensor} or, without
 * tensors, {'x': 1}.
 */
export function memoDagPickle(depth: number, withTensor: boolean): Uint8Array {
  const w = new PickleWriter().proto(2).op('}').mark();
  if (withTensor) w.str('w').tensor('FloatStorage', '0', 1, 0, [1], [1]);
  else w.str('x').int(1);
  w.op('u').put(0);
  for (let k = 1; k <= depth; k++) {
    w.op('0'); // POP the previous level (it stays reachable through the memo)
    w.op('}').mark().str('a').get(k - 1).str('b').get(k - 1).op('u').put(k);
  }
  return w.stop().bytes();
}

/** A torch.save archive around `memoDagPickle`. */
export function memoDagCheckpoint(depth: number, withTensor: boolean): Uint8Array {
  return torchZip(memoDagPickle(depth, withTensor), { 0: f32Bytes([1]) });
}

/**
 * Raw deflate of `bytes` zero bytes, assembled from one compressed chunk repeated: a sync-flushed chunk
 * ends on a byte boundary with no final bit, and a run of zeros compresses the same whatever zeros came
 * before, so the copies concatenate into one valid stream (ratio ~1000:1, like any deflate bomb).
 */
export function deflatedZeros(bytes: number, chunk = 1 << 22): Uint8Array {
  if (bytes % chunk) throw new Error('bytes must be a multiple of chunk');
  const piece = deflateRawSync(new Uint8Array(chunk), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes / chunk; i++) parts.push(piece);
  parts.push(new Uint8Array([0x03, 0x00])); // a final, empty fixed-Huffman block
  return concat(parts);
}

/**
 * A torch.save archive whose `count` float32 storages of `bytesEach` bytes are DEFLATED entries
 * (torch never deflates): 4 x 1 GiB is ~4 MB on disk.
 */
export function deflateBombCheckpoint(count = 4, bytesEach = 2 ** 30): Uint8Array {
  const w = new PickleWriter().proto(2).op('}').mark();
  for (let i = 0; i < count; i++) w.str(`w${i}`).tensor('FloatStorage', String(i), bytesEach / 4, 0, [bytesEach / 4], [1]);
  const pickle = w.op('u').stop().bytes();
  const zeros = deflatedZeros(bytesEach);
  const crc = zerosCrc(bytesEach);
  return writeZipRaw([
    { name: 'archive/data.pkl', data: pickle },
    ...Array.from({ length: count }, (_, i) => ({ name: `archive/data/${i}`, raw: zeros, size: bytesEach, crc })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
}

/** writeZip, but DEFLATED entries come pre-compressed (`raw`, inflating to `size` zero bytes). */
function writeZipRaw(entries: ({ name: string; data: Uint8Array } | { name: string; raw: Uint8Array; size: number; crc: number })[]): Uint8Array {
  const enc = new TextEncoder();
  const le = (n: number, b: number) => { const o: number[] = []; let v = BigInt(n); for (let i = 0; i < b; i++) { o.push(Number(v & 0xffn)); v >>= 8n; } return o; };
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const deflated = 'raw' in e;
    const body = deflated ? e.raw : e.data;
    const size = deflated ? e.size : e.data.length;
    const crc = deflated ? e.crc : crc32(e.data);
    const method = deflated ? 8 : 0;
    parts.push(concat([le(0x04034b50, 4), le(20, 2), le(0x0800, 2), le(method, 2), le(0, 4), le(crc, 4), le(body.length, 4), le(size, 4), le(name.length, 2), le(0, 2), name]), body);
    central.push(concat([le(0x02014b50, 4), le(45, 2), le(20, 2), le(0x0800, 2), le(method, 2), le(0, 4), le(crc, 4), le(body.length, 4), le(size, 4),
      le(name.length, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(offset, 4), name]));
    offset += 30 + name.length + body.length;
  }
  const cd = concat(central);
  return concat([...parts, cd, concat([le(0x06054b50, 4), le(0, 2), le(0, 2), le(entries.length, 2), le(entries.length, 2), le(cd.length, 4), le(offset, 4), le(0, 2)])]);
}

const crc32 = (b: Uint8Array) => zlibCrc32(b);

/** CRC-32 of n zero bytes (n a multiple of 4 MiB), chunk by chunk. */
function zerosCrc(n: number): number {
  const chunk = new Uint8Array(1 << 22);
  let c = 0;
  for (let done = 0; done < n; done += chunk.length) c = zlibCrc32(chunk, c);
  return c;
}

/** A safetensors file whose `count` tensors all claim the same (unaligned) bytes. */
export function overlappingSafetensors(count = 2, bytes = 4096): Uint8Array {
  const header: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) header[`t${i}`] = { dtype: 'F32', shape: [bytes / 4], data_offsets: [1, 1 + bytes] };
  let json: Uint8Array = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  json = concat([json, new Uint8Array(pad).fill(0x20)]);
  const out = new Uint8Array(8 + json.length + bytes + 1);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

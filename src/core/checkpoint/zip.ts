/**
 * A small, bounded zip reader over a byte array, enough for `torch.save` archives (PyTorch >= 1.6):
 * End Of Central Directory search, ZIP64 (EOCD64 locator/record and zip64 extra fields), central
 * directory, local header checks. STORED entries are zero-copy subarrays of the input; DEFLATED entries
 * are inflated with fflate into a buffer capped at their declared size. Every offset and size is
 * checked against the buffer before it is used, entries may not overlap (no "overlapping zip bomb"),
 * and nothing is allocated before its size has been justified by the input.
 */
import { inflateSync } from 'fflate';
import { CheckpointError } from '../errors.ts';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const EOCD64_LOCATOR_SIZE = 20;
const EOCD64_MIN_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
/** The EOCD comment is at most 65535 bytes, so the record sits in the last 64 KiB + 22 bytes. */
const MAX_EOCD_SEARCH = 0xffff + EOCD_SIZE;
/** Deflate cannot expand better than ~1032:1; a declared size above that is a lie. */
const MAX_DEFLATE_RATIO = 1032;

/** Compression method 0: the entry's bytes are stored as they are. */
export const METHOD_STORED = 0;
/** Compression method 8: raw DEFLATE. */
export const METHOD_DEFLATED = 8;
const METHOD_NAMES: Record<number, string> = {
  1: 'shrunk', 6: 'imploded', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstandard', 95: 'xz', 98: 'ppmd', 99: 'AES-encrypted',
};

export interface ZipLimits {
  /** Most central directory entries accepted. */
  maxEntries: number;
  /** Longest entry name accepted, in bytes. */
  maxNameLength: number;
  /**
   * Most bytes all DEFLATED entries may inflate to together (by their declared sizes, which reading
   * enforces). torch.save stores every record uncompressed, so only a repacked or hostile archive
   * deflates, and four 1 GiB entries fit in 4 MB of deflate.
   */
  maxInflatedBytes: number;
}

/** Far above any real checkpoint (torch archives hold one entry per storage, names under 100 bytes). */
export const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 1 << 20, maxNameLength: 4096, maxInflatedBytes: 256 * 2 ** 20 };

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  /** Offset of the local file header. */
  readonly headerOffset: number;
  /** Offset of the entry's (compressed) data in the archive. */
  readonly dataOffset: number;
}

export interface ZipReadOptions {
  limits?: Partial<ZipLimits>;
  /** Check the CRC-32 of STORED entries when they are read (deflated entries are always checked). Default false. */
  verifyStoredCrc?: boolean;
}

export interface ZipArchive {
  /** Entries in central directory order, by name. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** True if an entry of that exact name exists. */
  has(name: string): boolean;
  /** The uncompressed bytes of an entry: a zero-copy view for STORED entries. Throws CheckpointError if absent. */
  read(name: string): Uint8Array;
}

/** True if `bytes` starts like a zip archive (a local file header, or the EOCD of an empty archive). */
export function isZip(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 4) return false;
  const sig = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

/** Parses the central directory of a zip archive held in memory; entries are read on demand. */
export function readZip(bytes: Uint8Array, file = 'zip', options: ZipReadOptions = {}): ZipArchive {
  const limits = { ...DEFAULT_ZIP_LIMITS, ...options.limits };
  const fail = (problem: string): never => { throw new CheckpointError(file, `zip: ${problem}`); };
  const len = bytes.byteLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number, what: string): number => {
    const lo = view.getUint32(at, true);
    const hi = view.getUint32(at + 4, true);
    if (hi >= 0x200000) fail(`${what} ${(BigInt(hi) << 32n) | BigInt(lo)} is beyond any supported file size`);
    return hi * 0x100000000 + lo;
  };

  if (len < EOCD_SIZE) fail(`too short for a zip archive (${len} bytes, an empty archive has ${EOCD_SIZE})`);

  // End Of Central Directory: scan backwards, bounded by the largest possible comment.
  let eocd = -1;
  const stop = Math.max(0, len - MAX_EOCD_SEARCH);
  for (let p = len - EOCD_SIZE; p >= stop; p--) {
    if (bytes[p] === 0x50 && bytes[p + 1] === 0x4b && u32(p) === SIG_EOCD && p + EOCD_SIZE + u16(p + 20) <= len) { eocd = p; break; }
  }
  if (eocd < 0) fail(`no end-of-central-directory record in the last ${Math.min(len, MAX_EOCD_SEARCH)} bytes (truncated or not a zip archive)`);
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk (split) archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);

  // ZIP64: torch writes the locator + EOCD64 record for every archive; when present they are authoritative.
  const loc = eocd - EOCD64_LOCATOR_SIZE;
  if (loc >= 0 && u32(loc) === SIG_EOCD64_LOCATOR) {
    const rec = u64(loc + 8, 'zip64 end-of-central-directory offset');
    if (rec + EOCD64_MIN_SIZE > loc) fail(`zip64 end-of-central-directory record at ${rec} lies outside the archive (locator at ${loc})`);
    if (u32(rec) !== SIG_EOCD64) fail(`no zip64 end-of-central-directory record at offset ${rec}`);
    if (u32(rec + 16) !== 0 || u32(rec + 20) !== 0) fail('multi-disk (split) archives are not supported');
    count = u64(rec + 32, 'zip64 entry count');
    cdSize = u64(rec + 40, 'zip64 central directory size');
    cdOffset = u64(rec + 48, 'zip64 central directory offset');
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail('the end-of-central-directory record asks for zip64 values but there is no zip64 locator');
  }
  const cdEnd = cdOffset + cdSize;
  if (cdEnd > eocd || cdEnd > len) fail(`central directory [${cdOffset}, ${cdEnd}) lies outside the archive (${len} bytes, end record at ${eocd})`);
  if (count > limits.maxEntries) fail(`${count} entries exceed the limit of ${limits.maxEntries}`);
  if (count * CENTRAL_SIZE > cdSize) fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const utf8 = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let inflatedTotal = 0;
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdEnd) fail(`central directory entry ${i} runs past the directory's end`);
    if (u32(p) !== SIG_CENTRAL) fail(`bad signature for central directory entry ${i} at offset ${p}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc32 = u32(p + 16);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let headerOffset = u32(p + 42);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory's end`);
    if (nameLen > limits.maxNameLength) fail(`entry ${i}: name of ${nameLen} bytes exceeds the limit of ${limits.maxNameLength}`);
    const nameBytes = bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen);
    const name = utf8.decode(nameBytes);
    if (flags & 0x41) fail(`entry '${name}' is encrypted`);

    // zip64 extended information: only the fields whose 32-bit slot is saturated are present, in this order.
    let e = p + CENTRAL_SIZE + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(e);
      const sz = u16(e + 2);
      const body = e + 4;
      if (body + sz > extraEnd) fail(`entry '${name}': extra field runs past its end`);
      if (id === 0x0001) {
        let q = body;
        const take = (what: string): number => {
          if (q + 8 > body + sz) fail(`entry '${name}': zip64 extra field too short for the ${what}`);
          const v = u64(q, `entry '${name}' zip64 ${what}`);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (headerOffset === 0xffffffff) headerOffset = take('header offset');
      }
      e = body + sz;
    }

    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
      const what = METHOD_NAMES[method] ? `${method} (${METHOD_NAMES[method]})` : String(method);
      fail(`entry '${name}' uses compression method ${what}; only stored (0) and deflated (8) are supported`);
    }
    if (method === METHOD_STORED && size !== compressedSize) {
      fail(`stored entry '${name}' declares ${size} bytes but occupies ${compressedSize}`);
    }
    if (method === METHOD_DEFLATED && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      fail(`deflated entry '${name}' declares ${size} bytes from ${compressedSize} compressed bytes, beyond what deflate can produce`);
    }
    if (method === METHOD_DEFLATED) {
      inflatedTotal += size;
      if (inflatedTotal > limits.maxInflatedBytes) {
        fail(`deflated entries inflate to more than ${limits.maxInflatedBytes} bytes in total (at '${name}'); torch.save stores tensors uncompressed, so re-save the checkpoint with torch.save or store its entries`);
      }
    }

    // Local header: the data starts after its own (possibly different) extra field; torch pads there to align data.
    if (headerOffset + LOCAL_SIZE > cdOffset) fail(`entry '${name}': local header offset ${headerOffset} lies outside the data area [0, ${cdOffset})`);
    if (u32(headerOffset) !== SIG_LOCAL) fail(`entry '${name}': no local file header at offset ${headerOffset}`);
    const localNameLen = u16(headerOffset + 26);
    const localExtraLen = u16(headerOffset + 28);
    const dataOffset = headerOffset + LOCAL_SIZE + localNameLen + localExtraLen;
    if (localNameLen !== nameLen || !sameBytes(bytes.subarray(headerOffset + LOCAL_SIZE, headerOffset + LOCAL_SIZE + nameLen), nameBytes)) {
      fail(`entry '${name}': local header name does not match the central directory`);
    }
    if (dataOffset + compressedSize > cdOffset) {
      fail(`entry '${name}': data [${dataOffset}, ${dataOffset + compressedSize}) runs past the data area [0, ${cdOffset})`);
    }
    if (entries.has(name)) fail(`duplicate entry name '${name}'`);
    entries.set(name, { name, method, compressedSize, size, crc32, headerOffset, dataOffset });
    p = next;
  }

  // Entries must not share bytes: overlapping entries are how zip bombs multiply one compressed stream.
  const spans = [...entries.values()].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].headerOffset < prev.dataOffset + prev.compressedSize) {
      fail(`entries '${prev.name}' and '${spans[i].name}' overlap`);
    }
  }

  const verifyStored = options.verifyStoredCrc ?? false;
  return {
    entries,
    has: (name) => entries.has(name),
    read(name) {
      const entry = entries.get(name);
      if (!entry) return fail(`no entry named '${name}'`);
      const raw = bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
      if (entry.method === METHOD_STORED) {
        if (verifyStored && crc32(raw) !== entry.crc32) fail(`entry '${name}': CRC-32 mismatch (data corrupted)`);
        return raw;
      }
      // One byte of headroom: fflate drops writes past a caller-supplied buffer, so a stream that fills it lied about its size.
      const out = new Uint8Array(entry.size + 1);
      let got: Uint8Array;
      try {
        got = inflateSync(raw, { out });
      } catch (err) {
        if (err instanceof RangeError) fail(`entry '${name}': inflates to more than its declared ${entry.size} bytes`);
        return fail(`entry '${name}': corrupt deflate stream (${(err as Error).message})`);
      }
      if (got.length > entry.size) fail(`entry '${name}': inflates to more than its declared ${entry.size} bytes`);
      if (got.length < entry.size) fail(`entry '${name}': inflates to ${got.length} bytes, declared ${entry.size}`);
      const data = out.subarray(0, entry.size);
      if (crc32(data) !== entry.crc32) fail(`entry '${name}': CRC-32 mismatch (data corrupted)`);
      return data;
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let crcTable: Int32Array | undefined;
/** CRC-32 (IEEE 802.3, the zip checksum) of a byte array. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  const t = crcTable;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * safetensors reader and writer. Format: u64 little-endian header length N, N bytes of JSON
 * ({name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__"?: {..}}), then the data block.
 * The reader trusts nothing: the header length, every offset and every shape is checked against the
 * file before a byte is viewed.
 */
import { CheckpointError } from '../errors.ts';
import { type DType, type Tensor, BYTES_PER_ELEMENT, allocate, numel } from '../tensor.ts';

/** Headers above this are refused (the format's own reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPES: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const CODES: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v, k]));

export interface SafetensorsFile {
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Record<string, string>;
}

/**
 * Reads every tensor of a safetensors file. Tensors are zero-copy views of `bytes` when the offset
 * is aligned for their type, copies otherwise.
 */
export function readSafetensors(bytes: Uint8Array, file = 'safetensors'): SafetensorsFile {
  const fail = (problem: string): never => { throw new CheckpointError(file, problem); };
  if (bytes.byteLength < 8) fail(`too short for a safetensors file (${bytes.byteLength} bytes, need at least 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  if (8 + n > bytes.byteLength) fail(`header length ${n} runs past the end of the file (${bytes.byteLength} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  const views: (() => void)[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) fail('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry as object).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}': entry is not an object`);
    const dtype = typeof e.dtype === 'string' && Object.hasOwn(DTYPES, e.dtype) ? DTYPES[e.dtype] : undefined;
    if (!dtype) fail(`tensor '${name}': unsupported dtype ${JSON.stringify(e.dtype)} (accepted: ${Object.keys(DTYPES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    const count = numel(shape as number[]);
    const width = BYTES_PER_ELEMENT[dtype!];
    if (end < begin || end > dataLen) fail(`tensor '${name}': data_offsets [${begin}, ${end}) outside the ${dataLen}-byte data block`);
    if (end - begin !== count * width) {
      fail(`tensor '${name}': shape [${(shape as number[]).join(', ')}] of ${e.dtype} needs ${count * width} bytes, offsets give ${end - begin}`);
    }
    if (end > begin) spans.push({ name, begin, end });
    views.push(() => tensors.set(name, { dtype: dtype!, shape: shape as number[], data: viewAs(dtype!, bytes, dataStart + begin, count) }));
  }
  // The format gives every tensor its own bytes; shared ones would alias (and multiply a small file's claims).
  spans.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    const [a, b] = [spans[i - 1], spans[i]];
    if (b.begin < a.end) fail(`tensors '${a.name}' [${a.begin}, ${a.end}) and '${b.name}' [${b.begin}, ${b.end}) overlap; safetensors requires disjoint data_offsets`);
  }
  // only now are views (or, when unaligned, copies) made: overlapping claims never cost memory
  for (const view of views) view();
  return { tensors, metadata };
}

/** A typed-array view of `count` elements at `offset`, copied if the offset is not aligned. */
export function viewAs(dtype: DType, bytes: Uint8Array, offset: number, count: number): Tensor['data'] {
  const width = BYTES_PER_ELEMENT[dtype];
  const abs = bytes.byteOffset + offset;
  if (abs % width === 0) {
    switch (dtype) {
      case 'float32': return new Float32Array(bytes.buffer, abs, count);
      case 'float64': return new Float64Array(bytes.buffer, abs, count);
      case 'float16': case 'bfloat16': return new Uint16Array(bytes.buffer, abs, count);
      case 'int64': return new BigInt64Array(bytes.buffer, abs, count);
      case 'int32': return new Int32Array(bytes.buffer, abs, count);
      case 'int16': return new Int16Array(bytes.buffer, abs, count);
      case 'int8': return new Int8Array(bytes.buffer, abs, count);
      default: return new Uint8Array(bytes.buffer, abs, count);
    }
  }
  const out = allocate(dtype, count);
  new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + count * width));
  return out;
}

/** Writes tensors (and string metadata) as a safetensors file, data 8-byte aligned. */
export function writeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const code = CODES[t.dtype];
    if (!code) throw new Error(`writeSafetensors: dtype ${t.dtype} has no safetensors code`);
    const len = t.data.byteLength;
    header[name] = { dtype: code, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20); // pad with spaces
  headerBytes.set(raw);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

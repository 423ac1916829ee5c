/**
 * Reader for `torch.save` checkpoints in the zip format (PyTorch >= 1.6): `<archive>/data.pkl` pickles
 * the object, tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` calls
 * whose storages are persistent ids `('storage', <dtype>Storage, key, location, numel)` pointing at the
 * raw little-endian bytes in `<archive>/data/<key>`. Only the globals listed in TORCH_GLOBALS are
 * accepted, and nothing is executed: they map to the small functions below.
 *
 * Result: dicts (plain and OrderedDict) are ordered `Map`s, lists and tuples arrays (tuples frozen),
 * tensors `Tensor`s (zero-copy views of `bytes` when contiguous and aligned, copies otherwise), other
 * values as in pickle.ts.
 */
import { CheckpointError } from '../errors.ts';
import { type DType, type Tensor, BYTES_PER_ELEMENT, allocate } from '../tensor.ts';
import { type PickleCallable, type PickleLimits, PickleGlobal, describe, unpickle } from './pickle.ts';
import { viewAs } from './safetensors.ts';
import { type ZipArchive, type ZipLimits, isZip, readZip } from './zip.ts';

/** Storage classes of persistent ids and the dtype of their elements. */
const STORAGE_DTYPES: Record<string, DType> = {
  'torch.FloatStorage': 'float32', 'torch.HalfStorage': 'float16', 'torch.BFloat16Storage': 'bfloat16',
  'torch.DoubleStorage': 'float64', 'torch.LongStorage': 'int64', 'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16', 'torch.CharStorage': 'int8', 'torch.ByteStorage': 'uint8', 'torch.BoolStorage': 'bool',
  // torch >= 2 saves a bare UntypedStorage as bytes (torch.load reads it back as uint8)
  'torch.UntypedStorage': 'uint8',
};

/** `torch.<dtype>` objects may appear as values (e.g. in metadata); they are kept as PickleGlobal references. */
const DTYPE_GLOBALS = [
  'float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'int64', 'long', 'int32', 'int', 'int16',
  'short', 'int8', 'uint8', 'bool',
].map((n) => `torch.${n}`);

/** The globals a torch checkpoint may reference (everything else is refused). */
export const TORCH_GLOBALS: readonly string[] = [
  'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state', ...Object.keys(STORAGE_DTYPES), ...DTYPE_GLOBALS,
];

/** The pickle protocol-2 header + LONG1 magic number 0x1950a86a20f9469cfc6c that starts a legacy torch.save file. */
const LEGACY_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export interface TorchReadOptions {
  /** Extra allowed globals (dotted name -> what calling it returns; null = value only). Nothing is executed either way. */
  extraGlobals?: Readonly<Record<string, PickleCallable | null>>;
  pickleLimits?: Partial<PickleLimits>;
  zipLimits?: Partial<ZipLimits>;
  /** Check the CRC-32 of every storage entry (costs about as much as the read itself; off by default). */
  verifyCrc?: boolean;
  /**
   * Budget for bytes allocated to materialise non-contiguous tensors (contiguous ones are views).
   * Default: the input's size + 1 MiB, so a small file cannot make us allocate gigabytes.
   */
  maxMaterializedBytes?: number;
}

/** A storage loaded from `data/<key>`: the typed elements, shared by every tensor built on it. */
class TorchStorage {
  constructor(readonly key: string, readonly dtype: DType, readonly data: Tensor['data']) {}
}

/** True if `bytes` is a legacy (pre-1.6, non-zip) torch.save file. */
export function isLegacyTorch(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 2 + LEGACY_MAGIC.length || bytes[0] !== 0x80) return false;
  return LEGACY_MAGIC.every((b, i) => bytes[2 + i] === b);
}

/**
 * Reads a `torch.save` zip checkpoint into plain JS values (ordered Maps for dicts, arrays, Tensors).
 * Throws CheckpointError naming `file` for anything malformed, unsupported or refused.
 */
export function readTorchCheckpoint(bytes: Uint8Array, file: string, options: TorchReadOptions = {}): unknown {
  const fail = (problem: string): never => { throw new CheckpointError(file, problem); };
  if (bytes.byteLength === 0) fail('empty file (0 bytes); expected a torch.save zip archive');
  if (isLegacyTorch(bytes)) {
    fail('legacy (pre-1.6) torch.save format is not supported: re-save it with torch>=1.6 (torch.save(obj, path))');
  }
  if (!isZip(bytes)) {
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(`not a torch.save zip archive (starts with ${head}); accepted: torch.save files from PyTorch >= 1.6 (zip, starting 'PK\\x03\\x04'), or safetensors through loadStateDict`);
  }
  const zip = readZip(bytes, file, { limits: options.zipLimits, verifyStoredCrc: options.verifyCrc });
  const prefix = torchArchivePrefix(zip, file);
  if (zip.has(`${prefix}constants.pkl`) || [...zip.entries.keys()].some((n) => n.startsWith(`${prefix}code/`))) {
    fail('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint: save the state_dict with torch.save instead');
  }

  const byteorder = `${prefix}byteorder`;
  if (zip.has(byteorder)) {
    const order = new TextDecoder().decode(zip.read(byteorder)).trim();
    if (order !== 'little') fail(`byteorder is '${order.slice(0, 20)}': only little-endian checkpoints are supported`);
  }

  let budget = options.maxMaterializedBytes ?? bytes.byteLength + (1 << 20);
  const storages = new Map<string, TorchStorage>();
  const tensors = new WeakSet<object>();

  const loadStorage = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      return fail(`data.pkl: persistent id ${summarize(pid)} is not ('storage', type, key, location, numel)`);
    }
    const [, type, key, , numel] = pid as unknown[];
    const typeName = type instanceof PickleGlobal ? type.qualifiedName : undefined;
    const dtype = typeName ? STORAGE_DTYPES[typeName] : undefined;
    if (!dtype) return fail(`data.pkl: persistent id names storage type ${type instanceof PickleGlobal ? `'${typeName}'` : describe(type)}, not one of ${Object.keys(STORAGE_DTYPES).join(', ')}`);
    if (typeof key !== 'string') return fail(`data.pkl: storage key ${summarize(key)} is not a string`);
    if (!Number.isSafeInteger(numel) || (numel as number) < 0) return fail(`data.pkl: storage '${key}' has invalid element count ${summarize(numel)}`);
    const cached = storages.get(key);
    if (cached) {
      // torch refuses to save one storage under two dtypes, so a second spelling is a corrupt file
      if (cached.dtype !== dtype || cached.data.length !== numel) {
        fail(`data.pkl: storage '${key}' is declared as ${numel} ${dtype} and as ${cached.data.length} ${cached.dtype}`);
      }
      return cached;
    }
    const entry = `${prefix}data/${key}`;
    if (!zip.has(entry)) fail(`data.pkl: storage '${key}' not found in the archive (no entry '${entry}')`);
    const raw = zip.read(entry);
    const width = BYTES_PER_ELEMENT[dtype];
    if (raw.byteLength !== (numel as number) * width) {
      fail(`storage '${key}': entry '${entry}' holds ${raw.byteLength} bytes, the pickle declares ${numel} ${dtype} values (${(numel as number) * width} bytes)`);
    }
    // viewAs copies once here if the entry is unaligned, so every tensor on this storage is a view afterwards.
    const storage = new TorchStorage(key, dtype, viewAs(dtype, raw, 0, numel as number));
    storages.set(key, storage);
    return storage;
  };

  const rebuildTensor = (args: unknown[]): Tensor => {
    if (args.length < 4 || args.length > 7) fail(`_rebuild_tensor_v2 called with ${args.length} arguments (expected 6 or 7)`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof TorchStorage)) return fail(`_rebuild_tensor_v2: first argument is a ${describe(storage)}, not a storage`);
    const shape = intList(size, 'size');
    const strides = intList(stride, 'stride');
    if (shape.length !== strides.length) fail(`_rebuild_tensor_v2: size [${shape.join(', ')}] and stride [${strides.join(', ')}] differ in length`);
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) fail(`_rebuild_tensor_v2: storage offset ${summarize(offset)} is not a non-negative integer`);
    const off = offset as number;
    let count = 1;
    let last = off; // highest storage index touched
    for (let i = 0; i < shape.length; i++) {
      count *= shape[i];
      if (shape[i] > 0) last += (shape[i] - 1) * strides[i];
    }
    const { dtype, data } = storage;
    const where = `tensor of size [${shape.join(', ')}], stride [${strides.join(', ')}], offset ${off} on storage '${storage.key}' (${data.length} ${dtype})`;
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(last)) fail(`${where}: size overflows`);
    let out: Tensor['data'];
    if (count === 0) {
      out = allocate(dtype, 0);
    } else {
      if (last >= data.length) fail(`${where}: needs storage elements up to index ${last}`);
      if (isContiguous(shape, strides)) {
        out = data.subarray(off, off + count);
      } else {
        const nbytes = count * BYTES_PER_ELEMENT[dtype];
        if (nbytes > budget) fail(`${where}: materialising it needs ${nbytes} bytes, beyond the ${budget}-byte budget this file justifies`);
        budget -= nbytes;
        out = gather(dtype, data, off, shape, strides, count);
      }
    }
    const t: Tensor = { dtype, shape, data: out };
    tensors.add(t);
    return t;
  };

  const rebuildParameter = (args: unknown[]): unknown => {
    const t = args[0];
    if (args.length < 3 || typeof t !== 'object' || t === null || !tensors.has(t)) {
      fail(`_rebuild_parameter: expected (tensor, requires_grad, hooks[, state]), got ${args.length} arguments starting with a ${describe(t)}`);
    }
    return t;
  };

  const orderedDict = (args: unknown[]): Map<unknown, unknown> => {
    const m = new Map<unknown, unknown>();
    if (args.length === 0) return m;
    const items = args[0];
    if (args.length > 1 || !Array.isArray(items)) fail(`collections.OrderedDict called with ${describe(items)} arguments`);
    for (const kv of items as unknown[]) {
      if (!Array.isArray(kv) || kv.length !== 2) fail('collections.OrderedDict: items are not (key, value) pairs');
      m.set((kv as unknown[])[0], (kv as unknown[])[1]);
    }
    return m;
  };

  const globals: Record<string, PickleCallable | null> = {
    'collections.OrderedDict': orderedDict,
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': rebuildParameter,
    'torch._utils._rebuild_parameter_with_state': rebuildParameter,
  };
  for (const name of [...Object.keys(STORAGE_DTYPES), ...DTYPE_GLOBALS]) globals[name] = null;
  Object.assign(globals, options.extraGlobals);

  return unpickle(zip.read(`${prefix}data.pkl`), {
    file, part: 'data.pkl', globals, persistentLoad: loadStorage, limits: options.pickleLimits,
  });

  function intList(v: unknown, what: string): number[] {
    if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`_rebuild_tensor_v2: ${what} ${summarize(v)} is not a tuple of non-negative integers`);
    }
    if (v.length > 64) fail(`_rebuild_tensor_v2: ${v.length} dimensions`);
    return [...(v as number[])];
  }
}

/** The top-level folder of a torch archive (`<name>/` holding data.pkl), or '' when data.pkl is at the root. */
export function torchArchivePrefix(zip: ZipArchive, file: string): string {
  const candidates = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || (n.endsWith('/data.pkl') && n.indexOf('/') === n.length - 9));
  if (candidates.length === 1) return candidates[0].slice(0, -8);
  const names = [...zip.entries.keys()];
  const shown = names.slice(0, 5).map((n) => `'${n}'`).join(', ') + (names.length > 5 ? ', ...' : '');
  if (candidates.length === 0) {
    throw new CheckpointError(file, `zip archive has no '<archive>/data.pkl', so it is not a torch.save checkpoint (entries: ${shown || 'none'})`);
  }
  throw new CheckpointError(file, `zip archive has several data.pkl records (${candidates.join(', ')}); expected exactly one`);
}

/** C-contiguous, ignoring the strides of size-1 dimensions (as torch does). */
function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Copies a strided view into a new C-contiguous array. */
function gather(dtype: DType, src: Tensor['data'], offset: number, shape: number[], strides: number[], count: number): Tensor['data'] {
  const out = allocate(dtype, count);
  const o = out as unknown as { [i: number]: unknown };
  const s = src as unknown as { readonly [i: number]: unknown };
  const nd = shape.length;
  if (nd === 0) { o[0] = s[offset]; return out; }
  const inner = shape[nd - 1];
  const innerStride = strides[nd - 1];
  const idx = new Array<number>(nd).fill(0);
  let base = offset;
  for (let w = 0; w < count;) {
    for (let k = 0, p = base; k < inner; k++, p += innerStride) o[w++] = s[p];
    // odometer over the outer dimensions
    let d = nd - 2;
    for (; d >= 0; d--) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

function summarize(v: unknown): string {
  if (typeof v === 'string') return `'${v.slice(0, 40)}'`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v) && v.length <= 8) return `(${v.map((x) => (typeof x === 'object' && x !== null ? describe(x) : summarize(x))).join(', ')})`;
  return `a ${describe(v)}`;
}

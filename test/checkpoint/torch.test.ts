import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorchCheckpoint } from '../../src/core/checkpoint/torch.ts';
import { readZip } from '../../src/core/checkpoint/zip.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { type Tensor, float16BitsToFloat32, bfloat16BitsToFloat32 } from '../../src/core/tensor.ts';
import { GOLDEN } from '../helpers/golden.ts';
import { PickleWriter, f32Bytes, i64Bytes, torchZip, u16Bytes, writeZip, concat } from './fixtures.ts';
import { deflateBombCheckpoint } from '../abuse/hostile-checkpoints.ts';

const FILE = 'synthetic.pth';

function throwsCheckpoint(fn: () => unknown, re: RegExp, label?: string, file = FILE): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `${label ?? re}: got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.startsWith(`${file}: `), `${label}: message does not name the file: ${e.message}`);
    assert.match(e.message, re, label);
    return true;
  }, label);
}

const S = Array.from({ length: 12 }, (_, i) => i + 0.5); // float storage '0': 0.5 .. 11.5

/** {'w': [3,4] view, 'tail': [2,3] at offset 2 (strided rows), 'wt': transposed, 'h': fp16, 'b': bf16, ...} */
function syntheticPickle(): Uint8Array {
  const w = new PickleWriter().proto(2).op('}').put(0).mark();
  w.str('sd').orderedDict().put(1).mark();
  w.str('w').tensor('FloatStorage', '0', 12, 0, [3, 4], [4, 1]);
  w.str('first6').tensor('FloatStorage', '0', 12, 0, [6], [1]);
  w.str('last6').tensor('FloatStorage', '0', 12, 6, [6], [1]);
  w.str('tail').tensor('FloatStorage', '0', 12, 2, [2, 3], [4, 1]);
  w.str('wt').tensor('FloatStorage', '0', 12, 0, [4, 3], [1, 4]);
  w.str('col').tensor('FloatStorage', '0', 12, 1, [1, 3], [99, 1]); // size-1 dim with an odd stride: still contiguous
  w.str('h').tensor('HalfStorage', 'h', 4, 0, [2, 2], [2, 1]);
  w.str('b').tensor('BFloat16Storage', 'b', 3, 1, [2], [1]);
  w.str('i').tensor('LongStorage', 'i', 4, 0, [4], [1]);
  w.str('scalar').tensor('LongStorage', 'i', 4, 3, [], []);
  w.str('flag').tensor('BoolStorage', 'f', 3, 0, [3], [1]);
  w.str('empty').tensor('FloatStorage', '0', 12, 0, [0, 5], [5, 1]);
  w.op('u'); // close the OrderedDict
  w.str('meta').op(']').mark().int(1).str('two').float(3.25).none().op('e').mark().int(4).mark().int(5).op(']').op('t').op('t').op('a');
  w.op('u').stop();
  return w.bytes();
}
function syntheticStorages(): Record<string, Uint8Array> {
  return {
    0: f32Bytes(S),
    h: u16Bytes([0x3c00, 0xc000, 0x3555, 0x7c00]), // 1, -2, 0.333, inf
    b: u16Bytes([0x3f80, 0x4049, 0xbf00]), // 1, 3.140625, -0.5
    i: i64Bytes([0n, -1n, 2n ** 40n, 42n]),
    f: new Uint8Array([1, 0, 1]),
  };
}

function check(result: unknown, zip: Uint8Array, zeroCopy: boolean | undefined): void {
  assert.ok(result instanceof Map);
  const sd = result.get('sd') as Map<string, Tensor>;
  assert.ok(sd instanceof Map);
  assert.deepEqual([...sd.keys()], ['w', 'first6', 'last6', 'tail', 'wt', 'col', 'h', 'b', 'i', 'scalar', 'flag', 'empty']);
  const w = sd.get('w')!;
  assert.equal(w.dtype, 'float32');
  assert.deepEqual(w.shape, [3, 4]);
  assert.deepEqual([...w.data], S);
  // shared storage: both halves view the same bytes, read once
  const a = sd.get('first6')!.data as Float32Array;
  const b = sd.get('last6')!.data as Float32Array;
  assert.deepEqual([...a], S.slice(0, 6));
  assert.deepEqual([...b], S.slice(6));
  assert.equal(a.buffer, b.buffer);
  assert.equal(b.byteOffset - a.byteOffset, 24);
  if (zeroCopy !== undefined) assert.equal(a.buffer === zip.buffer, zeroCopy, 'contiguous aligned tensors are views of the input');
  assert.deepEqual([...sd.get('tail')!.data], [2.5, 3.5, 4.5, 6.5, 7.5, 8.5]);
  const wt = sd.get('wt')!;
  assert.deepEqual(wt.shape, [4, 3]);
  assert.deepEqual([...wt.data], [0.5, 4.5, 8.5, 1.5, 5.5, 9.5, 2.5, 6.5, 10.5, 3.5, 7.5, 11.5]);
  assert.notEqual(wt.data.buffer, zip.buffer, 'a transposed tensor is materialised');
  assert.deepEqual([...sd.get('col')!.data], [1.5, 2.5, 3.5]);
  if (zeroCopy !== undefined) assert.equal(sd.get('col')!.data.buffer === zip.buffer, zeroCopy);
  const h = sd.get('h')!;
  assert.equal(h.dtype, 'float16');
  assert.deepEqual([...(h.data as Uint16Array)].map(float16BitsToFloat32), [1, -2, float16BitsToFloat32(0x3555), Infinity]);
  const bf = sd.get('b')!;
  assert.equal(bf.dtype, 'bfloat16');
  assert.deepEqual([...(bf.data as Uint16Array)].map(bfloat16BitsToFloat32), [3.140625, -0.5]);
  assert.deepEqual([...sd.get('i')!.data], [0n, -1n, 2n ** 40n, 42n]);
  const scalar = sd.get('scalar')!;
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual([...scalar.data], [42n]);
  const flag = sd.get('flag')!;
  assert.equal(flag.dtype, 'bool');
  assert.deepEqual([...flag.data], [1, 0, 1]);
  assert.deepEqual(sd.get('empty')!.shape, [0, 5]);
  assert.equal(sd.get('empty')!.data.length, 0);
  assert.deepEqual(result.get('meta'), [1, 'two', 3.25, null, [4, [5, []]]]);
}

test('synthetic torch archive: shared storage, offsets, strides, fp16/bf16/int64/bool, OrderedDict, nested list/tuple', () => {
  const zip = torchZip(syntheticPickle(), syntheticStorages());
  check(readTorchCheckpoint(zip, FILE), zip, true);
});

test('synthetic archive variants: no zip64, deflated entries, unaligned data, root-level data.pkl, byteorder', () => {
  const pk = syntheticPickle();
  const st = syntheticStorages();
  const plain = torchZip(pk, st, { zip64: false });
  check(readTorchCheckpoint(plain, FILE), plain, true);
  const deflated = torchZip(pk, st, { method: 8 });
  check(readTorchCheckpoint(deflated, FILE), deflated, false);
  const unaligned = torchZip(pk, st, { align: 0 });
  check(readTorchCheckpoint(unaligned, FILE), unaligned, undefined);
  const little = torchZip(pk, st, { byteorder: 'little' });
  check(readTorchCheckpoint(little, FILE), little, true);
  const entries = [{ name: 'data.pkl', data: pk }, ...Object.entries(st).map(([k, v]) => ({ name: `data/${k}`, data: v }))];
  const root = writeZip(entries, { align: 64 });
  check(readTorchCheckpoint(root, FILE), root, true);
  throwsCheckpoint(() => readTorchCheckpoint(torchZip(pk, st, { byteorder: 'big' }), FILE), /byteorder is 'big': only little-endian/);
});

test('non-zip inputs: empty, junk, legacy torch.save, safetensors', () => {
  throwsCheckpoint(() => readTorchCheckpoint(new Uint8Array(0), FILE), /empty file/);
  throwsCheckpoint(() => readTorchCheckpoint(new TextEncoder().encode('hello, world'), FILE), /not a torch\.save zip archive \(starts with 68 65 6c.*accepted: torch\.save files from PyTorch >= 1\.6/);
  const legacy = concat([[0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e], new Uint8Array(100)]);
  throwsCheckpoint(() => readTorchCheckpoint(legacy, FILE), /^synthetic\.pth: legacy \(pre-1\.6\) torch\.save format is not supported: re-save it with torch>=1\.6 \(torch\.save\(obj, path\)\)$/);
  const st = readFileSync(join(GOLDEN, 'hub/openai/whisper-small/model.safetensors'));
  throwsCheckpoint(() => readTorchCheckpoint(new Uint8Array(st), FILE), /not a torch\.save zip archive/);
});

test('zip damage: truncation, central directory outside the file, lying sizes, methods, limits', () => {
  const good = torchZip(syntheticPickle(), syntheticStorages(), { zip64: false });
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const eocd = good.length - 22;
  const cdOffset = dv(good).getUint32(eocd + 16, true);
  const edit = (f: (b: Uint8Array, v: DataView) => void) => { const b = good.slice(); f(b, dv(b)); return b; };
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated to half', good.subarray(0, good.length >> 1), /no end-of-central-directory record/],
    ['last byte missing', good.subarray(0, good.length - 1), /no end-of-central-directory record/],
    ['too short', good.subarray(0, 10), /too short for a zip archive/],
    ['cd offset outside', edit((_, v) => v.setUint32(eocd + 16, 0x7fff0000, true)), /central directory \[\d+, \d+\) lies outside the archive/],
    ['cd size outside', edit((_, v) => v.setUint32(eocd + 12, 0x7fff0000, true)), /central directory .* lies outside/],
    ['too many entries for cd', edit((_, v) => v.setUint16(eocd + 10, 60000, true)), /60000 entries cannot fit/],
    ['cd entry signature', edit((_, v) => v.setUint32(cdOffset, 0x12345678, true)), /bad signature for central directory entry 0/],
    ['compressed size lies', edit((_, v) => { v.setUint32(cdOffset + 20, 0x10000000, true); v.setUint32(cdOffset + 24, 0x10000000, true); }), /runs past the data area/],
    ['stored sizes disagree', edit((_, v) => v.setUint32(cdOffset + 24, 5, true)), /stored entry 'archive\/data\.pkl' declares 5 bytes but occupies \d+/],
    ['local header offset outside', edit((_, v) => v.setUint32(cdOffset + 42, 0x7ffffff0, true)), /local header offset \d+ lies outside/],
    ['local header missing', edit((_, v) => v.setUint32(cdOffset + 42, 7, true)), /no local file header at offset 7/],
    ['bzip2', edit((_, v) => v.setUint16(cdOffset + 10, 12, true)), /compression method 12 \(bzip2\); only stored \(0\) and deflated \(8\)/],
    ['encrypted', edit((_, v) => v.setUint16(cdOffset + 8, 1, true)), /is encrypted/],
    ['zip64 record missing', edit((_, v) => v.setUint32(eocd + 16, 0xffffffff, true)), /asks for zip64 values but there is no zip64 locator/],
    ['local name differs', edit((b) => { b[30] ^= 0x20; }), /local header name does not match/],
  ];
  for (const [label, bytes, re] of cases) throwsCheckpoint(() => readTorchCheckpoint(bytes, FILE), re, label);

  // zip64 variant: the EOCD64 record's fields are authoritative
  const z64 = torchZip(syntheticPickle(), syntheticStorages());
  const loc = z64.length - 22 - 20;
  const rec = Number(dv(z64).getBigUint64(loc + 8, true));
  const e64 = (f: (v: DataView) => void) => { const b = z64.slice(); f(dv(b)); return b; };
  throwsCheckpoint(() => readTorchCheckpoint(e64((v) => v.setBigUint64(rec + 48, 1n << 40n, true)), FILE), /central directory .* lies outside/, 'zip64 cd offset');
  throwsCheckpoint(() => readTorchCheckpoint(e64((v) => v.setBigUint64(loc + 8, 1n << 60n, true)), FILE), /beyond any supported file size/, 'zip64 locator');
  throwsCheckpoint(() => readTorchCheckpoint(e64((v) => v.setBigUint64(loc + 8, 3n, true)), FILE), /no zip64 end-of-central-directory record at offset 3/, 'zip64 record');

  // deflated entries whose declared size lies
  const defl = writeZip([{ name: 'a/data.pkl', data: new Uint8Array(1000).fill(0x41), method: 8 }]);
  const dcd = dv(defl).getUint32(defl.length - 22 + 16, true);
  const shrink = defl.slice(); dv(shrink).setUint32(dcd + 24, 999, true);
  throwsCheckpoint(() => readZip(shrink, FILE).read('a/data.pkl'), /inflates to more than its declared 999 bytes/, 'deflate too big');
  const grow = defl.slice(); dv(grow).setUint32(dcd + 24, 1001, true);
  throwsCheckpoint(() => readZip(grow, FILE).read('a/data.pkl'), /inflates to 1000 bytes, declared 1001/, 'deflate too small');
  const bomb = defl.slice(); dv(bomb).setUint32(dcd + 24, 0x7fffffff, true);
  throwsCheckpoint(() => readZip(bomb, FILE), /beyond what deflate can produce/, 'deflate ratio');
  const crc = defl.slice(); dv(crc).setUint32(dcd + 16, 1234, true);
  throwsCheckpoint(() => readZip(crc, FILE).read('a/data.pkl'), /CRC-32 mismatch/, 'crc');
  const corrupt = defl.slice(); corrupt.fill(0xff, 40, 44);
  throwsCheckpoint(() => readZip(corrupt, FILE).read('a/data.pkl'), /corrupt deflate stream|inflates to|CRC-32/, 'corrupt deflate');

  // overlapping and duplicate entries
  const two = writeZip([{ name: 'x', data: new Uint8Array(8) }, { name: 'y', data: new Uint8Array(8) }]);
  const tcd = dv(two).getUint32(two.length - 22 + 16, true);
  const dup = two.slice(); dup[tcd + 46 + 1 + 46] = 0x78; // second central name 'y' -> 'x'
  dup[(30 + 1 + 8) + 30] = 0x78;
  throwsCheckpoint(() => readZip(dup, FILE), /duplicate entry name 'x'/, 'duplicate');
  // limits
  throwsCheckpoint(() => readZip(two, FILE, { limits: { maxEntries: 1 } }), /2 entries exceed the limit of 1/);
  throwsCheckpoint(() => readZip(writeZip([{ name: 'x'.repeat(300), data: new Uint8Array(1) }]), FILE, { limits: { maxNameLength: 256 } }), /name of 300 bytes exceeds the limit of 256/);
  // TorchScript archives are named as such
  const ts = writeZip([{ name: 'm/data.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) }, { name: 'm/constants.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) }, { name: 'm/code/m.py', data: new Uint8Array(1) }]);
  throwsCheckpoint(() => readTorchCheckpoint(ts, FILE), /TorchScript archive \(torch\.jit\.save\)/);
  // CRC of stored entries is checked on request
  const badCrc = good.slice(); new DataView(badCrc.buffer).setUint32(cdOffset + 16, 0, true);
  assert.ok(readTorchCheckpoint(badCrc, FILE) instanceof Map);
  throwsCheckpoint(() => readTorchCheckpoint(badCrc, FILE, { verifyCrc: true }), /entry 'archive\/data\.pkl': CRC-32 mismatch/);
  // a zip that is not a torch archive
  throwsCheckpoint(() => readTorchCheckpoint(two, FILE), /no '<archive>\/data\.pkl', so it is not a torch\.save checkpoint \(entries: 'x', 'y'\)/);
});

test('deflated entries are capped in total before anything is inflated', () => {
  // three 1000-byte deflated entries: fine under the default cap, refused under a 2500-byte one
  const three = writeZip(['a', 'b', 'c'].map((name) => ({ name, data: new Uint8Array(1000).fill(0x41), method: 8 as const })));
  assert.equal(readZip(three, FILE).read('c').length, 1000);
  throwsCheckpoint(() => readZip(three, FILE, { limits: { maxInflatedBytes: 2500 } }),
    /zip: deflated entries inflate to more than 2500 bytes in total \(at 'c'\); torch\.save stores tensors uncompressed/);
  // stored entries do not count: they are views of the file
  const stored = writeZip(['a', 'b', 'c'].map((name) => ({ name, data: new Uint8Array(1000) })));
  assert.equal(readZip(stored, FILE, { limits: { maxInflatedBytes: 0 } }).entries.size, 3);
  // the 4 x 1 GiB bomb (4 MB) is refused from its central directory alone
  const bomb = deflateBombCheckpoint(4, 2 ** 30);
  assert.ok(bomb.length < 5e6);
  throwsCheckpoint(() => readTorchCheckpoint(bomb, FILE), /deflated entries inflate to more than 268435456 bytes in total \(at 'archive\/data\/0'\)/);
});

test('pickle-level damage inside a torch archive', () => {
  const P = () => new PickleWriter().proto(2).op('}').str('t');
  const st = { 0: f32Bytes(S) };
  const cases: [string, Uint8Array, Record<string, Uint8Array>, RegExp][] = [
    ['missing storage', P().tensor('FloatStorage', '7', 12, 0, [12], [1]).op('s').stop().bytes(), st, /data\.pkl: storage '7' not found in the archive \(no entry 'archive\/data\/7'\)/],
    ['size x stride past storage', P().tensor('FloatStorage', '0', 12, 0, [4, 4], [4, 1]).op('s').stop().bytes(), st, /tensor of size \[4, 4\], stride \[4, 1\], offset 0 on storage '0' \(12 float32\): needs storage elements up to index 15/],
    ['offset past storage', P().tensor('FloatStorage', '0', 12, 12, [1], [1]).op('s').stop().bytes(), st, /needs storage elements up to index 12/],
    ['numel disagrees with entry', P().tensor('FloatStorage', '0', 13, 0, [12], [1]).op('s').stop().bytes(), st, /entry 'archive\/data\/0' holds 48 bytes, the pickle declares 13 float32 values \(52 bytes\)/],
    ['same key, two dtypes', P().tensor('FloatStorage', '0', 12, 0, [1], [1]).op('s').str('u').tensor('IntStorage', '0', 12, 0, [1], [1]).op('s').stop().bytes(), st, /storage '0' is declared as 12 int32 and as 12 float32/],
    ['unknown storage type', P().tensor('ComplexFloatStorage', '0', 12, 0, [1], [1]).op('s').stop().bytes(), st, /refused global 'torch\.ComplexFloatStorage'/],
    ['refused global', P().global('os', 'system').str('rm -rf /').tuple(1).op('R').op('s').stop().bytes(), st, /data\.pkl: pickle: refused global 'os\.system' \(allowed: collections\.OrderedDict, torch\._utils\._rebuild_tensor_v2, torch\._utils\._rebuild_parameter,/],
    ['refused via STACK_GLOBAL', new PickleWriter().proto(4).stackGlobal('builtins', 'eval').str('1').tuple(1).op('R').stop().bytes(), st, /refused global 'builtins\.eval'/],
    ['bad persistent id', P().str('nope').op('Q').op('s').stop().bytes(), st, /persistent id 'nope' is not \('storage', type, key, location, numel\)/],
    ['negative stride', P().global('torch._utils', '_rebuild_tensor_v2').mark().mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(12).op('t').op('Q').int(0).ints([2]).int(-1).tuple(1).bool(false).orderedDict().op('t').op('R').op('s').stop().bytes(), st, /stride \(-1\) is not a tuple of non-negative integers/],
    ['rank mismatch', P().tensor('FloatStorage', '0', 12, 0, [2, 2], [1]).op('s').stop().bytes(), st, /size \[2, 2\] and stride \[1\] differ in length/],
    ['rebuild on a non-storage', P().global('torch._utils', '_rebuild_tensor_v2').mark().int(1).int(0).ints([1]).ints([1]).bool(false).none().op('t').op('R').op('s').stop().bytes(), st, /first argument is a number, not a storage/],
    ['parameter of a non-tensor', P().global('torch._utils', '_rebuild_parameter').int(1).bool(false).orderedDict().tuple(3).op('R').op('s').stop().bytes(), st, /_rebuild_parameter: expected \(tensor/],
    ['no STOP', P().tensor('FloatStorage', '0', 12, 0, [12], [1]).op('s').bytes(), st, /input ends before STOP/],
    ['stride-0 expansion bomb', P().tensor('FloatStorage', '0', 12, 0, [100000, 100000], [0, 0]).op('s').stop().bytes(), st, /materialising it needs 40000000000 bytes, beyond the \d+-byte budget/],
  ];
  for (const [label, pk, storages, re] of cases) throwsCheckpoint(() => readTorchCheckpoint(torchZip(pk, storages), FILE), re, label);

  // nn.Parameter wrappers unwrap to their tensor
  const param = P().global('torch._utils', '_rebuild_parameter').tensor('FloatStorage', '0', 12, 0, [12], [1]).bool(true).orderedDict().tuple(3).op('R').op('s').stop().bytes();
  const v = readTorchCheckpoint(torchZip(param, st), FILE) as Map<string, Tensor>;
  assert.deepEqual([...v.get('t')!.data], S);
  // extra globals are opt-in and still never executed
  const ns = P().global('argparse', 'Namespace').tuple(0).op('R').op('s').stop().bytes();
  throwsCheckpoint(() => readTorchCheckpoint(torchZip(ns, st), FILE), /refused global 'argparse\.Namespace'/);
  const withNs = readTorchCheckpoint(torchZip(ns, st), FILE, { extraGlobals: { 'argparse.Namespace': () => ({ namespace: true }) } }) as Map<string, unknown>;
  assert.deepEqual(withNs.get('t'), { namespace: true });
});

test('bytes of a storage read once even when many tensors share it', () => {
  const w = new PickleWriter().proto(2).op(']');
  for (let i = 0; i < 50; i++) w.tensor('FloatStorage', '0', 12, i % 12, [1], [1]).op('a');
  const zip = torchZip(w.stop().bytes(), { 0: f32Bytes(S) });
  const list = readTorchCheckpoint(zip, FILE) as Tensor[];
  assert.equal(list.length, 50);
  assert.ok(list.every((t, i) => t.data.buffer === zip.buffer && t.data[0] === S[i % 12]));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WeightStore, detectCheckpointFormat, flattenStateDict, foldWeightNorm, loadStateDict, renameKeys, stripPrefix, withPrefix,
} from '../../src/core/checkpoint/state-dict.ts';
import { writeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { CheckpointError, ModelMismatchError } from '../../src/core/errors.ts';
import { type Tensor, f32, float32ToFloat16Bits, tensor } from '../../src/core/tensor.ts';
import { PickleWriter, f32Bytes, torchZip } from './fixtures.ts';
import { memoDagCheckpoint } from '../abuse/hostile-checkpoints.ts';

const t = (shape: number[], values?: number[]) => f32(shape, values ?? Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));

test('flattenStateDict joins nested Maps / objects / arrays with dots and skips non-tensors', () => {
  const a = t([2]);
  const b = t([1]);
  const c = t([3]);
  const nested = new Map<unknown, unknown>([
    ['net', new Map<unknown, unknown>([['cfm', new Map([['w', a]])], ['lr', { b }]])],
    ['epoch', 12], ['name', 'x'], ['list', [c, null]], [3, b],
  ]);
  const flat = flattenStateDict(nested);
  assert.deepEqual([...flat.keys()], ['net.cfm.w', 'net.lr.b', 'list.0', '3']);
  assert.equal(flat.get('net.cfm.w'), a);
  assert.deepEqual([...flattenStateDict(nested, 'root.').keys()][0], 'root.net.cfm.w');
  // cycles and duplicates are refused with the file name
  const cyc: unknown[] = [];
  cyc.push(cyc);
  assert.throws(() => flattenStateDict(new Map([['a', cyc]]), '', 'f.pt'), (e) => e instanceof CheckpointError && /^f\.pt: 'a\.0' contains itself/.test(e.message));
  assert.throws(() => flattenStateDict(new Map<string, unknown>([['a.b', a], ['a', { b: a }]]), '', 'f.pt'), /key 'a\.b' occurs twice/);
  let deep: unknown = a;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => flattenStateDict(deep, '', 'f.pt'), /nesting deeper than 64 levels/);
});

test('loadStateDict detects safetensors and torch zips by magic and refuses the rest', () => {
  const st = writeSafetensors({ 'a.weight': t([2, 2]) });
  assert.equal(detectCheckpointFormat(st), 'safetensors');
  assert.deepEqual([...loadStateDict(st, 's.safetensors').keys()], ['a.weight']);
  const pk = new PickleWriter().proto(2).op('}').str('net').op('}').str('w').tensor('FloatStorage', '0', 2, 0, [2], [1]).op('s').op('s').stop().bytes();
  const zip = torchZip(pk, { 0: f32Bytes([1, 2]) });
  assert.equal(detectCheckpointFormat(zip), 'torch-zip');
  const sd = loadStateDict(zip, 'z.pth');
  assert.deepEqual([...sd.keys()], ['net.w']);
  assert.deepEqual([...sd.get('net.w')!.data], [1, 2]);
  const legacy = new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0, 0]);
  assert.equal(detectCheckpointFormat(legacy), 'torch-legacy');
  assert.throws(() => loadStateDict(legacy, 'old.pth'), /^CheckpointError: old\.pth: legacy \(pre-1\.6\) torch\.save format is not supported/);
  assert.throws(() => loadStateDict(new TextEncoder().encode('GGUF....'), 'm.gguf'), (e) => e instanceof CheckpointError
    && /^m\.gguf: unrecognised format \(starts with 47 47 55 46.*accepted: safetensors .* and torch\.save zip archives from PyTorch >= 1\.6/.test(e.message));
  assert.throws(() => loadStateDict(new Uint8Array(0), 'e.bin'), /e\.bin: empty file \(0 bytes\); accepted/);
});

test('key helpers: withPrefix, stripPrefix, renameKeys', () => {
  const sd = new Map<string, Tensor>([['xvector.dense.linear.weight', t([1])], ['xvector.stats.x', t([1])], ['head.conv1.weight', t([1])]]);
  assert.deepEqual([...withPrefix(sd, 'm.').keys()], ['m.xvector.dense.linear.weight', 'm.xvector.stats.x', 'm.head.conv1.weight']);
  assert.deepEqual([...stripPrefix(sd, 'xvector.').keys()], ['dense.linear.weight', 'stats.x']);
  assert.deepEqual([...stripPrefix(sd, 'xvector.', true).keys()], ['dense.linear.weight', 'stats.x', 'head.conv1.weight']);
  const renamed = renameKeys(sd, { 'xvector.dense.': 'dense.', 'xvector.stats.': 'stats.' });
  assert.deepEqual([...renamed.keys()], ['dense.linear.weight', 'stats.x', 'head.conv1.weight']);
  assert.equal(renamed.get('dense.linear.weight'), sd.get('xvector.dense.linear.weight'));
  // both spellings present -> collision is an error rather than a silent overwrite
  const both = new Map([...sd, ['dense.linear.weight', t([1])]]);
  assert.throws(() => renameKeys(both, { 'xvector.dense.': 'dense.' }), (e) => e instanceof ModelMismatchError && /collides/.test(e.message));
});

test('WeightStore.get: float32 out, shape checks, close-match suggestions, has/keys/scoped', () => {
  const half = tensor('float16', [2], Uint16Array.from([float32ToFloat16Bits(1.5), float32ToFloat16Bits(-2)]));
  const bf = tensor('bfloat16', [1], Uint16Array.from([0x4049]));
  const dbl = tensor('float64', [2], Float64Array.from([0.1, 2]));
  const i64 = tensor('int64', [2], BigInt64Array.from([3n, -4n]));
  const store = new WeightStore(new Map<string, Tensor>([
    ['enc.layers.0.fc1.weight', t([4, 3])], ['enc.layers.0.fc1.bias', t([4])], ['enc.layers.1.fc1.weight', t([4, 3])],
    ['h', half], ['b', bf], ['d', dbl], ['i', i64],
  ]), 'model.safetensors');
  assert.equal(store.size, 7);
  for (const k of ['h', 'b', 'd', 'i']) assert.equal(store.get(k).dtype, 'float32');
  assert.deepEqual([...store.get('h').data], [1.5, -2]);
  assert.deepEqual([...store.get('b').data], [3.140625]);
  assert.deepEqual([...store.get('d').data], [Math.fround(0.1), 2]);
  assert.deepEqual([...store.get('i').data], [3, -4]);
  assert.deepEqual([...store.get('enc.layers.0.fc1.weight', [4, 3]).shape], [4, 3]);
  assert.deepEqual([...store.get('enc.layers.0.fc1.weight', [-1, 3]).shape], [4, 3]);
  assert.throws(() => store.get('enc.layers.0.fc1.weight', [3, 4]), (e) => e instanceof ModelMismatchError
    && e.message === "model.safetensors: weight 'enc.layers.0.fc1.weight' has shape [4, 3], expected [3, 4]");
  assert.throws(() => store.get('enc.layers.0.fc2.weight'), (e) => e instanceof ModelMismatchError
    && /^model\.safetensors: missing weight 'enc\.layers\.0\.fc2\.weight' \(close matches: 'enc\.layers\.0\.fc1\.weight', 'enc\.layers\.1\.fc1\.weight'/.test(e.message));
  assert.throws(() => store.get('zzz'), /missing weight 'zzz' \(7 keys, e\.g\. 'enc\.layers\.0\.fc1\.weight'\)/);
  assert.throws(() => store.get('layers.1.fc1.weight'), /missing weight 'layers\.1\.fc1\.weight' \(close matches: 'enc\.layers\.1\.fc1\.weight'/);
  assert.ok(store.has('enc.layers.0.fc1.bias') && !store.has('nope'));
  assert.deepEqual(store.keys('enc.layers.0.'), ['enc.layers.0.fc1.weight', 'enc.layers.0.fc1.bias']);
  const sub = store.scoped('enc.layers.1.');
  assert.deepEqual(sub.keys(), ['fc1.weight']);
  assert.throws(() => sub.get('fc2.weight'), /model\.safetensors\[enc\.layers\.1\.\*\]: missing weight 'fc2\.weight'/);
  assert.equal(store.raw('h'), half);
});

test('WeightStore folds weight norm transparently; foldWeightNorm by hand', () => {
  // v [2, 2]: rows (3, 4) and (0, 2); g (10, 1) -> w rows (6, 8), (0, 1)
  const g = t([2, 1], [10, 1]);
  const v = t([2, 2], [3, 4, 0, 2]);
  assert.deepEqual([...foldWeightNorm(g, v).data], [6, 8, 0, 1]);
  // dim 1: columns (3, 0) and (4, 2)
  const w1 = foldWeightNorm(t([1, 2], [1, 1]), v, 1);
  assert.deepEqual([...w1.data].map((x) => +x.toFixed(6)), [1, +(4 / Math.sqrt(20)).toFixed(6), 0, +(2 / Math.sqrt(20)).toFixed(6)]);
  // dim null: one norm over everything (sqrt(29))
  assert.deepEqual([...foldWeightNorm(t([], [29 ** 0.5]), v, null).data].map((x) => +x.toFixed(5)), [3, 4, 0, 2]);
  // zero rows give NaN, like torch (no epsilon)
  assert.ok(Number.isNaN(foldWeightNorm(t([1, 1], [1]), t([1, 2], [0, 0])).data[0]));
  assert.throws(() => foldWeightNorm(t([3, 1]), v), /g has shape \[3, 1\], expected \[2, 1\]/);
  assert.throws(() => foldWeightNorm(g, v, 5), /dim 5 is not an axis/);
  assert.throws(() => foldWeightNorm(g, v, -1), /dim -1 is not an axis/);

  const store = new WeightStore(new Map<string, Tensor>([
    ['lin.weight_g', g], ['lin.weight_v', v], ['lin.bias', t([2])],
    ['pc.parametrizations.weight.original0', t([1, 2], [1, 1])], ['pc.parametrizations.weight.original1', v],
    ['bad.weight_g', t([3, 1])], ['bad.weight_v', v],
  ]), 'f.pt');
  assert.ok(store.has('lin.weight') && store.has('pc.weight') && !store.has('lin.weight_x'));
  assert.deepEqual([...store.get('lin.weight', [2, 2]).data], [6, 8, 0, 1]);
  assert.deepEqual([...store.get('pc.weight').data], [...w1.data], 'dim inferred from g [1, 2]');
  assert.deepEqual([...store.get('pc.weight', undefined, { weightNormDim: 1 }).data], [...w1.data]);
  assert.throws(() => store.get('bad.weight'), (e) => e instanceof ModelMismatchError && /f\.pt: cannot fold the weight norm of 'bad\.weight'/.test(e.message));
  assert.throws(() => store.get('lin.weight', [2, 3]), /weight 'lin\.weight' has shape \[2, 2\], expected \[2, 3\]/);
});

test('a pickle sharing dicts through its memo (a DAG of 2^16 paths) is walked once: tensors reached twice are refused', () => {
  const withTensor = memoDagCheckpoint(16, true);
  assert.throws(() => loadStateDict(withTensor, 'dag.pth'), (e) => e instanceof CheckpointError
    && /^dag\.pth: the dict at '.*' is the same object as the one at '.*' \(shared through the pickle memo\)/.test(e.message));
  // without tensors the shared dicts add nothing, and each is visited once
  const t0 = performance.now();
  assert.equal(loadStateDict(memoDagCheckpoint(16, false), 'dag.pth').size, 0);
  assert.ok(performance.now() - t0 < 5000);
  // a tensor shared under two keys (tied weights) is fine; a tensor-free dict shared twice is fine
  const w = t([2]);
  const meta = new Map([['lr', 1]]);
  assert.deepEqual([...flattenStateDict(new Map<string, unknown>([['a', w], ['b', w], ['m1', meta], ['m2', meta]])).keys()], ['a', 'b']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSafetensors, writeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { f32, tensor } from '../../src/core/tensor.ts';
import { goldenTensors, manifest } from '../helpers/golden.ts';
import { overlappingSafetensors } from '../abuse/hostile-checkpoints.ts';

test('every golden case file parses with the shapes the manifest gives', () => {
  for (const c of manifest().cases) {
    const t = goldenTensors(c.file);
    for (const [name, spec] of Object.entries(c.tensors)) {
      const got = t.get(name);
      if (!got) continue; // some tables document tensors of a sibling file (noise.safetensors)
      assert.deepEqual([...got.shape], spec.shape, `${c.id}/${name}`);
    }
  }
});

test('round trip keeps dtype, shape, values and metadata', () => {
  const a = f32([2, 3], [1, 2, 3, 4, 5, 6.5]);
  const b = tensor('int64', [2], new BigInt64Array([7n, -8n]));
  const bytes = writeSafetensors({ a, b }, { format: 'pt', note: 'ünïcode' });
  const back = readSafetensors(bytes);
  assert.deepEqual([...back.tensors.get('a')!.data], [...a.data]);
  assert.deepEqual([...back.tensors.get('b')!.data], [7n, -8n]);
  assert.equal(back.metadata.note, 'ünïcode');
});

test('malformed files give a CheckpointError naming the problem', () => {
  const good = writeSafetensors({ a: f32([4], [1, 2, 3, 4]) });
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /too short/],
    ['huge header length', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /exceeds/],
    ['header past end', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 10_000n, true); return b; })(), /past the end/],
    ['truncated data', good.subarray(0, good.length - 4), /outside/],
    ['not json', (() => { const b = good.slice(); b[8] = 0x7b + 1; return b; })(), /JSON/],
  ];
  for (const [label, bytes, re] of cases) {
    assert.throws(() => readSafetensors(bytes, 'x.safetensors'), (e: unknown) => e instanceof CheckpointError && re.test(e.message) && e.message.startsWith('x.safetensors'), label);
  }
  const lying = new TextEncoder().encode(JSON.stringify({ a: { dtype: 'F32', shape: [1000000000, 1000000000], data_offsets: [0, 16] } }));
  const buf = new Uint8Array(8 + lying.length + 16);
  new DataView(buf.buffer).setBigUint64(0, BigInt(lying.length), true);
  buf.set(lying, 8);
  assert.throws(() => readSafetensors(buf), /needs .* bytes/);
});

test('overlapping data_offsets are refused before any tensor is viewed or copied', () => {
  assert.throws(() => readSafetensors(overlappingSafetensors(2, 4096), 'o.safetensors'), (e: unknown) => e instanceof CheckpointError
    && /^o\.safetensors: tensors 't0' \[1, 4097\) and 't1' \[1, 4097\) overlap; safetensors requires disjoint data_offsets/.test(e.message));
  // touching is not overlapping, and empty tensors may sit anywhere
  const ok = writeSafetensors({ a: f32([2], [1, 2]), e: f32([0], []), b: f32([1], [3]) });
  assert.deepEqual([...readSafetensors(ok).tensors.keys()], ['a', 'e', 'b']);
});

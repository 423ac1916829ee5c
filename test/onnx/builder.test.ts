import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/core/onnx/graph.ts';
import { Nn } from '../../src/core/onnx/nn.ts';
import { f32 } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { relErr } from '../helpers/golden.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
}

/** y = LayerNorm(x W^T + b) computed naively in float64. */
function reference(x: Float32Array, w: Float32Array, b: Float32Array, rows: number, inp: number, out: number): Float32Array {
  const y = new Float32Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const h = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inp; i++) s += x[r * inp + i] * w[o * inp + i];
      h[o] = s;
    }
    const mean = h.reduce((a, v) => a + v, 0) / out;
    const v = h.reduce((a, q) => a + (q - mean) ** 2, 0) / out;
    for (let o = 0; o < out; o++) y[r * out + o] = (h[o] - mean) / Math.sqrt(v + 1e-5);
  }
  return y;
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`linear + layer norm graph runs on ORT (${precision}) and matches a float64 reference`, async () => {
    const rnd = seeded(7);
    const [inp, out, rows] = [24, 16, 5];
    const w = f32([out, inp], Array.from({ length: out * inp }, rnd));
    const b = f32([out], Array.from({ length: out }, rnd));
    const x = f32([1, rows, inp], Array.from({ length: rows * inp }, rnd));
    const g = new GraphBuilder('test');
    const nn = new Nn(g, precision);
    const xin = g.input('x', 'float32', [1, 'T', inp]);
    const y = g.scope('proj', () => nn.layerNorm(nn.linear(xin, w, b), 1e-5));
    g.output(y, 'y');
    const types = g.summary();
    const mm = types.find((n) => n.opType === 'MatMul')!;
    assert.ok(mm.name.startsWith('proj/'), `node named after its module: ${mm.name}`);
    const session = await nodeBackend.createSession(g.toOnnx(), { label: 'test' });
    const res = await session.run({ x });
    await session.release();
    assert.deepEqual(res.y.shape, [1, rows, out]);
    assert.equal(res.y.dtype, 'float32');
    const err = relErr(res.y.data as Float32Array, reference(x.data, w.data, b.data, rows, inp, out));
    assert.ok(err < (precision === 'fp32' ? 1e-5 : 5e-3), `err ${err}`);
  });
}

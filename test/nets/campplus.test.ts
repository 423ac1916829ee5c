import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildCampplus, campplusConfig, campplusParamShapes, loadCampplusWeights,
} from '../../src/core/nets/campplus.ts';
import type { Weights } from '../../src/core/nets/weights.ts';
import { loadStateDict, renameKeys, writeSafetensors } from '../../src/core/checkpoint/index.ts';
import { ModelMismatchError } from '../../src/core/errors.ts';
import { type Tensor, f32 } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { GOLDEN, assertClose, caseTensors, getF32, getTensor, goldenCase, relErr, tolerance } from '../helpers/golden.ts';
import { allFinite, randomWeights, runGraph } from '../helpers/onnx.ts';

const CKPT = 'hub/funasr/campplus/campplus_cn_common.bin';
let weightsCache: Weights | undefined;
function weights(): Weights {
  weightsCache ??= loadCampplusWeights(new Uint8Array(readFileSync(join(GOLDEN, CKPT))), CKPT);
  return weightsCache;
}

/** [B, C, T] -> [B, C, n] (the golden `*_first16` tensors). */
function firstFrames(t: Tensor, n: number): { shape: number[]; data: Float32Array } {
  const [b, c, frames] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(b * c * n);
  for (let i = 0; i < b * c; i++) out.set(src.subarray(i * frames, i * frames + n), i * n);
  return { shape: [b, c, n], data: out };
}

/** The first `n` frames of a [1, T, 80] input, mirrored at the end when n > T. */
function framesOf(feat: Tensor<'float32'>, n: number): Tensor<'float32'> {
  const [, frames, bins] = feat.shape;
  const out = new Float32Array(n * bins);
  for (let t = 0; t < n; t++) {
    const src = t < frames ? t : 2 * frames - 1 - t;
    out.set(feat.data.subarray(src * bins, (src + 1) * bins), t * bins);
  }
  return f32([1, n, bins], out);
}

// ---- an independent float64 CAMPPlus, written from the PyTorch module semantics (no folding, per-frame CAM) ----

const EPS = 1e-5;
const w64 = (w: Weights, k: string) => Float64Array.from(w.get(k).data);

function batchNorm(w: Weights, p: string, x: Float64Array, c: number, affine = true): Float64Array {
  const mean = w64(w, `${p}running_mean`), v = w64(w, `${p}running_var`);
  const gamma = affine ? w64(w, `${p}weight`) : null, beta = affine ? w64(w, `${p}bias`) : null;
  const n = x.length / c;
  const y = new Float64Array(x.length);
  for (let i = 0; i < c; i++) {
    const s = 1 / Math.sqrt(v[i] + EPS);
    for (let j = 0; j < n; j++) y[i * n + j] = (x[i * n + j] - mean[i]) * s * (gamma ? gamma[i] : 1) + (beta ? beta[i] : 0);
  }
  return y;
}
const relu = (x: Float64Array) => x.map((v) => (v > 0 ? v : 0));

/** y[yo + i] += a * x[xo + i * step] for i < n. The hot loop lives in a small function so V8 optimises it by
 * ordinary call counting instead of waiting for on-stack replacement of one huge loop (slow on a loaded machine). */
function axpy(y: Float64Array, yo: number, x: Float64Array, xo: number, step: number, n: number, a: number): void {
  for (let i = 0; i < n; i++) y[yo + i] += a * x[xo + i * step];
}

/** Conv2d, stride (sf, 1), symmetric padding `pad`, no bias: x [C, F, T] -> [O, F', T]. */
function conv2d(x: Float64Array, c: number, f: number, t: number, wt: Float64Array, o: number, k: number, sf: number, pad: number) {
  const fo = Math.floor((f + 2 * pad - k) / sf) + 1;
  const to = t + 2 * pad - k + 1;
  const y = new Float64Array(o * fo * to);
  for (let oc = 0; oc < o; oc++) for (let ic = 0; ic < c; ic++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
    const wv = wt[((oc * c + ic) * k + ky) * k + kx];
    for (let yf = 0; yf < fo; yf++) {
      const xf = yf * sf + ky - pad;
      if (xf < 0 || xf >= f) continue;
      const yb = (oc * fo + yf) * to, xb = (ic * f + xf) * t;
      const t0 = Math.max(0, pad - kx), t1 = Math.min(to, t + pad - kx);
      if (t1 > t0) axpy(y, yb + t0, x, xb + t0 + kx - pad, 1, t1 - t0, wv);
    }
  }
  return { y, f: fo, t: to };
}

/** Conv1d: x [C, T] -> [O, T'], weight [O, C, K]. */
function conv1d(x: Float64Array, c: number, t: number, wt: Float64Array, o: number, k: number, stride = 1, pad = 0, dil = 1, bias?: Float64Array) {
  const to = Math.floor((t + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  const y = new Float64Array(o * to);
  for (let oc = 0; oc < o; oc++) {
    if (bias) y.fill(bias[oc], oc * to, (oc + 1) * to);
    for (let ic = 0; ic < c; ic++) for (let kk = 0; kk < k; kk++) {
      // output frames whose input frame yt * stride + kk * dil - pad lies inside [0, t)
      const off = kk * dil - pad;
      const t0 = Math.max(0, Math.ceil(-off / stride)), t1 = Math.min(to, Math.floor((t - 1 - off) / stride) + 1);
      if (t1 > t0) axpy(y, oc * to + t0, x, ic * t + t0 * stride + off, stride, t1 - t0, wt[(oc * c + ic) * k + kk]);
    }
  }
  return { y, t: to };
}

/** CAMPPlus forward for one item, float64: feat [T, 80] -> embedding [192]. */
function referenceCampplus(w: Weights, feat: Float32Array, frames: number): Float64Array {
  const cfg = campplusConfig;
  const m = cfg.mChannels;
  // head: x [1, 80, T]
  const x0 = new Float64Array(cfg.featDim * frames);
  for (let t = 0; t < frames; t++) for (let b = 0; b < cfg.featDim; b++) x0[b * frames + t] = feat[t * cfg.featDim + b];
  let r = conv2d(x0, 1, cfg.featDim, frames, w64(w, 'head.conv1.weight'), m, 3, 1, 1);
  let h = relu(batchNorm(w, 'head.bn1.', r.y, m));
  let f = r.f;
  for (const layer of [1, 2]) {
    for (let j = 0; j < 2; j++) {
      const p = `head.layer${layer}.${j}.`;
      const s = j === 0 ? 2 : 1;
      const a = conv2d(h, m, f, frames, w64(w, `${p}conv1.weight`), m, 3, s, 1);
      const a1 = relu(batchNorm(w, `${p}bn1.`, a.y, m));
      const b = batchNorm(w, `${p}bn2.`, conv2d(a1, m, a.f, frames, w64(w, `${p}conv2.weight`), m, 3, 1, 1).y, m);
      const sc = s === 1 ? h : batchNorm(w, `${p}shortcut.1.`, conv2d(h, m, f, frames, w64(w, `${p}shortcut.0.weight`), m, 1, s, 0).y, m);
      h = relu(b.map((v, i) => v + sc[i]));
      f = a.f;
    }
  }
  r = conv2d(h, m, f, frames, w64(w, 'head.conv2.weight'), m, 3, 2, 1);
  h = relu(batchNorm(w, 'head.bn2.', r.y, m)); // [32, 10, T] == [320, T]
  let c = m * r.f;
  // xvector
  const td = conv1d(h, c, frames, w64(w, 'xvector.tdnn.linear.weight'), cfg.initChannels, 5, 2, 2);
  const T = td.t;
  let x = relu(batchNorm(w, 'xvector.tdnn.nonlinear.batchnorm.', td.y, cfg.initChannels));
  c = cfg.initChannels;
  const bnCh = cfg.bnSize * cfg.growthRate, g = cfg.growthRate, seg = cfg.segLen;
  cfg.blocks.forEach((blk, bi) => {
    for (let i = 0; i < blk.layers; i++) {
      const p = `xvector.block${bi + 1}.tdnnd${i + 1}.`;
      const z = relu(batchNorm(w, `${p}nonlinear1.batchnorm.`, x, c));
      const u = relu(batchNorm(w, `${p}nonlinear2.batchnorm.`, conv1d(z, c, T, w64(w, `${p}linear1.weight`), bnCh, 1).y, bnCh));
      const y = conv1d(u, bnCh, T, w64(w, `${p}cam_layer.linear_local.weight`), g, blk.kernelSize, 1, blk.dilation, blk.dilation).y;
      // context = mean over time + avg_pool1d(seg, ceil_mode) expanded back to frames
      const ctx = new Float64Array(bnCh * T);
      for (let ch = 0; ch < bnCh; ch++) {
        let sum = 0;
        for (let t = 0; t < T; t++) sum += u[ch * T + t];
        for (let s0 = 0; s0 < T; s0 += seg) {
          const s1 = Math.min(T, s0 + seg);
          let ss = 0;
          for (let t = s0; t < s1; t++) ss += u[ch * T + t];
          for (let t = s0; t < s1; t++) ctx[ch * T + t] = sum / T + ss / (s1 - s0);
        }
      }
      const hid = relu(conv1d(ctx, bnCh, T, w64(w, `${p}cam_layer.linear1.weight`), bnCh / 2, 1, 1, 0, 1, w64(w, `${p}cam_layer.linear1.bias`)).y);
      const gate = conv1d(hid, bnCh / 2, T, w64(w, `${p}cam_layer.linear2.weight`), g, 1, 1, 0, 1, w64(w, `${p}cam_layer.linear2.bias`)).y;
      const next = new Float64Array((c + g) * T);
      next.set(x);
      for (let k = 0; k < g * T; k++) next[c * T + k] = y[k] / (1 + Math.exp(-gate[k]));
      x = next;
      c += g;
    }
    const p = `xvector.transit${bi + 1}.`;
    const z = relu(batchNorm(w, `${p}nonlinear.batchnorm.`, x, c));
    x = conv1d(z, c, T, w64(w, `${p}linear.weight`), c / 2, 1).y;
    c /= 2;
  });
  x = relu(batchNorm(w, 'xvector.out_nonlinear.batchnorm.', x, c));
  const stats = new Float64Array(2 * c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += x[ch * T + t];
    const mean = s / T;
    let v = 0;
    for (let t = 0; t < T; t++) v += (x[ch * T + t] - mean) ** 2;
    stats[ch] = mean;
    stats[c + ch] = Math.sqrt(v / (T - 1));
  }
  const dense = conv1d(stats, 2 * c, 1, w64(w, 'dense.linear.weight'), cfg.embeddingSize, 1).y;
  return batchNorm(w, 'dense.nonlinear.batchnorm.', dense, cfg.embeddingSize, false);
}

// ---- tests ---------------------------------------------------------------------------------------------

test('CAMPPlus matches nets_campplus (fp32), with intermediates', async (t) => {
  const c = goldenCase('nets_campplus');
  const gt = caseTensors(c);
  const out = await runGraph(buildCampplus(campplusConfig, weights(), { debugOutputs: true }), { feat: getF32(gt, 'input.feat') });
  const tol = tolerance(c, 'output');
  const err = assertClose('nets_campplus output', out.embedding as Tensor<'float32'>, getTensor(gt, 'output'), tol);
  t.diagnostic(`nets_campplus output err ${err.toExponential(2)} (tol ${tol})`);
  // intermediates have no manifest tolerance: a bisecting bound of 10x the output's
  const inter: [string, { shape: readonly number[]; data: ArrayLike<number> }][] = [
    ['intermediate.head_first16', firstFrames(out['intermediate.head'], 16)],
    ['intermediate.xvector.tdnn', out['intermediate.xvector.tdnn'] as Tensor<'float32'>],
    ['intermediate.xvector.transit1_first16', firstFrames(out['intermediate.xvector.transit1'], 16)],
    ['intermediate.xvector.out_nonlinear_first16', firstFrames(out['intermediate.xvector.out_nonlinear'], 16)],
    ['intermediate.stats', out['intermediate.stats'] as Tensor<'float32'>],
  ];
  for (const [name, mine] of inter) {
    const e = assertClose(`nets_campplus ${name}`, mine, getTensor(gt, name), 10 * tol);
    t.diagnostic(`nets_campplus ${name} err ${e.toExponential(2)} (bisect bound ${10 * tol})`);
  }
});

test('CAMPPlus fp16 builds and runs on the golden input', async (t) => {
  const c = goldenCase('nets_campplus');
  const gt = caseTensors(c);
  const g = buildCampplus(campplusConfig, weights(), { precision: 'fp16' });
  const convs = g.summary().filter((n) => n.opType === 'Conv');
  const dt = g.dtypes();
  assert.ok(convs.every((n) => dt.get(n.inputs[1]) === 'float16'), 'conv weights are fp16');
  const out = await runGraph(g, { feat: getF32(gt, 'input.feat') });
  const emb = out.embedding as Tensor<'float32'>;
  assert.equal(emb.dtype, 'float32');
  assert.ok(allFinite(emb.data));
  const err = relErr(emb.data, getF32(gt, 'output').data);
  t.diagnostic(`nets_campplus fp16 output err ${err.toExponential(2)} vs the fp32 golden`);
  assert.ok(err < 0.1, `fp16 err ${err}`);
});

test('CAMPPlus: float64 reference agrees with the golden and with the graph on multi-segment inputs', async (t) => {
  const c = goldenCase('nets_campplus');
  const gt = caseTensors(c);
  const tol = tolerance(c, 'output');
  const feat = getF32(gt, 'input.feat');
  const w = weights();
  // the reference itself against the golden (198 frames -> 99 xvector frames, one segment)
  const t0 = performance.now();
  const refGolden = referenceCampplus(w, feat.data, feat.shape[1]);
  t.diagnostic(`float64 reference, 198 frames: ${(performance.now() - t0).toFixed(0)} ms`);
  const eRef = relErr(refGolden, getF32(gt, 'output').data);
  t.diagnostic(`float64 reference vs golden output err ${eRef.toExponential(2)} (tol ${tol})`);
  assert.ok(eRef <= tol);

  const session = await nodeBackend.createSession(buildCampplus(campplusConfig, w).toOnnx(), { label: 'campplus' });
  try {
    // 250 frames -> 125 xvector frames: segments of 100 and 25 (ceil_mode's short last segment);
    // 150 frames -> 75: one short segment
    for (const frames of [250, 150]) {
      const x = framesOf(feat, frames);
      const a = (await session.run({ feat: x })).embedding as Tensor<'float32'>;
      const b = (await session.run({ feat: x })).embedding as Tensor<'float32'>;
      assert.deepEqual([...a.shape], [1, 192]);
      assert.ok(allFinite(a.data));
      assert.deepEqual(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength), Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength), 'two runs bit-identical');
      const e = relErr(a.data, referenceCampplus(w, x.data, frames));
      t.diagnostic(`${frames} frames: graph vs float64 reference err ${e.toExponential(2)} (tol ${tol})`);
      assert.ok(e <= tol, `${frames} frames err ${e}`);
    }
    // short input: 50 frames -> 25 xvector frames
    const short = (await session.run({ feat: framesOf(feat, 50) })).embedding as Tensor<'float32'>;
    assert.ok(allFinite(short.data), '50-frame embedding finite');
    // batch of two different items == the items run alone
    const n = 198 * 80;
    const pair = new Float32Array(2 * n);
    pair.set(feat.data);
    pair.set(framesOf(feat, 396).data.subarray(n), n); // the mirrored input
    const both = (await session.run({ feat: f32([2, 198, 80], pair) })).embedding as Tensor<'float32'>;
    const alone = (await session.run({ feat: f32([1, 198, 80], pair.subarray(n)) })).embedding as Tensor<'float32'>;
    assert.deepEqual([...both.shape], [2, 192]);
    assert.ok(relErr(both.data.subarray(0, 192), getF32(gt, 'output').data) <= tol);
    const eBatch = relErr(both.data.subarray(192), alone.data);
    t.diagnostic(`batch of 2 vs item alone err ${eBatch.toExponential(2)}`);
    assert.ok(eBatch <= tol);
  } finally {
    await session.release();
  }
});

test('CAMPPlus full-size build with random weights: shapes and finite outputs', async (t) => {
  const shapes = campplusParamShapes(campplusConfig);
  let params = 0;
  for (const s of shapes.values()) params += s.reduce((a, b) => a * b, 1);
  const t0 = performance.now();
  const g = buildCampplus(campplusConfig, randomWeights(shapes), { debugOutputs: true });
  const tBuild = performance.now() - t0;
  const x = new Float32Array(2 * 120 * 80);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.731) * 2;
  const t1 = performance.now();
  const out = await runGraph(g, { feat: f32([2, 120, 80], x) });
  const tRun = performance.now() - t1;
  assert.deepEqual([...out.embedding.shape], [2, 192]);
  assert.deepEqual([...out['intermediate.xvector.tdnn'].shape], [2, 128, 60]);
  assert.deepEqual([...out['intermediate.xvector.out_nonlinear'].shape], [2, 512, 60]);
  assert.deepEqual([...out['intermediate.stats'].shape], [2, 1024]);
  assert.ok(allFinite(out.embedding.data as Float32Array));
  t.diagnostic(`${params} parameters read; build ${tBuild.toFixed(0)} ms, session + run ${tRun.toFixed(0)} ms`);
});

test('loadCampplusWeights accepts both dense spellings and rejects a mismatched checkpoint', () => {
  const bytes = new Uint8Array(readFileSync(join(GOLDEN, CKPT)));
  const official = loadCampplusWeights(bytes, CKPT);
  assert.ok(official.has('dense.linear.weight') && !official.has('xvector.dense.linear.weight'));
  // a checkpoint already spelled dense.* (as CAMPPlus.state_dict() writes it)
  const renamed = renameKeys(loadStateDict(bytes, CKPT), { 'xvector.dense.': 'dense.' });
  const modern = loadCampplusWeights(writeSafetensors(renamed), 'campplus.safetensors');
  assert.deepEqual([...modern.get('dense.linear.weight').data.subarray(0, 8)], [...official.get('dense.linear.weight').data.subarray(0, 8)]);
  // one tensor missing
  renamed.delete('xvector.block2.tdnnd7.cam_layer.linear1.bias');
  assert.throws(() => loadCampplusWeights(writeSafetensors(renamed), 'broken.safetensors'),
    (e: unknown) => e instanceof ModelMismatchError && /tdnnd7\.cam_layer\.linear1\.bias/.test(e.message));
  // the parameter list covers every float tensor of the official file
  const floatKeys = official.keys().filter((k) => !k.endsWith('num_batches_tracked'));
  assert.deepEqual(floatKeys.sort(), [...campplusParamShapes(campplusConfig).keys()].sort());
});

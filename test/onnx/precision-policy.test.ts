/**
 * The autocast precision policy, checked node by node on every network builder, and the per-device
 * `auto` decisions against mocked capability sets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTOCAST_OPS } from '../../src/core/onnx/nn.ts';
import { type DeviceCapabilities, STAGES, fp16Support, precisionFromFp16Flag, resolvePrecision } from '../../src/core/precision.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { NETWORKS } from '../helpers/networks.ts';

/** Ops that may carry fp16 tensors: the autocast ops, their bias Add, casts, and shape-only ops. */
const FP16_ALLOWED = new Set([...AUTOCAST_OPS, 'Add', 'Cast', 'Reshape', 'Transpose', 'Split', 'Slice', 'Concat', 'Squeeze', 'Unsqueeze', 'Identity']);
/** Ops the policy keeps in fp32 (statistics, exponentials, transcendental activations, recurrences). */
const FP32_ONLY = ['Softmax', 'LayerNormalization', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'Exp', 'Log', 'Pow', 'Sqrt', 'Div',
  'Sin', 'Cos', 'Erf', 'Sigmoid', 'Tanh', 'Softplus', 'CumSum', 'GRU', 'InstanceNormalization'];

/**
 * Documented fp32 islands: autocast-type ops the policy deliberately keeps in fp32.
 * BigVGAN's anti-aliased activations (fixed kaiser-sinc depthwise FIR filters around each Snake) are part
 * of the activation function, which stays fp32 like every other activation.
 */
const BIGVGAN_ISLAND = /(^|\.)activations\.\d+\/|^(.*\.)?activation_post\//;

for (const [name, { build, bigvgan }] of Object.entries(NETWORKS)) {
  test(`precision policy of ${name}: autocast ops in fp16, statistics and activations in fp32, fp32 I/O`, () => {
    const g32 = build('fp32');
    assert.ok(g32.summary().every((n) => [...n.inputTypes, ...n.outputTypes].every((t) => t !== 'float16')), 'the fp32 build has no fp16 value');
    const g16 = build('fp16');
    const nodes = g16.summary();
    let autocast = 0;
    for (const n of nodes) {
      const types = [...n.inputTypes, ...n.outputTypes];
      const touchesHalf = types.includes('float16');
      if (FP32_ONLY.includes(n.opType)) assert.ok(!touchesHalf, `${n.name} (${n.opType}) must stay fp32`);
      if (touchesHalf) assert.ok(FP16_ALLOWED.has(n.opType), `${n.name} (${n.opType}) runs in fp16 but is not an autocast or shape op`);
      if (n.opType === 'Add' && touchesHalf) assert.ok(n.inputTypes.every((t) => t === 'float16'), `${n.name}: fp16 Add mixes types`);
      if (AUTOCAST_OPS.has(n.opType) && n.outputTypes[0] === 'float16') autocast++;
    }
    const island = bigvgan ? BIGVGAN_ISLAND : undefined;
    const leftInFp32 = nodes.filter((n) => AUTOCAST_OPS.has(n.opType) && n.outputTypes[0] !== 'float16' && !island?.test(n.name));
    assert.ok(autocast > 0, 'some autocast op runs in fp16');
    assert.deepEqual(leftInFp32.map((n) => n.name), [], 'autocast ops left in fp32 outside the documented islands');
    // Weights of fp16 ops are stored as fp16 initializers (half the bytes on disk and in memory).
    const producedByNode = new Set(nodes.flatMap((n) => n.outputs));
    const types16 = g16.dtypes();
    let weights = 0;
    for (const n of nodes) {
      if (!AUTOCAST_OPS.has(n.opType) || n.outputTypes[0] !== 'float16') continue;
      for (const w of n.inputs.slice(1)) {
        if (!w || producedByNode.has(w) || !types16.has(w)) continue;
        assert.equal(types16.get(w), 'float16', `${n.name} weight ${w}`);
        weights++;
      }
    }
    assert.ok(weights > 0, 'fp16 weight initializers found');
    assert.ok(g16.weightBytes < g32.weightBytes, 'the fp16 build stores fewer weight bytes');
  });
}

test('the graph interface stays fp32 under the fp16 policy (Node 20 has no Float16Array)', async () => {
  const { nodeBackend } = await import('../../src/node/backend.ts');
  const g = NETWORKS['offline/dit'].build('fp16');
  const s = await nodeBackend.createSession(g.toOnnx(), { label: 'dit16' });
  await s.release();
  const types = g.dtypes();
  for (const name of ['x', 'prompt_x', 't', 'style', 'cond', 'velocity']) assert.equal(types.get(name), 'float32', name);
});

// ---- auto decisions ---------------------------------------------------------------------------------

const CAPS: Record<string, DeviceCapabilities> = {
  cuda61: { device: 'cuda', cudaComputeCapability: 6.1, name: 'GTX 1080' },
  cuda75: { device: 'cuda', cudaComputeCapability: 7.5, name: 'T4' },
  cuda90: { device: 'cuda', cudaComputeCapability: 9.0, name: 'H100' },
  cuda50: { device: 'cuda', cudaComputeCapability: 5.0, name: 'GTX 750' },
  webgpuF16: { device: 'webgpu', shaderF16: true },
  webgpuNoF16: { device: 'webgpu', shaderF16: false },
  cpu: { device: 'cpu' },
  wasm: { device: 'wasm' },
};

test('auto picks fp16 only where it is fast: CUDA >= 7.0 and WebGPU with shader-f16', () => {
  const expected: Record<string, 'fp16' | 'fp32'> = { cuda61: 'fp32', cuda75: 'fp16', cuda90: 'fp16', cuda50: 'fp32', webgpuF16: 'fp16', webgpuNoF16: 'fp32', cpu: 'fp32', wasm: 'fp32' };
  for (const [k, caps] of Object.entries(CAPS)) {
    const plan = resolvePrecision('auto', caps);
    assert.equal(plan.mode, expected[k], `${k}: ${plan.reason}`);
    assert.match(plan.reason, /^auto: /);
    for (const s of STAGES) assert.ok(plan.stages[s].reason.length > 0, `${k}/${s} has a reason`);
  }
  assert.match(resolvePrecision('auto', CAPS.cuda61).reason, /no tensor cores/);
  assert.match(resolvePrecision('auto', CAPS.webgpuNoF16).reason, /shader-f16/);
});

test('fp16 mode follows Seed-VC per stage: content and DiT fp16; speaker, pitch, length regulator, vocoder fp32', () => {
  const plan = resolvePrecision('auto', CAPS.cuda90);
  assert.deepEqual(Object.fromEntries(STAGES.map((s) => [s, plan.stages[s].precision])), {
    content: 'fp16', speaker: 'fp32', pitch: 'fp32', length_regulator: 'fp32', dit: 'fp16', vocoder: 'fp32',
  });
  assert.equal(resolvePrecision('fp16', CAPS.cuda90, { vocoderFp16: true }).stages.vocoder.precision, 'fp16');
  assert.ok(STAGES.every((s) => resolvePrecision('fp32', CAPS.cuda90).stages[s].precision === 'fp32'), 'manual fp32 override');
});

test('an explicit fp16 request on a device that cannot run it is a clear error', () => {
  assert.throws(() => resolvePrecision('fp16', CAPS.webgpuNoF16), (e: unknown) => e instanceof InvalidInputError && /shader-f16/.test((e as Error).message));
  assert.throws(() => resolvePrecision('fp16', CAPS.cuda50), /no native fp16/);
  assert.equal(resolvePrecision('fp16', CAPS.cpu).mode, 'fp16', 'CPU can run fp16 (slowly): allowed when asked for');
  assert.equal(resolvePrecision('fp16', CAPS.cuda61).mode, 'fp16');
  assert.equal(fp16Support(CAPS.cpu).fast, false);
  assert.throws(() => resolvePrecision('fp8' as never, CAPS.cpu), /accepted: fp32, fp16, auto/);
});

test('--fp16 true|false maps to a precision request', () => {
  assert.equal(precisionFromFp16Flag('true'), 'fp16');
  assert.equal(precisionFromFp16Flag('False'), 'fp32');
  assert.throws(() => precisionFromFp16Flag('maybe'), /true or false/);
});

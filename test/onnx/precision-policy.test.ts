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
  assert.throws(() => resolvePrecision('fp8' as never, CAPS.cpu), /accepted: fp32, fp16, int8, auto/);
});

test('--fp16 true|false maps to a precision request', () => {
  assert.equal(precisionFromFp16Flag('true'), 'fp16');
  assert.equal(precisionFromFp16Flag('False'), 'fp32');
  assert.throws(() => precisionFromFp16Flag('maybe'), /true or false/);
});

// ---- CPU precisions: fp16-storage and int8 ------------------------------------------------------------

test('fp16-storage builds store fp16 weights whose only consumer is a Cast to fp32 (ordered after its activation); all arithmetic fp32', () => {
  for (const name of ['offline/dit', 'offline/content', 'offline/vocoder']) {
    const g32 = NETWORKS[name].build('fp32');
    const g = NETWORKS[name].build('fp16-storage');
    const nodes = g.summary();
    const types = g.dtypes();
    const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    // Overridable initializers: ONNX Runtime cannot fold their Casts, so the weights stay fp16 in memory.
    const inputs = new Set(g.inputNames);
    let halfWeights = 0, ordered = 0;
    for (const n of nodes) {
      if (n.opType === 'Cast' && n.inputTypes[0] === 'float16') {
        assert.equal(n.outputTypes[0], 'float32', `${n.name} casts to fp32`);
        const src = producer.get(n.inputs[0]);
        // Either the weight itself, or a Reshape of it to its own shape that waits for the op's activation.
        const weight = src ? src.inputs[0] : n.inputs[0];
        if (src) {
          assert.equal(src.opType, 'Reshape', `${n.name}: casts a weight or a Reshape of one`);
          ordered++;
        }
        assert.ok(!producer.has(weight) && types.get(weight) === 'float16', `${n.name}: casts an fp16 initializer`);
        assert.ok(inputs.has(weight), `${n.name}: its fp16 weight is a graph input with a default (not folded when the session opens)`);
        halfWeights++;
      } else if (n.opType === 'Reshape' && n.outputTypes[0] === 'float16') {
        assert.ok(inputs.has(n.inputs[0]) && !producer.has(n.inputs[0]), `${n.name}: only weights are reshaped in fp16`);
      } else {
        assert.ok([...n.inputTypes, ...n.outputTypes].every((t) => t !== 'float16'), `${name}: ${n.name} (${n.opType}) touches fp16`);
      }
    }
    assert.ok(ordered > halfWeights / 3, `${name}: the weight casts wait for their activations (${ordered} of ${halfWeights}; biases need not)`);
    assert.ok(halfWeights > 0, `${name}: fp16 weights found`);
    assert.equal(g.weightBytes, NETWORKS[name].build('fp16').weightBytes, `${name}: the same weight bytes as the fp16 build`);
    assert.ok(g.weightBytes < g32.weightBytes, `${name}: fewer weight bytes than fp32`);
  }
});

test('int8 builds: every per-frame Linear is a DynamicQuantizeMatMul on int8 weights; convs, attention and norms stay fp32', () => {
  for (const name of ['offline/dit', 'realtime/dit', 'singing/dit', 'offline/content', 'realtime/content']) {
    const g32 = NETWORKS[name].build('fp32');
    const g = NETWORKS[name].build('int8');
    const nodes = g.summary();
    const types = g.dtypes();
    const produced = new Set(nodes.flatMap((n) => n.outputs));
    const quantized = nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul');
    assert.ok(quantized.length > 0, `${name}: int8 Linear layers`);
    for (const n of quantized) {
      assert.equal(types.get(n.inputs[1]), 'int8', `${n.name}: int8 weight`);
      assert.ok(!produced.has(n.inputs[1]), `${n.name}: the weight is an initializer`);
      assert.equal(n.inputTypes[0], 'float32', `${n.name}: fp32 activations in (quantized at run time)`);
      assert.equal(n.outputTypes[0], 'float32', `${n.name}: fp32 out`);
    }
    for (const n of nodes) {
      assert.ok([...n.inputTypes, ...n.outputTypes].every((t) => t !== 'float16'), `${name}: ${n.name} touches fp16`);
      if (n.opType === 'MatMul') {
        // What stays a float MatMul: products of two activations, or per-item (timestep/style) Linear layers.
        const perItem = n.inputs.some((i) => /t_embedder|style|project_layer|cond_layer|adaLN_modulation/.test(i));
        assert.ok(perItem || n.inputs.every((i) => produced.has(i)), `${name}: ${n.name} is a float MatMul against a weight`);
      }
    }
    // The same convolutions as fp32.
    const convs = (b: typeof g) => b.summary().filter((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose').length;
    assert.equal(convs(g), convs(g32), `${name}: convolutions unchanged`);
    assert.ok(g.weightBytes < g32.weightBytes, `${name}: int8 stores fewer weight bytes`);
  }
});

test('int8 mode: a CPU with int8 dot products runs content and DiT in int8, the rest fp32; elsewhere it is refused', () => {
  const vnni: DeviceCapabilities = { device: 'cpu', int8Dot: 'AVX512-VNNI', name: 'test CPU' };
  const plan = resolvePrecision('int8', vnni);
  assert.equal(plan.mode, 'int8');
  assert.deepEqual(Object.fromEntries(STAGES.map((s) => [s, plan.stages[s].precision])), {
    content: 'int8', speaker: 'fp32', pitch: 'fp32', length_regulator: 'fp32', dit: 'int8', vocoder: 'fp32',
  });
  for (const s of STAGES) assert.ok(plan.stages[s].reason.length > 0);
  assert.match(plan.reason, /AVX512-VNNI/);
  assert.throws(() => resolvePrecision('int8', CAPS.cpu), (e: unknown) => e instanceof InvalidInputError && /int8 dot-product/.test((e as Error).message));
  assert.throws(() => resolvePrecision('int8', CAPS.cuda90), /for CPUs/);
  assert.throws(() => resolvePrecision('int8', CAPS.webgpuF16), /for CPUs/);
  // auto keeps fp32 on such a CPU (README: the int8 quality cost is well above fp16's) and says int8 exists.
  const auto = resolvePrecision('auto', vnni);
  assert.equal(auto.mode, 'fp32');
  assert.match(auto.reason, /int8 is available/);
});

test('fp16 on a CPU builds fp16-storage graphs (memory no higher than fp32); on a GPU true fp16', () => {
  const cpu = resolvePrecision('fp16', CAPS.cpu);
  assert.equal(cpu.stages.dit.precision, 'fp16-storage');
  assert.equal(cpu.stages.content.precision, 'fp16-storage');
  assert.equal(cpu.stages.vocoder.precision, 'fp32');
  assert.equal(resolvePrecision('fp16', CAPS.cpu, { vocoderFp16: true }).stages.vocoder.precision, 'fp16-storage');
  assert.match(cpu.stages.dit.reason, /cast to fp32 once at load/);
  assert.equal(resolvePrecision('fp16', CAPS.cuda61).stages.dit.precision, 'fp16');
  assert.equal(resolvePrecision('fp16', CAPS.webgpuF16).stages.dit.precision, 'fp16');
});

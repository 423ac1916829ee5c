/**
 * The conditional flow-matching sampler (modules/flow_matching.py, solve_euler) in TypeScript:
 * fixed Euler steps over t in [0, 1] with the ODE state, time and CFG combination kept in float32
 * exactly as the reference rounds them; the estimator runs as one ONNX session (batch 2 when the
 * guidance rate is > 0, batch 1 otherwise). On a device with its own memory (WebGPU) the update can run as
 * a small ONNX graph (buildEulerStepGraph) next to the estimator, so x and the velocity stay in device
 * memory from the first step to the last.
 */
import { GraphBuilder } from '../onnx/graph.ts';
import { type DeviceTensor, type Feed, type NetSession, isDeviceTensor } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';

const fr = Math.fround;

export interface CfmInputs {
  /** Length-regulated content, prompt part first: [1, T, content_dim]. */
  mu: Tensor<'float32'>;
  /** Reference mel (the prompt): [1, C, P]. */
  prompt: Tensor<'float32'>;
  /** Speaker embedding: [1, S]. */
  style: Tensor<'float32'>;
  /** Initial noise z: [1, C, T] (modified in place). */
  noise: Tensor<'float32'>;
  steps: number;
  cfgRate: number;
}

export interface CfmStepEvent {
  step: number;
  steps: number;
  /** Flow time after the step. */
  t: number;
  /**
   * The raw estimator output of this step ([2 or 1, C, T]; row 1 is the null branch). Absent when the loop
   * keeps it in device memory (solveEuler with a step session): reading it back each step is what that avoids.
   */
  estimatorOut?: Tensor<'float32'>;
}

/**
 * One Euler update as an ONNX graph, the same float32 operations in the same order as the host loop:
 * x_next = keep ? x + dt * (upper * v[0] - rate * v[B-1]) : 0 (prompt frames), and x_in = x_next repeated
 * to the estimator's batch. Without CFG (B = 1, upper = 1, rate = 0) that is x + dt * v, as on the host.
 */
export function buildEulerStepGraph(): Uint8Array {
  const b = new GraphBuilder('euler_step');
  const x = b.input('x', 'float32', [1, 'C', 'T']);
  const v = b.input('velocity', 'float32', ['B', 'C', 'T']);
  const dt = b.input('dt', 'float32', [1]);
  const upper = b.input('upper', 'float32', [1]);
  const rate = b.input('rate', 'float32', [1]);
  const keep = b.input('keep', 'bool', [1, 1, 'T']);
  const axis0 = b.ints([0]);
  const cond = b.op('Slice', [v, b.ints([0]), b.ints([1]), axis0]);
  const uncond = b.op('Slice', [v, b.ints([-1]), b.ints([2 ** 31 - 1]), axis0]);
  const guided = b.op('Sub', [b.op('Mul', [upper, cond]), b.op('Mul', [rate, uncond])]);
  const next = b.op('Where', [keep, b.op('Add', [x, b.op('Mul', [dt, guided])]), b.scalar(0)], {}, { dtype: 'float32' });
  b.output(next, 'x_next', [1, 'C', 'T']);
  b.output(b.op('Expand', [next, b.op('Shape', [v], {}, { dtype: 'int64' })]), 'x_in', ['B', 'C', 'T']);
  return b.toOnnx();
}

/** torch.linspace(0, 1, n + 1) in float32 (torch fills the two halves from opposite ends). */
export function linspace01(n: number): Float32Array {
  const out = new Float32Array(n + 1);
  const step = fr(1 / n);
  const half = Math.floor((n + 1) / 2);
  for (let i = 0; i <= n; i++) out[i] = i < half ? fr(step * i) : fr(1 - fr(step * (n - i)));
  return out;
}

/**
 * Runs the Euler solve; returns x after the last step ([1, C, T], prompt frames zeroed). With `step`, a
 * session of buildEulerStepGraph on the estimator's device, and both sessions able to run on the device,
 * the state stays there between steps (only t goes up, only the final x comes back).
 */
export async function solveEuler(
  estimator: NetSession,
  inp: CfmInputs,
  onStep?: (e: CfmStepEvent) => void,
  step?: NetSession,
): Promise<Tensor<'float32'>> {
  if (step?.runOnDevice && estimator.runOnDevice) return solveOnDevice(estimator, step, inp, onStep);
  const [, C, T] = inp.noise.shape;
  const P = inp.prompt.shape[2];
  if (P > T) throw new Error(`CFM: prompt (${P} frames) longer than the sequence (${T})`);
  const S = inp.style.shape[1];
  const D = inp.mu.shape[2];
  const x = inp.noise.data;
  const n = C * T;
  const promptX = new Float32Array(n);
  for (let c = 0; c < C; c++) {
    promptX.set(inp.prompt.data.subarray(c * P, c * P + P), c * T);
    x.fill(0, c * T, c * T + P);
  }
  const tSpan = linspace01(inp.steps);
  const cfg = inp.cfgRate > 0;
  const B = cfg ? 2 : 1;
  // Constant halves of the batch: conditional inputs then the null branch (zeros).
  const xIn = new Float32Array(B * n);
  const promptIn = new Float32Array(B * n); promptIn.set(promptX);
  const styleIn = new Float32Array(B * S); styleIn.set(inp.style.data);
  const muIn = new Float32Array(B * T * D); muIn.set(inp.mu.data);
  const feeds = {
    x: tensor('float32', [B, C, T], xIn),
    prompt_x: tensor('float32', [B, C, T], promptIn),
    x_lens: tensor('int64', [1], new BigInt64Array([BigInt(T)])),
    t: tensor('float32', [B], new Float32Array(B)),
    style: tensor('float32', [B, S], styleIn),
    cond: tensor('float32', [B, T, D], muIn),
  };
  const upper = fr(1 + inp.cfgRate);
  const rate = fr(inp.cfgRate);
  let t = tSpan[0];
  for (let step = 1; step <= inp.steps; step++) {
    const dt = fr(tSpan[step] - tSpan[step - 1]);
    xIn.set(x);
    if (cfg) xIn.set(x, n);
    feeds.t.data.fill(t);
    const out = await estimator.run(feeds);
    const velocity = out.velocity as Tensor<'float32'>;
    const v = velocity.data;
    if (cfg) {
      for (let i = 0; i < n; i++) x[i] = fr(x[i] + fr(dt * fr(fr(upper * v[i]) - fr(rate * v[n + i]))));
    } else {
      for (let i = 0; i < n; i++) x[i] = fr(x[i] + fr(dt * v[i]));
    }
    t = fr(t + dt);
    for (let c = 0; c < C; c++) x.fill(0, c * T, c * T + P);
    onStep?.({ step, steps: inp.steps, t, estimatorOut: velocity });
  }
  return tensor('float32', [1, C, T], x);
}

/** solveEuler with x, the velocity and the constant feeds left in device memory between the steps. */
async function solveOnDevice(estimator: NetSession, stepper: NetSession, inp: CfmInputs, onStep?: (e: CfmStepEvent) => void): Promise<Tensor<'float32'>> {
  const [, C, T] = inp.noise.shape;
  const P = inp.prompt.shape[2];
  if (P > T) throw new Error(`CFM: prompt (${P} frames) longer than the sequence (${T})`);
  const S = inp.style.shape[1];
  const D = inp.mu.shape[2];
  const n = C * T;
  const cfg = inp.cfgRate > 0;
  const B = cfg ? 2 : 1;
  const x0 = Float32Array.from(inp.noise.data);
  const promptIn = new Float32Array(B * n);
  for (let c = 0; c < C; c++) {
    promptIn.set(inp.prompt.data.subarray(c * P, c * P + P), c * T);
    x0.fill(0, c * T, c * T + P);
  }
  const xIn0 = new Float32Array(B * n);
  xIn0.set(x0);
  if (cfg) xIn0.set(x0, n);
  const styleIn = new Float32Array(B * S); styleIn.set(inp.style.data);
  const muIn = new Float32Array(B * T * D); muIn.set(inp.mu.data);
  const keep = new Uint8Array(T).fill(1, P);

  const held = new Set<DeviceTensor>();
  const own = <F extends Feed>(f: F): F => { if (isDeviceTensor(f)) held.add(f); return f; };
  const drop = (f: Feed) => { if (isDeviceTensor(f) && held.delete(f)) f.dispose(); };
  const upload = async (t: Tensor): Promise<Feed> => (estimator.upload ? own(await estimator.upload(t)) : t);
  try {
    const constant = {
      prompt_x: await upload(tensor('float32', [B, C, T], promptIn)),
      x_lens: tensor('int64', [1], new BigInt64Array([BigInt(T)])),
      style: await upload(tensor('float32', [B, S], styleIn)),
      cond: await upload(tensor('float32', [B, T, D], muIn)),
    };
    const stepFeeds = {
      upper: tensor('float32', [1], new Float32Array([fr(1 + inp.cfgRate)])),
      rate: tensor('float32', [1], new Float32Array([fr(inp.cfgRate)])),
      keep: tensor('bool', [1, 1, T], keep), // a few bytes: uploaded with each step's dt
    };
    let x: Feed = tensor('float32', [1, C, T], x0);
    let xIn: Feed = tensor('float32', [B, C, T], xIn0);
    const tSpan = linspace01(inp.steps);
    let t = tSpan[0];
    for (let step = 1; step <= inp.steps; step++) {
      const dt = fr(tSpan[step] - tSpan[step - 1]);
      const { velocity } = await estimator.runOnDevice!({ ...constant, x: xIn, t: tensor('float32', [B], new Float32Array(B).fill(t)) });
      own(velocity);
      const out = await stepper.runOnDevice!({ ...stepFeeds, x, velocity, dt: tensor('float32', [1], new Float32Array([dt])) });
      drop(velocity);
      drop(x);
      drop(xIn);
      x = own(out.x_next);
      xIn = own(out.x_in);
      t = fr(t + dt);
      onStep?.({ step, steps: inp.steps, t });
    }
    const result = isDeviceTensor(x) ? await x.download() : x;
    return tensor('float32', [1, C, T], Float32Array.from(result.data as Float32Array));
  } finally {
    for (const f of held) f.dispose();
  }
}

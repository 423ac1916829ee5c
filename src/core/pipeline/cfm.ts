/**
 * The conditional flow-matching sampler (modules/flow_matching.py, solve_euler) in TypeScript:
 * fixed Euler steps over t in [0, 1] with the ODE state, time and CFG combination kept in float32
 * exactly as the reference rounds them; the estimator runs as one ONNX session (batch 2 when the
 * guidance rate is > 0, batch 1 otherwise).
 */
import type { NetSession } from '../runtime.ts';
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
  /** The raw estimator output of this step ([2 or 1, C, T]; row 1 is the null branch). */
  estimatorOut: Tensor<'float32'>;
}

/** torch.linspace(0, 1, n + 1) in float32 (torch fills the two halves from opposite ends). */
export function linspace01(n: number): Float32Array {
  const out = new Float32Array(n + 1);
  const step = fr(1 / n);
  const half = Math.floor((n + 1) / 2);
  for (let i = 0; i <= n; i++) out[i] = i < half ? fr(step * i) : fr(1 - fr(step * (n - i)));
  return out;
}

/** Runs the Euler solve; returns x after the last step ([1, C, T], prompt frames zeroed). */
export async function solveEuler(
  estimator: NetSession,
  inp: CfmInputs,
  onStep?: (e: CfmStepEvent) => void,
): Promise<Tensor<'float32'>> {
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

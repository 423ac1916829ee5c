/**
 * The v2 conditional flow-matching sampler (modules/v2/cfm.py: CFM.inference + solve_euler) in TypeScript,
 * the estimator (nets/v2/dit.ts) running as one ONNX session:
 *
 *  - time grid: t = linspace(0, 1, n + 1), then t + (-1) (cos(pi / 2 t) - 1 + t) in float32 (= 1 - cos(pi t / 2));
 *  - Euler with accumulated time: dt_k = t_span[k + 1] - t (not the grid difference), x += dt v;
 *  - the prompt frames of x are zero before the first and after every step;
 *  - guidance with rates r = [intelligibility, similarity]:
 *      both > 0     one batch of 3 [cond, no prompt / style, nothing]: v = (1 + r0 + r1) o0 - r0 o2 - r1 o1
 *      r0 = 0       batch 2 keeping the content in row 1:             v = (1 + r1) o0 - r1 o1
 *      r1 = 0       batch 2 dropping it:                              v = (1 + r0) o0 - r0 o1
 *      both 0       a single call
 *      randomVoice  batch 2 without prompt and style in both rows, content dropped in row 1, guided by r0 only.
 * The ODE state, time and guidance combination are kept in float32 exactly as the reference rounds them.
 */
import { InvalidInputError } from '../../errors.ts';
import type { NetSession } from '../../runtime.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import { linspace01 } from '../cfm.ts';

const fr = Math.fround;

export interface V2CfmInputs {
  /** Regulated content, prompt part first: cat[prompt_condition, cond], [1, T, content_dim] channels-last. */
  mu: Tensor<'float32'>;
  /** Reference mel (the prompt): [1, C, P]; P = 0 for none. */
  prompt: Tensor<'float32'>;
  /** Speaker embedding: [1, S]. */
  style: Tensor<'float32'>;
  /** Initial noise z (torch.randn([1, C, T]) * temperature): [1, C, T]; modified in place. */
  noise: Tensor<'float32'>;
  steps: number;
  /** [intelligibility, similarity] guidance rates (inference_cfg_rate). */
  cfgRates: readonly [number, number];
  /** Anonymization (random_voice): no prompt and no style in either row. */
  randomVoice?: boolean;
}

export interface V2CfmStepEvent {
  step: number;
  steps: number;
  /** Flow time fed to the estimator in this step. */
  t: number;
  /** The raw estimator output of this step ([rows, C, T]). */
  estimatorOut: Tensor<'float32'>;
}

/** Which batch the solver sends to the estimator: rows and their conditioning. */
export type V2GuidanceMode = 'single' | 'similarity' | 'intelligibility' | 'both' | 'random-voice';

/** The guidance branch the reference takes for these rates (checked in this order, as cfm.py does). */
export function v2GuidanceMode(rates: readonly [number, number], randomVoice = false): V2GuidanceMode {
  if (randomVoice) return 'random-voice';
  if (rates[0] === 0 && rates[1] === 0) return 'single';
  if (rates[0] === 0) return 'similarity';
  if (rates[1] === 0) return 'intelligibility';
  return 'both';
}

/** The cosine time grid of CFM.inference, float32 as torch computes it. */
export function v2TimeGrid(steps: number): Float32Array {
  const t = linspace01(steps);
  const halfPi = fr(Math.PI / 2);
  return t.map((v) => fr(v - fr(fr(fr(Math.cos(fr(halfPi * v))) - 1) + v)));
}

/** Runs the Euler solve; returns x after the last step ([1, C, T], prompt frames zero). */
export async function solveV2Cfm(
  estimator: NetSession,
  inp: V2CfmInputs,
  onStep?: (e: V2CfmStepEvent) => void,
): Promise<Tensor<'float32'>> {
  const [, C, T] = inp.noise.shape;
  const P = inp.prompt.shape[2];
  const S = inp.style.shape[1];
  const D = inp.mu.shape[2];
  if (!Number.isInteger(inp.steps) || inp.steps < 1) throw new InvalidInputError(`v2 CFM: steps must be a positive integer, got ${inp.steps}`);
  if (P > T) throw new InvalidInputError(`v2 CFM: prompt (${P} frames) longer than the sequence (${T})`);
  if (inp.mu.shape[1] !== T) throw new InvalidInputError(`v2 CFM: content has ${inp.mu.shape[1]} frames, noise ${T}`);
  if (inp.prompt.shape[1] !== C) throw new InvalidInputError(`v2 CFM: prompt has ${inp.prompt.shape[1]} channels, noise ${C}`);
  const [r0, r1] = inp.cfgRates.map((r) => {
    if (!Number.isFinite(r) || r < 0) throw new InvalidInputError(`v2 CFM: guidance rates must be finite and >= 0, got ${r}`);
    return r;
  });
  const mode = v2GuidanceMode([r0, r1], inp.randomVoice);
  const B = mode === 'single' ? 1 : mode === 'both' ? 3 : 2;
  const n = C * T;
  const x = inp.noise.data;
  const promptX = new Float32Array(n);
  for (let c = 0; c < C; c++) {
    promptX.set(inp.prompt.data.subarray(c * P, c * P + P), c * T);
    x.fill(0, c * T, c * T + P);
  }
  // Rows: row 0 conditional; the others zero their prompt and style; content kept in row 1 only for 'similarity'.
  const xIn = new Float32Array(B * n);
  const promptIn = new Float32Array(B * n);
  const styleIn = new Float32Array(B * S);
  const muIn = new Float32Array(B * T * D);
  if (mode !== 'random-voice') { promptIn.set(promptX); styleIn.set(inp.style.data); }
  muIn.set(inp.mu.data);
  if (mode === 'similarity' || mode === 'both') muIn.set(inp.mu.data, T * D);
  const feeds = {
    x: tensor('float32', [B, C, T], xIn),
    prompt_x: tensor('float32', [B, C, T], promptIn),
    x_lens: tensor('int64', [B], new BigInt64Array(B).fill(BigInt(T))),
    t: tensor('float32', [B], new Float32Array(B)),
    style: tensor('float32', [B, S], styleIn),
    cond: tensor('float32', [B, T, D], muIn),
  };
  // Guidance weights as float32 scalars (Python floats meeting float32 tensors).
  const wCond = fr(mode === 'both' ? 1 + r0 + r1 : mode === 'similarity' ? 1 + r1 : 1 + r0);
  const wSecond = fr(mode === 'similarity' ? r1 : r0);
  const f0 = fr(r0), f1 = fr(r1);

  const tSpan = v2TimeGrid(inp.steps);
  let t = tSpan[0];
  let dt = fr(tSpan[1] - tSpan[0]);
  for (let step = 1; step <= inp.steps; step++) {
    for (let b = 0; b < B; b++) xIn.set(x, b * n);
    feeds.t.data.fill(t);
    const out = await estimator.run(feeds);
    const velocity = out.velocity as Tensor<'float32'>;
    const v = velocity.data;
    if (mode === 'single') {
      for (let i = 0; i < n; i++) x[i] = fr(x[i] + fr(dt * v[i]));
    } else if (mode === 'both') {
      for (let i = 0; i < n; i++) {
        const d = fr(fr(fr(wCond * v[i]) - fr(f0 * v[2 * n + i])) - fr(f1 * v[n + i]));
        x[i] = fr(x[i] + fr(dt * d));
      }
    } else {
      for (let i = 0; i < n; i++) x[i] = fr(x[i] + fr(dt * fr(fr(wCond * v[i]) - fr(wSecond * v[n + i]))));
    }
    onStep?.({ step, steps: inp.steps, t, estimatorOut: velocity });
    t = fr(t + dt);
    if (step < inp.steps) dt = fr(tSpan[step + 1] - t);
    for (let c = 0; c < C; c++) x.fill(0, c * T, c * T + P);
  }
  return tensor('float32', [1, C, T], x);
}

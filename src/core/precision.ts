/**
 * Which precision each stage runs in, and why. A pure function of the request and the device's
 * capabilities, so every decision can be printed (`seed-vc doctor`), logged and unit-tested.
 *
 * Seed-VC's --fp16 mode, which this mirrors: the Whisper encoder and the DiT (under torch.autocast) in
 * fp16; the speaker encoder, the length regulator, RMVPE and the vocoder in fp32. Inside an fp16 stage
 * the autocast policy of src/core/onnx/nn.ts applies (matmuls/convs fp16, norms/softmax/reductions fp32).
 *
 * CPUs have no fp16 arithmetic, so fp16 mode there builds 'fp16-storage' graphs (fp16 weights, fp32
 * arithmetic: the same peak memory as fp32 or less, instead of ~1.5x). The int8 mode is for CPUs with
 * int8 dot-product instructions: the same stages as fp16 (content encoder, DiT) run their Linear layers
 * as int8 x uint8 products; the rest stays fp32, as in fp16 mode.
 */
import { InvalidInputError } from './errors.ts';
import type { Precision } from './onnx/nn.ts';
import type { Device } from './runtime.ts';

export type PrecisionRequest = 'fp32' | 'fp16' | 'int8' | 'auto';

/** The modes a request resolves to (a stage's builder precision can differ, e.g. fp16-storage on a CPU). */
export type PrecisionMode = 'fp32' | 'fp16' | 'int8';

export type StageName = 'content' | 'speaker' | 'pitch' | 'length_regulator' | 'dit' | 'vocoder';
export const STAGES: readonly StageName[] = ['content', 'speaker', 'pitch', 'length_regulator', 'dit', 'vocoder'];

/** What we know about the device a session will run on. */
export interface DeviceCapabilities {
  device: Device;
  /** CUDA devices: compute capability as a number, e.g. 7.5. */
  cudaComputeCapability?: number;
  /** WebGPU adapters: whether the `shader-f16` feature is available. */
  shaderF16?: boolean;
  /** A human-readable device name for reports. */
  name?: string;
  /**
   * CPUs: the int8 dot-product instruction set ONNX Runtime's quantized kernels use here (e.g.
   * 'AVX512-VNNI', 'AVX-VNNI', 'NEON dotprod'); undefined when the CPU has none or it is unknown.
   */
  int8Dot?: string;
}

export interface StageDecision {
  stage: StageName;
  precision: Precision;
  reason: string;
}

export interface PrecisionPlan {
  request: PrecisionRequest;
  /** The mode `auto` resolved to (or the explicit request). */
  mode: PrecisionMode;
  reason: string;
  stages: Record<StageName, StageDecision>;
}

export interface PrecisionOverrides {
  /** Run the vocoder in fp16 too under fp16 mode (Seed-VC keeps it fp32). */
  vocoderFp16?: boolean;
}

/** Stages that follow the fp16 mode in Seed-VC (the rest always run fp32); the int8 mode follows it too. */
const FP16_STAGES: ReadonlySet<StageName> = new Set(['content', 'dit']);

/** Whether the device runs the int8 mode (weight-quantized Linear layers on int8 dot-product instructions). */
export function int8Support(caps: DeviceCapabilities): { can: boolean; why: string } {
  if (caps.device !== 'cpu') return { can: false, why: `the int8 mode is for CPUs (ONNX Runtime's quantized CPU kernels); ${caps.device} is not one` };
  if (!caps.int8Dot) return { can: false, why: 'this CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or NEON dotprod) that ONNX Runtime uses' };
  return { can: true, why: `the CPU has ${caps.int8Dot}` };
}

/** Whether the device can run fp16 arithmetic at all, and whether it is worth it. */
export function fp16Support(caps: DeviceCapabilities): { can: boolean; fast: boolean; why: string } {
  switch (caps.device) {
    case 'cuda': {
      const cc = caps.cudaComputeCapability;
      if (cc === undefined) return { can: true, fast: false, why: 'CUDA device of unknown compute capability' };
      if (cc >= 7.0) return { can: true, fast: true, why: `CUDA compute capability ${cc.toFixed(1)} has fp16 tensor cores` };
      if (cc >= 5.3) return { can: true, fast: false, why: `CUDA compute capability ${cc.toFixed(1)} has no tensor cores (fp16 is no faster than fp32)` };
      return { can: false, fast: false, why: `CUDA compute capability ${cc.toFixed(1)} has no native fp16 arithmetic (needs >= 5.3)` };
    }
    case 'webgpu':
      return caps.shaderF16
        ? { can: true, fast: true, why: 'WebGPU adapter supports shader-f16' }
        : { can: false, fast: false, why: 'WebGPU adapter lacks the shader-f16 feature' };
    case 'cpu':
    case 'wasm':
      return { can: true, fast: false, why: `${caps.device.toUpperCase()} has no fp16 arithmetic (fp16 mode stores the weights in fp16 and computes in fp32)` };
  }
}

/** Resolves a precision request into a per-stage plan for `caps`. Throws for fp16 on a device that cannot run it. */
export function resolvePrecision(request: PrecisionRequest, caps: DeviceCapabilities, overrides: PrecisionOverrides = {}): PrecisionPlan {
  const support = fp16Support(caps);
  let mode: PrecisionMode;
  let reason: string;
  if (request === 'fp32') {
    mode = 'fp32';
    reason = 'fp32 requested';
  } else if (request === 'int8') {
    const i8 = int8Support(caps);
    if (!i8.can) throw new InvalidInputError(`int8 was requested but ${caps.name ?? caps.device} cannot run it: ${i8.why}; use --precision fp32 or auto`);
    mode = 'int8';
    reason = `int8 requested (${i8.why})`;
  } else if (request === 'fp16') {
    if (!support.can) throw new InvalidInputError(`fp16 was requested but ${caps.name ?? caps.device} cannot run it: ${support.why}; use --precision fp32 or auto`);
    mode = 'fp16';
    reason = `fp16 requested (${support.why})`;
  } else if (request === 'auto') {
    mode = support.fast ? 'fp16' : 'fp32';
    reason = `auto: ${support.why} -> ${mode}`;
    if (!support.fast && int8Support(caps).can) reason += ' (int8 is available with --precision int8; auto keeps fp32 for its quality)';
  } else {
    throw new InvalidInputError(`unknown precision '${String(request)}' (accepted: fp32, fp16, int8, auto)`);
  }
  // CPUs compute fp16 through fp32 anyway: store fp16 weights and cast them once, at load.
  const cpuLike = caps.device === 'cpu' || caps.device === 'wasm';
  const half: Precision = cpuLike ? 'fp16-storage' : 'fp16';
  const halfWhy = !cpuLike ? '' : '; no fp16 arithmetic here: fp16-stored weights cast to fp32 once at load (peak memory at or below fp32)';
  const stages = {} as Record<StageName, StageDecision>;
  for (const stage of STAGES) {
    let p: Precision = 'fp32';
    let why: string;
    if (mode === 'fp32') {
      why = 'fp32 mode';
    } else if (mode === 'int8' && FP16_STAGES.has(stage)) {
      p = 'int8';
      why = 'int8 Linear layers (per-channel int8 weights, per-tensor dynamic uint8 activations); norms, softmax, attention products and convolutions fp32';
    } else if (mode === 'int8') {
      why = stage === 'vocoder' ? 'the vocoder stays fp32 in int8 mode, as in fp16 mode' : 'this stage stays fp32 in int8 mode, as in fp16 mode';
    } else if (FP16_STAGES.has(stage)) {
      p = half;
      why = `fp16 autocast, as Seed-VC runs this stage${halfWhy}`;
    } else if (stage === 'vocoder' && overrides.vocoderFp16) {
      p = half;
      why = `fp16 vocoder selected${halfWhy}`;
    } else {
      why = stage === 'vocoder' ? 'Seed-VC runs the vocoder in fp32 (select fp16 with vocoderFp16)' : 'Seed-VC runs this stage in fp32';
    }
    stages[stage] = { stage, precision: p, reason: why };
  }
  return { request, mode, reason, stages };
}

/** Parses Seed-VC's `--fp16 true|false` spelling into a request. */
export function precisionFromFp16Flag(value: string | boolean): PrecisionRequest {
  if (typeof value === 'boolean') return value ? 'fp16' : 'fp32';
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'y', 't'].includes(v)) return 'fp16';
  if (['false', '0', 'no', 'n', 'f'].includes(v)) return 'fp32';
  throw new InvalidInputError(`--fp16 takes true or false, got '${value}'`);
}

/**
 * The inference interface the pipeline is written against. Implementations live outside the core:
 * src/runtime/ort.ts wraps any onnxruntime flavour (node or web) behind it.
 */
import type { DType, Tensor } from './tensor.ts';

/** Where a session runs. 'cuda' needs a user-supplied GPU build of onnxruntime-node. */
export type Device = 'cpu' | 'webgpu' | 'cuda' | 'wasm';

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads for CPU sessions (default: the runtime's choice). */
  threads?: number;
  /** Graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** A label used in logs and errors (e.g. 'dit', 'bigvgan'). */
  label?: string;
  /** Write an ONNX Runtime profile (per-node times and shapes) to `<prefix>_<date>.json` on release (benchmarks). */
  profilePrefix?: string;
  /**
   * Let outputs stay in the device's memory (a GPU buffer on WebGPU) so a loop can feed them to the next run
   * without a round trip through the host: the session then offers `runOnDevice` (and, on WebGPU, `upload`).
   */
  outputsOnDevice?: boolean;
}

/** A tensor left where a session computed it (a GPU buffer on WebGPU; runtime memory elsewhere). */
export interface DeviceTensor {
  readonly location: 'device';
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Copies it to the host. */
  download(): Promise<Tensor>;
  /** Frees the device memory (after the last run that reads it). */
  dispose(): void;
}

/** A session input: on the host, or left on the device by an earlier run. */
export type Feed = Tensor | DeviceTensor;

export function isDeviceTensor(f: Feed): f is DeviceTensor {
  return (f as DeviceTensor).location === 'device';
}

/** One ONNX model loaded into a runtime. */
export interface NetSession {
  readonly label: string;
  readonly device: Device;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Only on sessions created with `outputsOnDevice`: feeds may be DeviceTensors, and every output stays on the device. */
  runOnDevice?(feeds: Record<string, Feed>): Promise<Record<string, DeviceTensor>>;
  /** Only on such sessions where the device has its own memory: copies a host tensor there once (a loop's constant feeds). */
  upload?(t: Tensor): Promise<DeviceTensor>;
  release(): Promise<void>;
}

/** Creates sessions from serialized ONNX models. */
export interface InferenceBackend {
  readonly name: string;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<NetSession>;
}

/**
 * The inference interface the pipeline is written against. Implementations live outside the core:
 * src/runtime/ort.ts wraps any onnxruntime flavour (node or web) behind it.
 */
import type { Tensor } from './tensor.ts';

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
}

/** One ONNX model loaded into a runtime. */
export interface NetSession {
  readonly label: string;
  readonly device: Device;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

/** Creates sessions from serialized ONNX models. */
export interface InferenceBackend {
  readonly name: string;
  createSession(model: Uint8Array, options?: SessionOptions): Promise<NetSession>;
}

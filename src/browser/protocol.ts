/**
 * Messages between the page (client.ts) and the Web Worker (worker.ts). Every request carries an id; the
 * worker answers with any number of `event`s and then one `result` or `error` for that id.
 */
import type { ConvertEvent, ConvertOptions, ConvertStage } from '../core/pipeline/convert.ts';
import type { GuardEvent } from '../core/pipeline/guard.ts';
import type { PrecisionPlan } from '../core/precision.ts';
import type { BrowserLoadEvent, BrowserLoadOptions, DeviceChoice, LoadedFile } from './loader.ts';

/** Audio for a conversion: an encoded file (WAV, MP3, FLAC, Ogg), or samples (mono, any rate). */
export type AudioInput = { bytes: Uint8Array; name: string } | { samples: Float32Array; sampleRate: number };

/** The library's conversion options that cross the worker boundary; the noise as a file's bytes. */
export type WorkerConvertOptions = Pick<ConvertOptions, 'diffusionSteps' | 'lengthAdjust' | 'inferenceCfgRate' | 'autoF0Adjust' | 'semiToneShift' | 'seed'> & {
  /** A noise file (safetensors z.0, z.1, …), as the CLI's --noise. */
  noise?: Uint8Array;
};

export interface WorkerLoadOptions extends BrowserLoadOptions {
  /** Where onnxruntime-web's .mjs/.wasm files are (default: ./ort/ next to the worker script). */
  wasmPaths?: string;
}

export type Request =
  | { id: number; type: 'load'; options: WorkerLoadOptions }
  | { id: number; type: 'convert'; source: AudioInput; reference: AudioInput; options: WorkerConvertOptions }
  | { id: number; type: 'dispose' }
  | { id: number; type: 'clear-cache' }
  /** Stops request `target` (a load or a conversion, running or queued); handled at once, not queued. */
  | { id: number; type: 'cancel'; target: number };

/** What a load reports back to the page. */
export interface LoadSummary {
  model: string;
  sampleRate: number;
  choice: DeviceChoice;
  plan: PrecisionPlan;
  files: Record<string, LoadedFile>;
  /** ms: downloading/reading files, building or reading graphs, creating sessions, all. */
  timings: { files: number; graphs: number; sessions: number; total: number };
}

export interface WorkerConvertResult {
  audio: Float32Array;
  sampleRate: number;
  timings: Record<ConvertStage | 'total', number>;
  rtf: number;
  seed?: number;
  guard: GuardEvent[];
}

export interface SerializedError { name: string; code?: string; message: string; status?: number }

export type Response =
  | { id: number; type: 'event'; event: BrowserLoadEvent | ConvertEvent }
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; error: SerializedError };

/**
 * The browser inference backend: onnxruntime-web (WebGPU, falling back to WASM). The caller passes the
 * onnxruntime-web module so bundlers pick the flavour (`onnxruntime-web/webgpu` or plain
 * `onnxruntime-web`) and the WASM files can be self-hosted (`ort.env.wasm.wasmPaths`).
 */
import type * as OrtCommon from 'onnxruntime-common';
import type { InferenceBackend, NetSession, SessionOptions } from '../core/runtime.ts';
import { OrtBackend } from '../runtime/ort.ts';

/** The parts of an onnxruntime-web module the backend and the loader use. */
export type OrtWeb = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor' | 'env'>;

/** Whether this browser's WebGPU adapter offers `shader-f16` (the input of the precision resolver). */
export async function webGpuShaderF16(): Promise<boolean | undefined> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<{ features: Set<string> } | null> } } | undefined)?.gpu;
  if (!gpu) return undefined;
  const adapter = await gpu.requestAdapter();
  return adapter ? adapter.features.has('shader-f16') : undefined;
}

/**
 * An InferenceBackend that creates sessions on the requested device and, when that device is 'webgpu'
 * and fails (no adapter, missing feature), on 'wasm' instead, reporting the fallback through `log`.
 */
export function createWebBackend(ort: OrtWeb, log: (line: string) => void = () => {}): InferenceBackend {
  const inner = new OrtBackend(ort, 'onnxruntime-web');
  return {
    name: 'onnxruntime-web',
    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<NetSession> {
      const device = options.device ?? 'wasm';
      try {
        return await inner.createSession(model, { ...options, device });
      } catch (e) {
        if (device !== 'webgpu') throw e;
        log(`${options.label ?? 'model'}: webgpu unavailable (${(e as Error).message.split('\n')[0]}); using wasm`);
        return inner.createSession(model, { ...options, device: 'wasm' });
      }
    },
  };
}

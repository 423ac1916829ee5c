/** The Node.js inference backend: onnxruntime-node (CPU and WebGPU providers bundled). */
import * as ort from 'onnxruntime-node';
import { OrtBackend } from '../runtime/ort.ts';

export const nodeBackend = new OrtBackend(ort, 'onnxruntime-node');
export { ort };

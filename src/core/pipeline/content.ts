/**
 * Content encoders: the speech tokenizer stage (Whisper or XLS-R encoder) behind one interface, and the
 * long-input loop of inference.py that runs it over 30 s windows with 5 s overlap.
 */
import { normalizeWav2vec2Input } from '../nets/wav2vec2.ts';
import { type WhisperEncoderConfig, whisperContent } from '../nets/whisper-encoder.ts';
import type { NetSession } from '../runtime.ts';
import { type Tensor, tensor } from '../tensor.ts';
import { type GuardEvent, fp16Hazard, guarded } from './guard.ts';
import { contentWindows } from './windows.ts';

/** Turns a 16 kHz waveform (at most 30 s) into content features [1, frames, dim] at 50 Hz. */
export interface ContentEncoder {
  readonly kind: 'whisper' | 'xlsr';
  readonly dim: number;
  encode(wave16k: Float32Array): Promise<Tensor<'float32'>>;
}

/** Whisper: log-mel features padded to 30 s -> encoder -> the frames covering the real samples. */
export class WhisperContentEncoder implements ContentEncoder {
  readonly kind = 'whisper';
  readonly dim: number;
  constructor(private readonly session: NetSession, private readonly cfg: WhisperEncoderConfig) {
    this.dim = cfg.dModel;
  }

  encode(wave16k: Float32Array): Promise<Tensor<'float32'>> {
    return whisperContent((feeds) => this.session.run(feeds), wave16k, this.cfg);
  }
}

/** XLS-R: per-utterance normalisation -> wav2vec2 (first `output_layer` layers) -> last_hidden_state. */
export class XlsrContentEncoder implements ContentEncoder {
  readonly kind = 'xlsr';
  constructor(private readonly session: NetSession, readonly dim: number) {}

  async encode(wave16k: Float32Array): Promise<Tensor<'float32'>> {
    const x = normalizeWav2vec2Input(wave16k);
    const out = await this.session.run({ input_values: tensor('float32', [1, x.length], x) });
    return out.last_hidden_state as Tensor<'float32'>;
  }
}

export interface ContentGuard {
  /** The fp32 encoder to recompute a window with (present when the encoder runs in fp16). */
  fallback?: () => Promise<ContentEncoder>;
  report: (e: GuardEvent) => void;
  /** What makes a window unsafe (default: the fp16 check). */
  hazard?: (data: ArrayLike<number>) => string | null;
}

/** Runs `encoder` over the Whisper window schedule and concatenates the kept frames. */
export async function encodeContent(
  encoder: ContentEncoder,
  wave16k: Float32Array,
  onWindow?: (i: number, n: number) => void,
  guard?: ContentGuard,
): Promise<Tensor<'float32'>> {
  const windows = contentWindows(wave16k.length);
  const parts: Float32Array[] = [];
  let frames = 0;
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    const chunk = wave16k.subarray(w.start, w.end);
    const fallback = guard?.fallback;
    const feats = await guarded('content', i + 1, () => encoder.encode(chunk),
      fallback && (async () => (await fallback()).encode(chunk)), (t) => (guard?.hazard ?? fp16Hazard)(t.data), guard?.report ?? (() => {}));
    const drop = Math.min(w.dropHeadFrames, feats.shape[1]);
    parts.push(feats.data.subarray(drop * encoder.dim));
    frames += feats.shape[1] - drop;
    onWindow?.(i + 1, windows.length);
  }
  const data = new Float32Array(frames * encoder.dim);
  let o = 0;
  for (const p of parts) { data.set(p, o); o += p.length; }
  return tensor('float32', [1, frames, encoder.dim], data);
}

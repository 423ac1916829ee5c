/**
 * The two window schedules of inference.py for long inputs, as pure functions:
 *  - Whisper sees at most 30 s: windows [0, 30 s), then [t - 5 s, t + 25 s), ...; every window after the
 *    first drops its first 250 encoder frames (the 5 s overlap), and the rest are concatenated.
 *  - The DiT sees at most `sr // hop * 30` frames including the prompt: source windows of
 *    `maxContext - P` frames overlapping by 16 frames, joined on the waveform by a cos^2 crossfade.
 * and the schedule of the networks whose outputs only see a bounded receptive field (BigVGAN, RMVPE's
 * U-Net): pieces run with enough real input around them that the kept part equals one whole run.
 */
import { crossfade } from '../dsp/index.ts';

export const WHISPER_SR = 16000;
export const WHISPER_WINDOW = 30 * WHISPER_SR;
export const WHISPER_OVERLAP = 5 * WHISPER_SR;
/** Encoder frames per second (20 ms frames). */
export const WHISPER_FRAME_RATE = 50;
export const OVERLAP_FRAMES = 16;

export interface ContentWindow {
  /** Sample range [start, end) of the 16 kHz waveform. */
  start: number;
  end: number;
  /** Encoder frames dropped at the head (the overlap with the previous window). */
  dropHeadFrames: number;
}

/** The Whisper windows inference.py uses for a 16 kHz waveform of `samples` samples. */
export function contentWindows(samples: number): ContentWindow[] {
  if (samples <= WHISPER_WINDOW) return [{ start: 0, end: samples, dropHeadFrames: 0 }];
  const out: ContentWindow[] = [];
  let traversed = 0;
  while (traversed < samples) {
    if (out.length === 0) {
      out.push({ start: 0, end: Math.min(WHISPER_WINDOW, samples), dropHeadFrames: 0 });
      traversed += WHISPER_WINDOW;
    } else {
      const start = traversed - WHISPER_OVERLAP;
      const end = Math.min(traversed + WHISPER_WINDOW - WHISPER_OVERLAP, samples);
      out.push({ start, end, dropHeadFrames: WHISPER_FRAME_RATE * (WHISPER_OVERLAP / WHISPER_SR) });
      traversed += end - start - WHISPER_OVERLAP;
    }
  }
  return out;
}

export interface DitWindow {
  /** Frame range [start, end) of the source condition. */
  start: number;
  end: number;
  isLast: boolean;
}

/** The DiT source windows for `frames` condition frames with a prompt of `promptFrames`. */
export function ditWindows(frames: number, promptFrames: number, maxContext: number): DitWindow[] {
  const maxSource = maxContext - promptFrames;
  if (maxSource <= OVERLAP_FRAMES) {
    throw new Error(`the reference prompt (${promptFrames} frames) leaves no room in the ${maxContext}-frame DiT context`);
  }
  const out: DitWindow[] = [];
  let processed = 0;
  while (processed < frames) {
    const end = Math.min(processed + maxSource, frames);
    const isLast = processed + maxSource >= frames;
    out.push({ start: processed, end, isLast });
    if (isLast) break;
    processed += end - processed - OVERLAP_FRAMES;
  }
  return out;
}

/**
 * Joins per-window waveforms as inference.py does: each window but the last keeps back its final
 * `overlap` samples, which are cos^2-crossfaded over the head of the next window's waveform.
 */
export class WaveJoiner {
  private readonly pieces: Float32Array[] = [];
  private previous: Float32Array | null = null;

  constructor(private readonly overlap: number) {}

  push(wave: Float32Array, isLast: boolean): void {
    const ov = this.overlap;
    if (this.previous === null && this.pieces.length === 0) {
      if (isLast) { this.pieces.push(wave); return; }
      this.pieces.push(wave.slice(0, wave.length - ov));
      this.previous = wave.slice(wave.length - ov);
      return;
    }
    const prev = this.previous!;
    if (isLast) {
      this.pieces.push(crossfade(prev, wave.slice(), ov));
      this.previous = null;
    } else {
      this.pieces.push(crossfade(prev, wave.slice(0, wave.length - ov), ov));
      this.previous = wave.slice(wave.length - ov);
    }
  }

  /** The joined waveform. */
  result(): Float32Array {
    const total = this.pieces.reduce((n, p) => n + p.length, 0);
    const out = new Float32Array(total);
    let o = 0;
    for (const p of this.pieces) { out.set(p, o); o += p.length; }
    return out;
  }
}

/** A piece of a long input run with context: frames [from, to) go in, the outputs of [start, end) are kept. */
export interface ContextWindow {
  start: number;
  end: number;
  from: number;
  to: number;
}

/** Pieces of `core` frames covering [0, total), each with up to `context` frames of real input on both sides. */
export function contextWindows(total: number, core: number, context: number): ContextWindow[] {
  const out: ContextWindow[] = [];
  for (let start = 0; start < total; start += core) {
    const end = Math.min(start + core, total);
    out.push({ start, end, from: Math.max(0, start - context), to: Math.min(total, end + context) });
  }
  return out;
}

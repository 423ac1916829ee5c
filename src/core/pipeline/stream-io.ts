/**
 * What every front end of the streaming converter needs around it (CLI pipe, WebSocket, benchmark): raw PCM
 * framing into blocks, and the per-block statistics a live user cares about (compute time percentiles, the
 * share of blocks that missed their deadline, the share the voice-activity gate skipped).
 */
import { InvalidInputError } from '../errors.ts';

export type PcmFormat = 'f32le' | 's16le';

export const PCM_BYTES: Record<PcmFormat, number> = { f32le: 4, s16le: 2 };

/** Little-endian PCM bytes -> float samples (s16 / 32768). `bytes.length` must be a whole number of samples. */
export function decodePcm(bytes: Uint8Array, format: PcmFormat): Float32Array {
  const size = PCM_BYTES[format];
  if (bytes.length % size !== 0) throw new InvalidInputError(`${format} PCM needs a multiple of ${size} bytes, got ${bytes.length}`);
  const n = bytes.length / size;
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'f32le') for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  else for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

/** Float samples -> little-endian PCM bytes (s16: x 32767, rounded, clipped; non-finite -> 0). */
export function encodePcm(samples: Float32Array, format: PcmFormat): Uint8Array {
  const size = PCM_BYTES[format];
  const out = new Uint8Array(samples.length * size);
  const view = new DataView(out.buffer);
  if (format === 'f32le') {
    for (let i = 0; i < samples.length; i++) view.setFloat32(4 * i, samples[i], true);
  } else {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i];
      const c = Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0;
      view.setInt16(2 * i, Math.round(c * 32767), true);
    }
  }
  return out;
}

/** Collects PCM bytes of any chunking and hands out whole blocks of samples. */
export class BlockFramer {
  private buf: Uint8Array;
  private used = 0;
  private readonly blockBytes: number;

  constructor(readonly blockSamples: number, readonly format: PcmFormat) {
    if (!Number.isInteger(blockSamples) || blockSamples < 1) throw new InvalidInputError(`block size must be a positive integer, got ${blockSamples}`);
    this.blockBytes = blockSamples * PCM_BYTES[format];
    this.buf = new Uint8Array(2 * this.blockBytes);
  }

  /** Bytes waiting for a complete block. */
  get pending(): number { return this.used; }

  /** Adds bytes; returns every block now complete. */
  push(chunk: Uint8Array): Float32Array[] {
    if (this.used + chunk.length > this.buf.length) {
      const next = new Uint8Array(Math.max(2 * this.buf.length, this.used + chunk.length));
      next.set(this.buf.subarray(0, this.used));
      this.buf = next;
    }
    this.buf.set(chunk, this.used);
    this.used += chunk.length;
    const blocks: Float32Array[] = [];
    let off = 0;
    while (this.used - off >= this.blockBytes) {
      blocks.push(decodePcm(this.buf.subarray(off, off + this.blockBytes), this.format));
      off += this.blockBytes;
    }
    if (off) { this.buf.copyWithin(0, off, this.used); this.used -= off; }
    return blocks;
  }

  /** The last partial block, zero-padded (null when nothing is pending); `samples` = how many were real. */
  flush(): { block: Float32Array; samples: number } | null {
    if (this.used === 0) return null;
    const size = PCM_BYTES[this.format];
    const whole = this.used - (this.used % size);
    const real = decodePcm(this.buf.subarray(0, whole), this.format);
    this.used = 0;
    const block = new Float32Array(this.blockSamples);
    block.set(real);
    return { block, samples: real.length };
  }
}

/** Per-block compute times and outcomes of a stream. */
export class StreamStats {
  private readonly ms: number[] = [];
  private misses = 0;
  private skipped = 0;

  constructor(readonly blockSeconds: number) {}

  /**
   * Records a block: its compute time, whether the VAD skipped it, and (paced streams) how late its output
   * was past its deadline in ms; without `lateMs` a block misses when its compute exceeds the block time.
   */
  add(computeMs: number, skipped: boolean, lateMs?: number): void {
    this.ms.push(computeMs);
    if (skipped) this.skipped++;
    if (lateMs !== undefined ? lateMs > 0 : computeMs > this.blockSeconds * 1000) this.misses++;
  }

  get blocks(): number { return this.ms.length; }

  summary(): StreamSummary {
    const sorted = [...this.ms].sort((a, b) => a - b);
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : 0);
    const n = Math.max(1, this.ms.length);
    return {
      blocks: this.ms.length,
      computeMs: { p50: q(0.5), p95: q(0.95), max: sorted.length ? sorted[sorted.length - 1] : 0 },
      realTimeFactor: q(0.5) / (this.blockSeconds * 1000),
      deadlineMissShare: this.misses / n,
      vadSkippedShare: this.skipped / n,
    };
  }
}

export interface StreamSummary {
  blocks: number;
  /** Per-block compute time (nearest-rank percentiles). */
  computeMs: { p50: number; p95: number; max: number };
  /** Median compute time / block time: below 1 keeps up with real time. */
  realTimeFactor: number;
  deadlineMissShare: number;
  vadSkippedShare: number;
}

/** Decodes a PCM byte stream of any chunking into samples (a sample split across chunks waits for its rest). */
export class PcmDecoder {
  private rest = new Uint8Array(0);
  constructor(readonly format: PcmFormat) {}

  push(chunk: Uint8Array): Float32Array {
    const size = PCM_BYTES[this.format];
    const all = this.rest.length ? new Uint8Array(this.rest.length + chunk.length) : chunk;
    if (this.rest.length) { all.set(this.rest); all.set(chunk, this.rest.length); }
    const whole = all.length - (all.length % size);
    this.rest = all.slice(whole);
    return decodePcm(all.subarray(0, whole), this.format);
  }

  /** Bytes of an incomplete last sample (non-zero at the end of a stream means it was cut mid-sample). */
  get leftover(): number { return this.rest.length; }
}

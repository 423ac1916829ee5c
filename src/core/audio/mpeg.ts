/**
 * MPEG audio (MP1/MP2/MP3) frame headers and ID3v2 tags: enough to find the audio frames, learn the
 * channel count (the wasm decoder always returns two channels) and hand the decoder nothing but
 * frames with valid headers, so junk between or after frames never reaches it.
 */

/** One MPEG audio frame header, decoded. */
export interface MpegFrameHeader {
  /** 1, 2 or 2.5 (MPEG-2.5). */
  readonly version: 1 | 2 | 2.5;
  /** Layer I, II or III. */
  readonly layer: 1 | 2 | 3;
  /** Output sample rate in Hz. */
  readonly sampleRate: number;
  /** 1 for single-channel mode, 2 otherwise. */
  readonly channels: 1 | 2;
  /** Frame length in bytes, header included. */
  readonly length: number;
}

// Bitrates in kbit/s by [table][index]; index 0 (free format) and 15 (bad) are not listed.
const BITRATES: Record<string, number[]> = {
  'v1l1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  'v1l2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  'v1l3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  'v2l1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  'v2l23': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] };

/** Decodes the 4-byte frame header at `at`, or returns undefined when it is not a usable one. */
export function mpegFrameHeader(bytes: Uint8Array, at: number): MpegFrameHeader | undefined {
  if (at + 4 > bytes.length) return undefined;
  const b1 = bytes[at + 1];
  const b2 = bytes[at + 2];
  if (bytes[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  // version 01 and layer 00 are reserved; bitrate 0 is free format (length unknowable), 15 is invalid
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const table = version === 1 ? `v1l${layer}` : layer === 1 ? 'v2l1' : 'v2l23';
  const bitrate = BITRATES[table][bitrateIndex] * 1000;
  const sampleRate = SAMPLE_RATES[version][rateIndex];
  const padding = (b2 >> 1) & 1;
  const length = layer === 1
    ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4
    : Math.floor(((layer === 3 && version !== 1 ? 72 : 144) * bitrate) / sampleRate) + padding;
  const channels = (bytes[at + 3] >> 6) === 3 ? 1 : 2;
  return { version, layer, sampleRate, channels, length };
}

/** True when the 12 bits at `at` are an ADTS (AAC) sync word: MPEG sync with the reserved layer 00. */
export function isAdtsHeader(bytes: Uint8Array, at: number): boolean {
  return at + 2 <= bytes.length && bytes[at] === 0xff && (bytes[at + 1] & 0xf6) === 0xf0;
}

/** Offset just past any ID3v2 tags at `at` (several may be stacked), clamped to the file length. */
export function skipId3v2(bytes: Uint8Array, at = 0): number {
  while (at + 10 <= bytes.length && bytes[at] === 0x49 && bytes[at + 1] === 0x44 && bytes[at + 2] === 0x33) {
    const size = ((bytes[at + 6] & 0x7f) << 21) | ((bytes[at + 7] & 0x7f) << 14) | ((bytes[at + 8] & 0x7f) << 7) | (bytes[at + 9] & 0x7f);
    const footer = bytes[at + 5] & 0x10 ? 10 : 0;
    at = Math.min(bytes.length, at + 10 + size + footer);
  }
  return at;
}

/** True when `a` and `b` can belong to one stream (a change of any of these means we hit junk). */
function sameStream(a: MpegFrameHeader, b: MpegFrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

/**
 * A frame that starts a stream: valid, and followed by another of the same stream or by the end of
 * the file. Two in a row rule out a random 0xFFE pattern in junk.
 */
function isStreamStart(bytes: Uint8Array, at: number): MpegFrameHeader | undefined {
  const h = mpegFrameHeader(bytes, at);
  if (!h) return undefined;
  const next = at + h.length;
  if (next === bytes.length) return h;
  const h2 = mpegFrameHeader(bytes, next);
  return h2 && sameStream(h, h2) ? h : undefined;
}

/** How far past the tags we look for the first frame (encoders sometimes leave padding there). */
export const MAX_SYNC_SEARCH = 64 * 1024;

/** The first frame of the stream at or after `from`, searching at most MAX_SYNC_SEARCH bytes. */
export function findFirstFrame(bytes: Uint8Array, from: number): { at: number; header: MpegFrameHeader } | undefined {
  const end = Math.min(bytes.length - 4, from + MAX_SYNC_SEARCH);
  for (let at = from; at <= end; at++) {
    const header = isStreamStart(bytes, at);
    if (header) return { at, header };
  }
  return undefined;
}

/**
 * Every whole frame from `first` on that matches the first frame's stream, skipping junk between
 * frames. A truncated last frame is dropped.
 */
export function collectFrames(bytes: Uint8Array, first: number): { frames: Uint8Array[]; header: MpegFrameHeader } {
  const header = mpegFrameHeader(bytes, first)!;
  const frames: Uint8Array[] = [];
  let at = first;
  while (at + 4 <= bytes.length) {
    const h = mpegFrameHeader(bytes, at);
    if (h && sameStream(h, header) && at + h.length <= bytes.length) {
      frames.push(bytes.subarray(at, at + h.length));
      at += h.length;
    } else {
      at = resync(bytes, at + 1, header);
    }
  }
  return { frames, header };
}

/** The next offset where a frame of the stream starts, or the file length. */
function resync(bytes: Uint8Array, from: number, stream: MpegFrameHeader): number {
  for (let at = from; at + 4 <= bytes.length; at++) {
    if (bytes[at] !== 0xff) continue;
    const h = isStreamStart(bytes, at);
    if (h && sameStream(h, stream)) return at;
  }
  return bytes.length;
}

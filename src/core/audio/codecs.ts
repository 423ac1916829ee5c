/**
 * Compressed formats through the wasm decoders (mpg123, libFLAC, libvorbis, libopus builds from the
 * wasm-audio-decoders project; they run in Node and the browser). Each module is imported on first use
 * so WAV-only callers never load them. Whatever a decoder throws or returns is checked and turned into
 * an AudioFormatError; a decoder only ever sees data whose framing we or codec-parser validated.
 */
import { AudioFormatError } from '../errors.ts';
import { collectFrames, findFirstFrame } from './mpeg.ts';
import type { DecodedAudio } from './types.ts';
import { assertFinite } from './wav.ts';

/** The common result shape of the wasm decoders. */
interface WasmDecoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

/** The lifecycle the wasm decoders share. */
interface WasmDecoder<R> {
  ready: Promise<void>;
  free(): void;
  decodeFile(bytes: Uint8Array): Promise<R>;
}

/** At most this many decoder complaints are kept as warnings (a damaged file can produce thousands). */
const MAX_WARNINGS = 20;

/** Decodes FLAC, native or in Ogg. */
export async function decodeFlac(bytes: Uint8Array, fileName: string): Promise<DecodedAudio> {
  const decoded = await run(fileName, 'FLAC', async () => {
    const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
    return withDecoder(new FLACDecoder() as WasmDecoder<WasmDecoded & { bitDepth: number }>, (d) => d.decodeFile(bytes));
  });
  const audio = finish(fileName, 'FLAC', decoded);
  rescaleFlac(audio.channelData, decoded.bitDepth);
  return audio;
}

/**
 * The FLAC decoder divides by 2^(bits-1) - 1; the WAV reader, scipy and soundfile divide by 2^(bits-1).
 * Up to 24 bits its float32 output still pins down the integer, so we recover it and divide again:
 * a FLAC then decodes to exactly what the same samples in a WAV decode to.
 */
function rescaleFlac(channelData: Float32Array[], bitDepth: number): void {
  if (!Number.isInteger(bitDepth) || bitDepth < 4 || bitDepth > 32) return;
  const full = 2 ** (bitDepth - 1);
  const exact = bitDepth <= 24;
  for (const ch of channelData) {
    for (let i = 0; i < ch.length; i++) {
      ch[i] = exact ? Math.round(ch[i] * (full - 1)) / full : (ch[i] * (full - 1)) / full;
    }
  }
}

/** Decodes Ogg Vorbis. */
export async function decodeOggVorbis(bytes: Uint8Array, fileName: string): Promise<DecodedAudio> {
  const decoded = await run(fileName, 'Vorbis', async () => {
    const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
    return withDecoder(new OggVorbisDecoder() as WasmDecoder<WasmDecoded>, (d) => d.decodeFile(bytes));
  });
  return finish(fileName, 'Vorbis', decoded);
}

/** Decodes Ogg Opus; Opus always decodes at 48 kHz, whatever rate the encoder was fed. */
export async function decodeOggOpus(bytes: Uint8Array, fileName: string): Promise<DecodedAudio> {
  const decoded = await run(fileName, 'Opus', async () => {
    const { OggOpusDecoder } = await import('ogg-opus-decoder');
    return withDecoder(new OggOpusDecoder() as WasmDecoder<WasmDecoded>, (d) => d.decodeFile(bytes));
  });
  const audio = finish(fileName, 'Opus', decoded);
  return trimOpusTail(audio, opusStreamLength(bytes));
}

/**
 * ogg-opus-decoder trims the end against the final granule position without subtracting the pre-skip,
 * so it returns pre-skip samples too many. RFC 7845 4.1: length = final granule - pre-skip. We trim by
 * at most the pre-skip, and only when the page walk is clean.
 */
function trimOpusTail(audio: DecodedAudio, expected: { frames: number; preSkip: number } | undefined): DecodedAudio {
  if (!expected || audio.sampleRate !== 48000) return audio;
  const extra = audio.frames - expected.frames;
  if (extra <= 0 || extra > expected.preSkip) return audio;
  const channelData = audio.channelData.map((c) => c.subarray(0, expected.frames));
  return { ...audio, frames: expected.frames, channelData };
}

/** Final granule minus pre-skip of the first logical stream, or undefined if the pages do not add up. */
export function opusStreamLength(bytes: Uint8Array): { frames: number; preSkip: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let serial: number | undefined;
  let preSkip: number | undefined;
  let granule = -1;
  for (let pos = 0; pos < bytes.length;) {
    if (pos + 27 > bytes.length || view.getUint32(pos, false) !== 0x4f676753) return undefined; // 'OggS'
    const segments = bytes[pos + 26];
    if (pos + 27 + segments > bytes.length) return undefined;
    let body = 0;
    for (let i = 0; i < segments; i++) body += bytes[pos + 27 + i];
    const bodyAt = pos + 27 + segments;
    if (bodyAt + body > bytes.length) return undefined;
    const pageSerial = view.getUint32(pos + 14, true);
    serial ??= pageSerial;
    if (pageSerial === serial) {
      if (preSkip === undefined) {
        if (body < 19) return undefined;
        preSkip = view.getUint16(bodyAt + 10, true); // OpusHead: magic(8) version(1) channels(1) pre-skip(2)
      }
      const g = view.getBigInt64(pos + 6, true);
      if (g >= 0n && g <= BigInt(Number.MAX_SAFE_INTEGER)) granule = Number(g);
    }
    pos = bodyAt + body;
  }
  if (preSkip === undefined || granule < preSkip) return undefined;
  return { frames: granule - preSkip, preSkip };
}

/**
 * Decodes MPEG audio (MP3, also MP1/MP2) starting at `offset` (past any ID3v2 tag). Only whole frames
 * with valid headers are passed on; the channel count comes from the frame header because mpg123
 * always returns two channels.
 */
export async function decodeMp3(bytes: Uint8Array, fileName: string, offset = 0): Promise<DecodedAudio> {
  const first = findFirstFrame(bytes, offset);
  if (!first) throw new AudioFormatError(fileName, 'no MPEG audio frames found');
  const { frames, header } = collectFrames(bytes, first.at);
  const stream = concat(frames);
  const decoded = await run(fileName, 'MP3', async () => {
    const { MPEGDecoder } = await import('mpg123-decoder');
    const decoder = new MPEGDecoder();
    try {
      await decoder.ready;
      const out = decoder.decode(stream) as WasmDecoded;
      return header.channels === 1 ? { ...out, channelData: out.channelData.slice(0, 1) } : out;
    } finally {
      freeQuietly(decoder);
    }
  });
  return finish(fileName, 'MP3', decoded);
}

/** Runs a decoder, turning anything it throws into an AudioFormatError. */
async function run<R extends WasmDecoded>(fileName: string, codec: string, body: () => Promise<R>): Promise<R> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof AudioFormatError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new AudioFormatError(fileName, `${codec} decoder failed: ${message}`, { cause: e });
  }
}

async function withDecoder<R>(decoder: WasmDecoder<R>, body: (d: WasmDecoder<R>) => Promise<R>): Promise<R> {
  try {
    await decoder.ready;
    return await body(decoder);
  } finally {
    freeQuietly(decoder);
  }
}

/** free() can throw when the decoder never finished initializing; the original error matters more. */
function freeQuietly(decoder: { free(): unknown }): void {
  try {
    const r = decoder.free();
    if (r instanceof Promise) r.catch(() => undefined);
  } catch {
    // nothing to release
  }
}

/** Checks a decoder's output and shapes it as DecodedAudio. */
function finish(fileName: string, codec: string, d: WasmDecoded): DecodedAudio {
  const fail = (problem: string): never => { throw new AudioFormatError(fileName, problem); };
  const errors = Array.isArray(d.errors) ? d.errors.map((e) => String(e?.message ?? e)) : [];
  const firstError = errors.length ? `: ${errors[0]}` : ' (damaged or truncated stream)';
  const chans = Array.isArray(d.channelData) ? d.channelData : [];
  const frames = chans.length ? Math.min(...chans.map((c) => c.length)) : 0;
  if (frames === 0) fail(`no audio samples: the ${codec} decoder produced none${firstError}`);
  if (!Number.isInteger(d.sampleRate) || d.sampleRate <= 0) fail(`${codec} decoder reported a sample rate of ${d.sampleRate}`);
  const channelData = chans.map((c) => (c.length === frames ? c : c.subarray(0, frames)));
  assertFinite(channelData, fail);
  const out: DecodedAudio = { sampleRate: d.sampleRate, channels: channelData.length, frames, channelData };
  if (!errors.length) return out;
  const warnings = errors.slice(0, MAX_WARNINGS);
  if (errors.length > MAX_WARNINGS) warnings.push(`... and ${errors.length - MAX_WARNINGS} more decoder errors`);
  return { ...out, warnings };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

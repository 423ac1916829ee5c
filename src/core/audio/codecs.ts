/**
 * Compressed formats through the wasm decoders (mpg123, libFLAC, libvorbis, libopus builds from the
 * wasm-audio-decoders project; they run in Node and the browser). Each module is imported on first use
 * so WAV-only callers never load them. Whatever a decoder throws or returns is checked and turned into
 * an AudioFormatError; a decoder only ever sees data whose framing we or codec-parser validated.
 *
 * Bounds (limits.ts): the sample rate and the decoded duration are known before decoding from the frame
 * headers (MP3, FLAC, Opus TOC bytes), so a file over the limit is refused without decoding a frame;
 * Vorbis, whose per-packet length depends on a setup header codec-parser parses heuristically, is also
 * estimated first and then decoded page by page, stopping as soon as the limit is crossed.
 */
import { AudioFormatError } from '../errors.ts';
import { type DecodeLimits, checkDuration, checkSampleRate, maxSecondsOf } from './limits.ts';
import { collectFrames, findFirstFrame, mpegFrameHeader } from './mpeg.ts';
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

/** The parts of codec-parser's frames and Ogg pages we read. */
interface ParsedFrame { data: Uint8Array; samples: number; header?: { sampleRate?: number; blockSize?: number } }
interface ParsedPage { codecFrames: ParsedFrame[] }

/** Compressed streams are parsed and decoded in chunks of this many bytes, so parser state stays small. */
const CHUNK = 1 << 16;

/**
 * Walks the frames codec-parser finds (the frames the decoders are fed), chunk by chunk and keeping
 * none, calling `onFrame` for each; `onFrame` throws to stop early. FLAC frames come bare, Ogg
 * streams as pages holding them.
 */
async function forEachFrame(bytes: Uint8Array, mime: 'audio/flac' | 'application/ogg', onFrame: (f: ParsedFrame) => void): Promise<void> {
  const { default: CodecParser } = await import('codec-parser');
  const parser = new CodecParser(mime, { enableFrameCRC32: false });
  const walk = (items: Iterator<unknown>) => {
    for (let r = items.next(); !r.done; r = items.next()) {
      const item = r.value as ParsedFrame & Partial<ParsedPage>;
      if (item.codecFrames) for (const f of item.codecFrames) onFrame(f);
      else onFrame(item);
    }
  };
  for (let at = 0; at < bytes.length; at += CHUNK) walk(parser.parseChunk(bytes.subarray(at, at + CHUNK)));
  walk(parser.flush());
}

/** A streaming wasm decoder (FLAC, Vorbis): chunks in, audio out, then what it held back. */
interface StreamingDecoder extends WasmDecoder<WasmDecoded> {
  decode(chunk: Uint8Array): Promise<WasmDecoded>;
  flush(): Promise<WasmDecoded>;
}

/** Feeds `bytes` to a streaming decoder chunk by chunk, stopping as soon as the output crosses the limit. */
async function decodeStreaming(decoder: StreamingDecoder, bytes: Uint8Array, fileName: string, maxSeconds: number): Promise<WasmDecoded> {
  return withDecoder(decoder, async () => {
    const parts: WasmDecoded[] = [];
    let frames = 0;
    const take = (d: WasmDecoded) => {
      parts.push(d);
      frames += d.samplesDecoded;
      if (d.sampleRate > 0) checkDuration(fileName, frames, d.sampleRate, maxSeconds, 'decoding stopped after');
    };
    for (let at = 0; at < bytes.length; at += CHUNK) take(await decoder.decode(bytes.subarray(at, at + CHUNK)));
    take(await decoder.flush());
    return joinDecoded(parts);
  });
}

/** How far (in samples, 1 ms) the decoded length may differ from the STREAMINFO total before the stream counts as damaged. */
const flacTolerance = (rate: number) => Math.floor(rate / 1000);

/**
 * Decodes FLAC, native or in Ogg. The frame headers give every frame's length, so the duration is
 * known (and bounded) before decoding; afterwards the decoded length must match STREAMINFO's total,
 * because a damaged frame makes the parser drop the rest of the stream without any decoder error.
 */
export async function decodeFlac(bytes: Uint8Array, fileName: string, limits?: DecodeLimits): Promise<DecodedAudio> {
  const maxSeconds = maxSecondsOf(limits);
  const ogg = bytes.length >= 4 && bytes[0] === 0x4f && bytes[1] === 0x67 && bytes[2] === 0x67 && bytes[3] === 0x53;
  const info = flacStreamInfo(bytes);
  if (info) {
    checkSampleRate(fileName, info.sampleRate, 'STREAMINFO declares');
    if (info.totalSamples > 0) checkDuration(fileName, info.totalSamples, info.sampleRate, maxSeconds, 'STREAMINFO declares');
  }
  const decoded = await run(fileName, 'FLAC', async () => {
    let seconds = 0;
    await forEachFrame(bytes, ogg ? 'application/ogg' : 'audio/flac', (f) => {
      const rate = f.header?.sampleRate ?? info?.sampleRate;
      if (rate === undefined) return;
      checkSampleRate(fileName, rate, 'a FLAC frame header declares');
      seconds += (f.header?.blockSize ?? f.samples) / rate;
      checkDuration(fileName, seconds, 1, maxSeconds, 'the FLAC frames hold at least');
    });
    const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
    return decodeStreaming(new FLACDecoder() as unknown as StreamingDecoder, bytes, fileName, maxSeconds) as Promise<WasmDecoded & { bitDepth: number }>;
  });
  const audio = finish(fileName, 'FLAC', decoded, maxSeconds);
  if (decoded.errors?.length) {
    throw new AudioFormatError(fileName, `damaged FLAC stream: the decoder reported ${decoded.errors.length} error(s), first: ${String(decoded.errors[0]?.message ?? decoded.errors[0])}`);
  }
  if (info && info.totalSamples > 0 && Math.abs(audio.frames - info.totalSamples) > flacTolerance(info.sampleRate)) {
    const sec = (n: number) => (n / info.sampleRate).toFixed(3);
    throw new AudioFormatError(fileName, `damaged or truncated FLAC stream: ${audio.frames} samples (${sec(audio.frames)} s) decoded, STREAMINFO declares ${info.totalSamples} (${sec(info.totalSamples)} s)`);
  }
  rescaleFlac(audio.channelData, decoded.bitDepth);
  return audio;
}

/**
 * STREAMINFO's sample rate and total samples (0 = unknown), from a native FLAC stream or the first
 * packet of an Ogg FLAC one ('\x7fFLAC' + version + header count + 'fLaC' + metadata block); undefined
 * when it is not where the format puts it.
 */
export function flacStreamInfo(bytes: Uint8Array): { sampleRate: number; totalSamples: number } | undefined {
  let at = -1;
  if (bytes[0] === 0x66 && bytes[1] === 0x4c && bytes[2] === 0x61 && bytes[3] === 0x43) at = 4; // 'fLaC'
  else {
    const limit = Math.min(bytes.length - 4, 512);
    for (let i = 0; i < limit; i++) {
      if (bytes[i] === 0x7f && bytes[i + 1] === 0x46 && bytes[i + 2] === 0x4c && bytes[i + 3] === 0x41 && bytes[i + 4] === 0x43) { at = i + 13; break; }
    }
  }
  if (at < 0 || at + 4 + 18 > bytes.length || (bytes[at] & 0x7f) !== 0) return undefined; // block type 0 = STREAMINFO
  const b = at + 4; // body: min/max block (4), min/max frame (6), then rate(20) channels(3) bits(5) total(36)
  const sampleRate = (bytes[b + 10] << 12) | (bytes[b + 11] << 4) | (bytes[b + 12] >> 4);
  const totalSamples = (bytes[b + 13] & 0x0f) * 2 ** 32 + ((bytes[b + 14] << 24) >>> 0) + (bytes[b + 15] << 16) + (bytes[b + 16] << 8) + bytes[b + 17];
  return { sampleRate, totalSamples };
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

/**
 * Decodes Ogg Vorbis. A first pass sums codec-parser's per-packet lengths (exact for an honest setup
 * header) and stops at the limit, so a file of one-byte packets is refused early; the decode then
 * streams and stops as soon as its output crosses the limit, whatever the setup header claimed.
 */
export async function decodeOggVorbis(bytes: Uint8Array, fileName: string, limits?: DecodeLimits): Promise<DecodedAudio> {
  const maxSeconds = maxSecondsOf(limits);
  const decoded = await run(fileName, 'Vorbis', async () => {
    let estimate = 0;
    let rate: number | undefined;
    await forEachFrame(bytes, 'application/ogg', (f) => {
      if (rate === undefined && f.header?.sampleRate !== undefined) {
        rate = f.header.sampleRate;
        checkSampleRate(fileName, rate, 'the Vorbis header declares');
      }
      estimate += f.samples;
      if (rate !== undefined) checkDuration(fileName, estimate, rate, maxSeconds, 'the Vorbis packets hold at least');
    });
    const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
    return decodeStreaming(new OggVorbisDecoder() as unknown as StreamingDecoder, bytes, fileName, maxSeconds);
  });
  return finish(fileName, 'Vorbis', decoded, maxSeconds);
}

/** Concatenates the decoder's outputs of successive chunks. */
function joinDecoded(parts: WasmDecoded[]): WasmDecoded {
  const withAudio = parts.filter((p) => p.samplesDecoded > 0 && p.channelData.length > 0);
  const channels = withAudio.length ? Math.min(...withAudio.map((p) => p.channelData.length)) : 0;
  const frames = withAudio.reduce((n, p) => n + Math.min(...p.channelData.map((c) => c.length)), 0);
  const channelData = Array.from({ length: channels }, (_, c) => {
    const out = new Float32Array(frames);
    let at = 0;
    for (const p of withAudio) {
      const n = Math.min(...p.channelData.map((ch) => ch.length));
      out.set(p.channelData[c].subarray(0, n), at);
      at += n;
    }
    return out;
  });
  return {
    ...(withAudio[0] ?? parts[0]), // codec extras such as FLAC's bitDepth
    channelData,
    samplesDecoded: frames,
    sampleRate: withAudio[0]?.sampleRate ?? parts[0]?.sampleRate ?? 0,
    errors: parts.flatMap((p) => (Array.isArray(p.errors) ? p.errors : [])),
  };
}

/**
 * Decodes Ogg Opus; Opus always decodes at 48 kHz, whatever rate the encoder was fed. Every packet's
 * length is in its TOC byte, so the duration is bounded before anything is decoded.
 */
export async function decodeOggOpus(bytes: Uint8Array, fileName: string, limits?: DecodeLimits): Promise<DecodedAudio> {
  const maxSeconds = maxSecondsOf(limits);
  const decoded = await run(fileName, 'Opus', async () => {
    checkDuration(fileName, opusStreamSamples(bytes), 48000, maxSeconds, 'the Opus packets hold');
    const { OggOpusDecoder } = await import('ogg-opus-decoder');
    return decodeStreaming(new OggOpusDecoder() as unknown as StreamingDecoder, bytes, fileName, maxSeconds);
  });
  const audio = finish(fileName, 'Opus', decoded, maxSeconds);
  return trimOpusTail(audio, opusStreamLength(bytes));
}

/**
 * Samples at 48 kHz that the audio packets of the first Opus stream decode to, by their TOC bytes. A
 * direct walk over the Ogg pages (lacing values only, nothing copied), so a 3-hour bomb is counted in
 * milliseconds; pages that do not parse end the walk, as they end the decoder's.
 */
export function opusStreamSamples(bytes: Uint8Array): number {
  let serial: number | undefined;
  let packet = 0; // index in the stream: 0 OpusHead, 1 OpusTags, then audio
  let length = 0; // bytes of the current packet so far
  const head = new Uint8Array(2); // its first two bytes (TOC and frame count)
  let samples = 0;
  for (let pos = 0; pos + 27 <= bytes.length;) {
    if (bytes[pos] !== 0x4f || bytes[pos + 1] !== 0x67 || bytes[pos + 2] !== 0x67 || bytes[pos + 3] !== 0x53) break;
    const segments = bytes[pos + 26];
    let at = pos + 27 + segments;
    if (at > bytes.length) break;
    const pageSerial = bytes[pos + 14] | (bytes[pos + 15] << 8) | (bytes[pos + 16] << 16) | (bytes[pos + 17] << 24);
    serial ??= pageSerial;
    const mine = pageSerial === serial;
    for (let i = 0; i < segments; i++) {
      const lace = bytes[pos + 27 + i];
      if (mine) {
        for (let k = 0; k < lace && length + k < 2; k++) head[length + k] = bytes[at + k] ?? 0;
        length += lace;
        if (lace < 255) { // the packet ends here
          if (packet >= 2) samples += opusPacketSamples(length === 0 ? undefined : head.subarray(0, Math.min(length, 2)));
          packet++;
          length = 0;
        }
      }
      at += lace;
    }
    if (at > bytes.length) break;
    pos = at;
  }
  return samples;
}

/** Most samples (at 48 kHz) one Opus packet can hold: 120 ms. */
const OPUS_MAX_PACKET_SAMPLES = 5760;

/**
 * Samples at 48 kHz that one Opus packet decodes to, from its TOC byte (RFC 6716 3.1): the frame size
 * of its configuration times its frame count. Empty or malformed packets count as the most a packet
 * can hold (the decoder conceals them with up to that much audio).
 */
export function opusPacketSamples(packet: Uint8Array | undefined): number {
  if (!packet || packet.length === 0) return OPUS_MAX_PACKET_SAMPLES;
  const config = packet[0] >> 3;
  // frame sizes in 48 kHz samples: SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms
  const frameSize = config < 12 ? [480, 960, 1920, 2880][config & 3] : config < 16 ? [480, 960][config & 1] : [120, 240, 480, 960][config & 3];
  const code = packet[0] & 3;
  const count = code === 0 ? 1 : code < 3 ? 2 : packet.length >= 2 ? packet[1] & 0x3f : 0;
  const n = frameSize * count;
  return n > 0 && n <= OPUS_MAX_PACKET_SAMPLES ? n : OPUS_MAX_PACKET_SAMPLES;
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
export async function decodeMp3(bytes: Uint8Array, fileName: string, offset = 0, limits?: DecodeLimits): Promise<DecodedAudio> {
  const maxSeconds = maxSecondsOf(limits);
  const first = findFirstFrame(bytes, offset);
  if (!first) throw new AudioFormatError(fileName, 'no MPEG audio frames found');
  const { frames, header } = collectFrames(bytes, first.at);
  checkSampleRate(fileName, header.sampleRate, 'the MPEG frame header declares');
  let samples = 0;
  for (const f of frames) {
    const h = mpegFrameHeader(f, 0)!;
    samples += h.layer === 1 ? 384 : h.layer === 3 && h.version !== 1 ? 576 : 1152;
  }
  checkDuration(fileName, samples, header.sampleRate, maxSeconds, 'the MPEG frames hold');
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
  return finish(fileName, 'MP3', decoded, maxSeconds);
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

/** Checks a decoder's output (rate, duration, finite samples) and shapes it as DecodedAudio. */
function finish(fileName: string, codec: string, d: WasmDecoded, maxSeconds: number): DecodedAudio {
  const fail = (problem: string): never => { throw new AudioFormatError(fileName, problem); };
  const errors = Array.isArray(d.errors) ? d.errors.map((e) => String(e?.message ?? e)) : [];
  const firstError = errors.length ? `: ${errors[0]}` : ' (damaged or truncated stream)';
  const chans = Array.isArray(d.channelData) ? d.channelData : [];
  const frames = chans.length ? Math.min(...chans.map((c) => c.length)) : 0;
  if (frames === 0) fail(`no audio samples: the ${codec} decoder produced none${firstError}`);
  if (!Number.isInteger(d.sampleRate) || d.sampleRate <= 0) fail(`${codec} decoder reported a sample rate of ${d.sampleRate}`);
  checkSampleRate(fileName, d.sampleRate, `the ${codec} decoder reports`);
  checkDuration(fileName, frames, d.sampleRate, maxSeconds, `the ${codec} decoder returned`);
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

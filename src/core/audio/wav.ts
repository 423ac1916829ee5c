/**
 * RIFF/WAVE (and RF64) reader and writer.
 *
 * Reader: PCM 8 (unsigned) / 16 / 24 / 32-bit, IEEE float 32 / 64-bit, WAVE_FORMAT_EXTENSIBLE with a PCM
 * or float subformat, chunks in any order (unknown ones skipped, odd sizes padded). Integers are scaled
 * as scipy/librosa do: int16 / 2^15, int24 / 2^23, int32 / 2^31, uint8 (x - 128) / 128.
 * Nothing in a header is trusted: every size is checked against the bytes present before anything is
 * allocated, and every problem is an AudioFormatError naming the file.
 */
import { AudioFormatError, InvalidInputError } from '../errors.ts';
import { type DecodeLimits, checkDuration, checkSampleRate, maxSecondsOf } from './limits.ts';
import type { DecodedAudio } from './types.ts';

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Names of common WAV format tags we do not decode, so the error says what the file is. */
const KNOWN_UNSUPPORTED: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3',
  0x0160: 'WMA v1',
  0x0161: 'WMA',
  0x1610: 'AAC',
};

const ACCEPTED_WAV =
  'accepted: PCM (0x0001) 8/16/24/32-bit, IEEE float (0x0003) 32/64-bit, or WAVE_FORMAT_EXTENSIBLE (0xFFFE) with a PCM or float subformat';

/** The tail every KSDATAFORMAT_SUBTYPE GUID shares after its 2-byte format tag. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** Streaming writers put these in a size field they could not fill in. */
const SIZE_UNKNOWN = [0, 0xffffffff];

/** The sample layout read from a fmt chunk. */
interface WavFormat {
  tag: number; // PCM or FLOAT after resolving EXTENSIBLE
  channels: number;
  sampleRate: number;
  bytesPerSample: number; // container size
}

interface Chunk {
  id: string;
  start: number; // first byte of the body
  size: number; // body bytes actually usable
}

/** True when the bytes start like a RIFF or RF64 WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const magic = ascii(bytes, 0, 4);
  return (magic === 'RIFF' || magic === 'RF64') && ascii(bytes, 8, 4) === 'WAVE';
}

/** Decodes a WAV file to planar float32 channels; the rate and duration are checked against `limits` first. */
export function readWav(bytes: Uint8Array, fileName = 'audio.wav', limits?: DecodeLimits): DecodedAudio {
  const fail = (problem: string): never => { throw new AudioFormatError(fileName, problem); };
  if (bytes.length === 0) fail('file is empty (0 bytes)');
  if (bytes.length < 12) fail(`file is ${bytes.length} bytes, too short for a WAV header (12 bytes)`);
  const magic = ascii(bytes, 0, 4);
  if (magic === 'RIFX') fail('big-endian RIFX WAV is not supported; accepted: little-endian RIFF or RF64 WAVE');
  if (magic !== 'RIFF' && magic !== 'RF64') fail(`not a WAV file (starts with ${quote(magic)}, expected "RIFF" or "RF64")`);
  if (ascii(bytes, 8, 4) !== 'WAVE') fail(`RIFF file of form ${quote(ascii(bytes, 8, 4))}, not "WAVE"`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { fmt, data } = findChunks(bytes, view, magic === 'RF64', fail);
  const format = parseFmt(view, fmt, fail);
  // the header says it all: refuse before a sample is allocated
  checkSampleRate(fileName, format.sampleRate, 'the fmt chunk declares');
  checkDuration(fileName, Math.floor(data.size / (format.channels * format.bytesPerSample)), format.sampleRate, maxSecondsOf(limits), 'the data chunk holds');
  return decodeSamples(view, data, format, fail);
}

/** Averages the channels into one (librosa's to_mono: a float32 mean over channels). */
export function toMono(audio: Pick<DecodedAudio, 'channelData'>): Float32Array {
  const chans = audio.channelData;
  if (chans.length === 1) return chans[0];
  const n = Math.min(...chans.map((c) => c.length));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // numpy sums float32 rows in float32, then divides once; fround after each step reproduces that.
    let acc = 0;
    for (const c of chans) acc = Math.fround(acc + c[i]);
    out[i] = acc / chans.length;
  }
  return out;
}

// ---- chunk walk ------------------------------------------------------------------------------

/** Walks the chunk list and returns the fmt and data chunks, with sizes bounded by the file. */
function findChunks(
  bytes: Uint8Array,
  view: DataView,
  rf64: boolean,
  fail: (p: string) => never,
): { fmt: Chunk; data: Chunk } {
  let fmt: Chunk | undefined;
  let data: Chunk | undefined;
  let ds64DataSize: number | undefined;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = ascii(bytes, pos, 4);
    const declared = view.getUint32(pos + 4, true);
    const start = pos + 8;
    const remaining = bytes.length - start;
    if (id === 'data') {
      const fromDs64 = rf64 && declared === 0xffffffff && ds64DataSize !== undefined;
      const toEnd = !fromDs64 && SIZE_UNKNOWN.includes(declared); // a streaming writer's placeholder
      const size = fromDs64 ? ds64DataSize! : toEnd ? remaining : declared;
      if (size > remaining) fail(`data chunk claims ${size} bytes but only ${remaining} remain`);
      data ??= { id, start, size }; // only the first data chunk counts
      if (toEnd) break;
      pos = nextChunk(start, size);
      continue;
    } else if (declared > remaining) {
      // Trailing junk after a complete file is common (and harmless); a lie before it is not.
      if (fmt && data) break;
      fail(`${quote(id)} chunk at byte ${pos} claims ${declared} bytes but only ${remaining} remain`);
    } else if (id === 'fmt ') {
      if (!fmt) fmt = { id, start, size: declared };
    } else if (id === 'ds64' && rf64) {
      ds64DataSize = readDs64(view, start, declared, fail);
    }
    pos = nextChunk(start, declared);
  }
  if (!fmt) fail(data ? 'no fmt chunk (the sample format is unknown)' : 'no fmt chunk and no data chunk');
  if (!data) fail('no data chunk');
  return { fmt: fmt!, data: data! };
}

/** Chunk bodies of odd size are followed by one pad byte. */
function nextChunk(start: number, size: number): number {
  return start + size + (size & 1);
}

/** The 64-bit data size of an RF64 ds64 chunk. */
function readDs64(view: DataView, start: number, size: number, fail: (p: string) => never): number {
  if (size < 24) fail(`ds64 chunk is ${size} bytes, need at least 24`);
  const dataSize = view.getBigUint64(start + 8, true);
  // Anything past 2^53 cannot be in memory anyway; the data-size check against the file rejects it.
  return dataSize > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(dataSize);
}

// ---- fmt -------------------------------------------------------------------------------------

/** Reads and validates the fmt chunk, resolving WAVE_FORMAT_EXTENSIBLE to its subformat. */
function parseFmt(view: DataView, fmt: Chunk, fail: (p: string) => never): WavFormat {
  if (fmt.size < 16) fail(`fmt chunk is ${fmt.size} bytes, need at least 16`);
  const at = fmt.start;
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const bits = view.getUint16(at + 14, true);
  if (tag === FORMAT_EXTENSIBLE) tag = extensibleSubformat(view, fmt, fail);
  if (channels === 0) fail('fmt chunk says 0 channels');
  if (sampleRate === 0) fail('fmt chunk says a sample rate of 0 Hz');
  if (tag === FORMAT_PCM) {
    if (![8, 16, 24, 32].includes(bits)) fail(`unsupported PCM sample size of ${bits} bits; accepted: 8, 16, 24, 32`);
  } else if (tag === FORMAT_FLOAT) {
    if (bits !== 32 && bits !== 64) fail(`unsupported float sample size of ${bits} bits; accepted: 32, 64`);
  } else {
    const name = KNOWN_UNSUPPORTED[tag];
    fail(`unsupported WAV format 0x${hex(tag, 4)}${name ? ` (${name})` : ''}; ${ACCEPTED_WAV}`);
  }
  return { tag, channels, sampleRate, bytesPerSample: bits / 8 };
}

/** The real format tag of a WAVE_FORMAT_EXTENSIBLE fmt chunk, from its subformat GUID. */
function extensibleSubformat(view: DataView, fmt: Chunk, fail: (p: string) => never): number {
  if (fmt.size < 40) fail(`WAVE_FORMAT_EXTENSIBLE fmt chunk is ${fmt.size} bytes, need 40`);
  const guid = fmt.start + 24;
  for (let i = 0; i < GUID_TAIL.length; i++) {
    if (view.getUint8(guid + 2 + i) !== GUID_TAIL[i]) {
      const text = Array.from({ length: 16 }, (_, k) => hex(view.getUint8(guid + k), 2)).join('');
      fail(`unsupported WAVE_FORMAT_EXTENSIBLE subformat GUID ${text}; ${ACCEPTED_WAV}`);
    }
  }
  return view.getUint16(guid, true);
}

// ---- samples ---------------------------------------------------------------------------------

type SampleReader = (view: DataView, at: number) => number;

/** Per-sample readers: the general path (24-bit, or a big-endian host). */
const READERS: Record<string, SampleReader> = {
  'pcm1': (v, at) => (v.getUint8(at) - 128) / 128,
  'pcm2': (v, at) => v.getInt16(at, true) / 32768,
  'pcm3': (v, at) => (v.getUint8(at) | (v.getUint8(at + 1) << 8) | (v.getInt8(at + 2) << 16)) / 8388608,
  'pcm4': (v, at) => v.getInt32(at, true) / 2147483648,
  'float4': (v, at) => v.getFloat32(at, true),
  'float8': (v, at) => v.getFloat64(at, true),
};

/** Typed-array views of the data for the fast path: sample = (x - bias) * scale (all scales are powers of 2). */
const TYPED: Record<string, { make: (b: ArrayBuffer, at: number, n: number) => ArrayLike<number>; bias: number; scale: number }> = {
  'pcm1': { make: (b, at, n) => new Uint8Array(b, at, n), bias: 128, scale: 1 / 128 },
  'pcm2': { make: (b, at, n) => new Int16Array(b, at, n), bias: 0, scale: 1 / 32768 },
  'pcm4': { make: (b, at, n) => new Int32Array(b, at, n), bias: 0, scale: 1 / 2147483648 },
  'float4': { make: (b, at, n) => new Float32Array(b, at, n), bias: 0, scale: 1 },
  'float8': { make: (b, at, n) => new Float64Array(b, at, n), bias: 0, scale: 1 },
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** De-interleaves the whole frames of the data chunk into float32 channels. */
function decodeSamples(view: DataView, data: Chunk, format: WavFormat, fail: (p: string) => never): DecodedAudio {
  const { channels, sampleRate, bytesPerSample, tag } = format;
  const blockAlign = channels * bytesPerSample;
  const frames = Math.floor(data.size / blockAlign); // a partial last frame is dropped
  if (frames === 0) fail(`no audio samples (data chunk holds ${data.size} bytes, one frame is ${blockAlign})`);
  const key = (tag === FORMAT_FLOAT ? 'float' : 'pcm') + bytesPerSample;
  const channelData = Array.from({ length: channels }, () => new Float32Array(frames));
  const typed = TYPED[key];
  if (typed && LITTLE_ENDIAN) {
    // Typed arrays need an aligned offset: view in place when it is, else copy once (slice is aligned).
    let bytes = new Uint8Array(view.buffer, view.byteOffset + data.start, frames * blockAlign);
    if (bytes.byteOffset % bytesPerSample !== 0) bytes = bytes.slice();
    const src = typed.make(bytes.buffer as ArrayBuffer, bytes.byteOffset, frames * channels);
    const { bias, scale } = typed;
    for (let c = 0; c < channels; c++) {
      const out = channelData[c];
      for (let i = 0, k = c; i < frames; i++, k += channels) out[i] = (src[k] - bias) * scale;
    }
  } else {
    const read = READERS[key];
    for (let c = 0; c < channels; c++) {
      const out = channelData[c];
      let at = data.start + c * bytesPerSample;
      for (let i = 0; i < frames; i++, at += blockAlign) out[i] = read(view, at);
    }
  }
  if (tag === FORMAT_FLOAT) assertFinite(channelData, fail);
  return { sampleRate, channels, frames, channelData };
}

/** A NaN or infinity in float data would poison everything downstream, so it is refused here. */
export function assertFinite(channelData: Float32Array[], fail: (p: string) => never): void {
  for (let c = 0; c < channelData.length; c++) {
    const ch = channelData[c];
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) fail(`sample ${i} of channel ${c} is ${ch[i]}; audio samples must be finite`);
    }
  }
}

// ---- writer ----------------------------------------------------------------------------------

/** Sample encodings `encodeWav` can write. */
export type WavEncoding = 'pcm16' | 'float32';

/** Options of `encodeWav`. */
export interface EncodeWavOptions {
  /** 'pcm16' (default): clipped to [-1, 1] and rounded; 'float32': format 3 with a fact chunk. */
  format?: WavEncoding;
}

/** Encodes mono samples or planar channels as a little-endian RIFF/WAVE file. */
export function encodeWav(
  samples: Float32Array | Float32Array[],
  sampleRate: number,
  options: EncodeWavOptions = {},
): Uint8Array {
  const chans = Array.isArray(samples) ? samples : [samples];
  const format = options.format ?? 'pcm16';
  validateEncodeInput(chans, sampleRate, format);
  const frames = chans[0].length;
  const float = format === 'float32';
  const bytesPerSample = float ? 4 : 2;
  const blockAlign = chans.length * bytesPerSample;
  const dataSize = frames * blockAlign;
  // float32 follows what soundfile writes: an 18-byte fmt (cbSize 0) and a fact chunk.
  const fmtSize = float ? 18 : 16;
  const headerSize = 12 + 8 + fmtSize + (float ? 12 : 0) + 8;
  if (headerSize - 8 + dataSize + (dataSize & 1) > 0xffffffff) {
    throw new InvalidInputError(`encodeWav: ${dataSize} bytes of samples do not fit in a RIFF file (4 GiB limit)`);
  }
  const out = new Uint8Array(headerSize + dataSize + (dataSize & 1));
  const view = new DataView(out.buffer);
  let p = 0;
  const tag = (s: string) => { for (let i = 0; i < 4; i++) out[p++] = s.charCodeAt(i); };
  const u16 = (x: number) => { view.setUint16(p, x, true); p += 2; };
  const u32 = (x: number) => { view.setUint32(p, x, true); p += 4; };
  tag('RIFF'); u32(out.length - 8); tag('WAVE');
  tag('fmt '); u32(fmtSize);
  u16(float ? FORMAT_FLOAT : FORMAT_PCM); u16(chans.length); u32(sampleRate);
  u32(sampleRate * blockAlign); u16(blockAlign); u16(bytesPerSample * 8);
  if (float) { u16(0); tag('fact'); u32(4); u32(frames); }
  tag('data'); u32(dataSize);
  for (let i = 0; i < frames; i++) {
    for (const ch of chans) {
      if (float) view.setFloat32(p, ch[i], true);
      else view.setInt16(p, toInt16(ch[i]), true);
      p += bytesPerSample;
    }
  }
  return out;
}

/** float -> int16 with the same 2^15 scale the reader divides by, so int16 values survive a round trip. */
function toInt16(x: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
}

function validateEncodeInput(chans: Float32Array[], sampleRate: number, format: string): void {
  if (format !== 'pcm16' && format !== 'float32') {
    throw new InvalidInputError(`encodeWav: format ${JSON.stringify(format)} is not one of 'pcm16', 'float32'`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff / 16) {
    throw new InvalidInputError(`encodeWav: sample rate ${sampleRate} is not a positive integer`);
  }
  if (chans.length < 1 || chans.length > 0xffff) {
    throw new InvalidInputError(`encodeWav: ${chans.length} channels; accepted: 1 to 65535`);
  }
  const n = chans[0].length;
  chans.forEach((ch, c) => {
    if (ch.length !== n) throw new InvalidInputError(`encodeWav: channel ${c} has ${ch.length} samples, channel 0 has ${n}`);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(ch[i])) throw new InvalidInputError(`encodeWav: sample ${i} of channel ${c} is ${ch[i]}`);
    }
  });
}

// ---- small helpers ---------------------------------------------------------------------------

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}

/** A chunk id for a message: quoted when printable, hex otherwise. */
function quote(id: string): string {
  return /^[\x20-\x7e]*$/.test(id) ? JSON.stringify(id) : `0x${[...id].map((ch) => hex(ch.charCodeAt(0), 2)).join('')}`;
}

function hex(x: number, width: number): string {
  return x.toString(16).toUpperCase().padStart(width, '0');
}

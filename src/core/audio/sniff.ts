/**
 * Container detection by magic bytes (never by file extension, which users get wrong).
 */
import { AudioFormatError } from '../errors.ts';
import { findFirstFrame, isAdtsHeader, skipId3v2 } from './mpeg.ts';
import { ACCEPTED_CONTAINERS, type AudioContainer } from './types.ts';

/** Where a detected container's stream begins (after any ID3v2 tag). */
export interface SniffResult {
  /** The container (and, for Ogg, the codec). */
  readonly container: AudioContainer;
  /** Byte offset of the stream in the file (non-zero only after an ID3v2 tag). */
  readonly offset: number;
}

/** Formats we recognize only to name them in the error. */
const OTHER_FORMATS: [string, (b: Uint8Array) => boolean][] = [
  ['MP4/M4A/AAC', (b) => ascii(b, 4, 4) === 'ftyp'],
  ['AIFF', (b) => ascii(b, 0, 4) === 'FORM' && /^AIF[FC]$/.test(ascii(b, 8, 4))],
  ['WebM/Matroska', (b) => b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3],
  ['Sun/NeXT .au', (b) => ascii(b, 0, 4) === '.snd'],
  ['Core Audio (CAF)', (b) => ascii(b, 0, 4) === 'caff'],
  ['ASF/WMA', (b) => b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75],
];

/** Identifies the container of an audio file, or throws an AudioFormatError saying what is accepted. */
export function sniffAudio(bytes: Uint8Array, fileName: string): SniffResult {
  const fail = (problem: string): never => { throw new AudioFormatError(fileName, problem); };
  if (bytes.length === 0) fail('file is empty (0 bytes)');
  const magic = ascii(bytes, 0, 4);
  if (magic === 'RIFF' || magic === 'RF64' || magic === 'RIFX') return { container: 'wav', offset: 0 };
  if (magic === 'OggS') return { container: oggCodec(bytes, fail), offset: 0 };
  const offset = skipId3v2(bytes);
  if (ascii(bytes, offset, 4) === 'fLaC') return { container: 'flac', offset };
  if (offset > 0 || isMpegStart(bytes)) {
    if (findFirstFrame(bytes, offset)) return { container: 'mp3', offset };
    if (isAdtsHeader(bytes, offset)) fail(`AAC (ADTS) audio is not supported; accepted: ${ACCEPTED_CONTAINERS}`);
    fail(offset > 0
      ? `ID3 tag is followed by no MPEG audio frames; accepted: ${ACCEPTED_CONTAINERS}`
      : 'starts with an MPEG sync word but holds no two consecutive valid MPEG audio frames');
  }
  const other = OTHER_FORMATS.find(([, test]) => bytes.length >= 12 && test(bytes));
  if (other) fail(`${other[0]} files are not supported; accepted: ${ACCEPTED_CONTAINERS}`);
  return fail(`unrecognized audio format (file starts with ${hexStart(bytes)}); accepted: ${ACCEPTED_CONTAINERS}`);
}

/** An MPEG sync word at byte 0 (MP3 without tags). */
function isMpegStart(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0;
}

/** The codec of an Ogg file, from the start of the first packet of its first page. */
function oggCodec(bytes: Uint8Array, fail: (p: string) => never): AudioContainer {
  if (bytes.length < 27) fail(`Ogg file is ${bytes.length} bytes, too short for a page header (27)`);
  const segments = bytes[26];
  const packet = 27 + segments;
  if (packet + 8 > bytes.length) fail('Ogg file ends inside its first page');
  if (ascii(bytes, packet, 8) === 'OpusHead') return 'ogg-opus';
  if (bytes[packet] === 0x01 && ascii(bytes, packet + 1, 6) === 'vorbis') return 'ogg-vorbis';
  if (bytes[packet] === 0x7f && ascii(bytes, packet + 1, 4) === 'FLAC') return 'ogg-flac';
  return fail(`Ogg stream of an unsupported codec (first packet starts with ${hexStart(bytes.subarray(packet))}); accepted: Vorbis, Opus, FLAC`);
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}

/** The first bytes as hex and printable text, for "what is this file" messages. */
function hexStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 8);
  const hex = [...head].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = [...head].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `${hex} "${text}"`;
}

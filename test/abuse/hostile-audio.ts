/**
 * Hostile audio files, built in memory: small on disk, hours (or a 1 Hz rate) once decoded.
 * Shared by the audio unit tests and the abuse suite.
 */
import { readFileSync } from 'node:fs';
import { encodeWav } from '../../src/core/audio/wav.ts';

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0. */
function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** One Ogg page holding whole packets (each < 255 bytes, at most 255 of them). */
function oggPage(packets: Uint8Array[], granule: bigint, sequence: number, flags: number, serial = 0x5eed): Uint8Array {
  const body = packets.reduce((n, p) => n + p.length, 0);
  const page = new Uint8Array(27 + packets.length + body);
  const v = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  v.setBigInt64(6, granule, true);
  v.setUint32(14, serial, true);
  v.setUint32(18, sequence, true);
  page[26] = packets.length;
  let at = 27;
  for (const p of packets) page[at++] = p.length;
  for (const p of packets) { page.set(p, at); at += p.length; }
  v.setUint32(22, oggCrc(page), true);
  return page;
}

/**
 * An Ogg Opus stream of 2-byte packets, each two empty 60 ms SILK frames (TOC code 3, count 2): the
 * decoder conceals every empty frame, so `seconds` of audio cost ~25 bytes per second of file
 * (an hour is ~95 KB, and decodes to 173 M samples).
 */
export function opusDurationBomb(seconds: number): Uint8Array {
  const head = new Uint8Array(19);
  head.set(new TextEncoder().encode('OpusHead'));
  head[8] = 1; // version
  head[9] = 1; // mono
  new DataView(head.buffer).setUint16(10, 312, true); // pre-skip
  new DataView(head.buffer).setUint32(12, 48000, true);
  const tags = new Uint8Array(16);
  tags.set(new TextEncoder().encode('OpusTags')); // vendor length 0, no comments
  const packet = new Uint8Array([(3 << 3) | 3, 2]); // config 3 = SILK NB 60 ms; code 3, 2 frames, CBR, both empty
  const perPacket = 5760;
  const total = Math.ceil((seconds * 48000) / perPacket);
  const pages: Uint8Array[] = [oggPage([head], 0n, 0, 0x02), oggPage([tags], 0n, 1, 0)];
  let granule = 0n;
  for (let done = 0, seq = 2; done < total; seq++) {
    const n = Math.min(255, total - done);
    done += n;
    granule += BigInt(n * perPacket);
    pages.push(oggPage(Array.from({ length: n }, () => packet), granule, seq, done === total ? 0x04 : 0));
  }
  const out = new Uint8Array(pages.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pages) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * An Ogg Vorbis stream: the header pages of the 44.1 kHz stereo fixture (blocksizes 256/2048), then
 * one-byte audio packets 0x0e (audio, mode 1 = long block, long neighbours, floor unused: silence),
 * each worth 1024 samples, so `seconds` of audio cost ~2 bytes per packet (an hour is ~330 KB).
 */
export function vorbisDurationBomb(seconds: number): Uint8Array {
  const fixture = new Uint8Array(readFileSync(new URL('../fixtures/audio/sine440_44k_stereo.ogg', import.meta.url)));
  const view = new DataView(fixture.buffer, fixture.byteOffset, fixture.byteLength);
  // the header pages are the ones with granule position 0
  let headerEnd = 0;
  let sequence = 0;
  while (headerEnd + 27 <= fixture.length && view.getBigInt64(headerEnd + 6, true) === 0n) {
    const segs = fixture[headerEnd + 26];
    let body = 0;
    for (let i = 0; i < segs; i++) body += fixture[headerEnd + 27 + i];
    headerEnd += 27 + segs + body;
    sequence++;
  }
  const serial = view.getUint32(14, true);
  const total = Math.ceil((seconds * 44100) / 1024) + 1; // the first packet only primes the decoder
  const pages: Uint8Array[] = [fixture.subarray(0, headerEnd)];
  const packet = new Uint8Array([0x0e]);
  for (let done = 0; done < total; sequence++) {
    const n = Math.min(255, total - done);
    done += n;
    pages.push(oggPage(Array.from({ length: n }, () => packet), BigInt((done - 1) * 1024), sequence, done === total ? 0x04 : 0, serial));
  }
  const out = new Uint8Array(pages.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pages) { out.set(p, at); at += p.length; }
  return out;
}

/** A 16-bit mono WAV declaring `rate` Hz over `samples` samples of a quiet ramp (132 KB at 66000 samples). */
export function wavAtRate(rate: number, samples = 66000): Uint8Array {
  const x = new Float32Array(samples).map((_, i) => ((i % 200) - 100) / 400);
  return encodeWav(x, rate);
}

/** `bytes` with one bit flipped at `at` (bit 4 by default). */
export function flipBit(bytes: Uint8Array, at: number, bit = 4): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 1 << bit;
  return out;
}

/** FLAC's CRC-8 (poly 0x07) and CRC-16 (poly 0x8005), both from 0, MSB first. */
function flacCrc(bytes: Uint8Array, width: 8 | 16): number {
  const poly = width === 8 ? 0x07 : 0x8005;
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << (width - 8);
    for (let k = 0; k < 8; k++) crc = crc & top ? ((crc << 1) ^ poly) & mask : (crc << 1) & mask;
  }
  return crc;
}

/** FLAC's UTF-8-like coding of a frame number (up to 31 bits). */
function flacUtf8(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x800) return [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
  if (n < 0x10000) return [0xe0 | (n >> 12), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
  return [0xf0 | (n >> 18), 0x80 | ((n >> 12) & 0x3f), 0x80 | ((n >> 6) & 0x3f), 0x80 | (n & 0x3f)];
}

/**
 * A native FLAC stream of 65535-sample frames whose one subframe is CONSTANT (a 16-bit value): ~14
 * bytes per 1.37 s at 48 kHz mono, so an hour is ~37 KB. STREAMINFO leaves the total unknown (0), as
 * streaming encoders do, so only the frames tell the length.
 */
export function flacDurationBomb(seconds: number): Uint8Array {
  const block = 65535;
  const frames = Math.ceil((seconds * 48000) / block);
  const info = new Uint8Array(4 + 34);
  info.set([0x80, 0, 0, 34]); // last metadata block, STREAMINFO, 34 bytes
  info.set([0xff, 0xff, 0xff, 0xff], 4); // min/max block size 65535
  // rate 48000 (20 bits) | channels-1 = 0 (3 bits) | bits-1 = 15 (5 bits) | total samples 0 (36 bits)
  info.set([0x0b, 0xb8, 0x00, 0xf0, 0, 0, 0, 0], 4 + 10);
  const parts: Uint8Array[] = [new TextEncoder().encode('fLaC'), info];
  for (let n = 0; n < frames; n++) {
    // sync + fixed blocking, block size from the header's 16 bits, 48 kHz, mono, 16-bit
    const header = new Uint8Array([0xff, 0xf8, 0x7a, 0x08, ...flacUtf8(n), (block - 1) >> 8, (block - 1) & 0xff]);
    const body = new Uint8Array([...header, flacCrc(header, 8), 0x00, 0x00, 0x00]); // CONSTANT subframe of 0
    const crc = flacCrc(body, 16);
    parts.push(new Uint8Array([...body, crc >> 8, crc & 0xff]));
  }
  const out = new Uint8Array(parts.reduce((k, p) => k + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

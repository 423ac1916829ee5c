/**
 * Hostile audio files, built in memory: small on disk, hours (or a 1 Hz rate) once decoded.
 * Shared by the audio unit tests and the abuse suite.
 */
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAudio, decodeAudioMono } from '../../src/core/audio/decode.ts';
import { encodeWav, isWav, readWav, toMono } from '../../src/core/audio/wav.ts';
import { AudioFormatError, InvalidInputError } from '../../src/core/errors.ts';
import { AUDIO, GOLDEN } from '../helpers/golden.ts';
import { mulberry32 } from './mutate.ts';
import { chunk, extensibleFmtBody, fmtBody, riff, samples } from './wav-builder.ts';

const read = (path: string) => new Uint8Array(readFileSync(path));

// What each header says (fmt fields, and data size / block align for the frames), read off with xxd.
const SHARED: Record<string, { rate: number; channels: number; frames: number; format: 'pcm16' | 'float32' }> = {
  'glados_0.wav': { rate: 16000, channels: 1, frames: 160000, format: 'float32' }, // fmt 18 + fact, 10.000 s
  'jay_0.wav': { rate: 44100, channels: 2, frames: 317520, format: 'pcm16' }, // 7.200 s
  's1p1.wav': { rate: 24000, channels: 1, frames: 350335, format: 'pcm16' }, // 14.597 s
  'singing_technopolis_48k.wav': { rate: 48000, channels: 2, frames: 698993, format: 'pcm16' }, // 14.562 s
  'source_s1.wav': { rate: 24000, channels: 1, frames: 299497, format: 'pcm16' }, // 12.479 s
  'teio_0.wav': { rate: 22050, channels: 1, frames: 183178, format: 'pcm16' }, // fmt 18 bytes, 8.307 s
};

test('every file in shared/audio loads with the rate, channels and length its header gives', async () => {
  for (const [name, want] of Object.entries(SHARED)) {
    const bytes = read(join(AUDIO, name));
    const a = await decodeAudio(bytes, name);
    assert.equal(a.sampleRate, want.rate, `${name} rate`);
    assert.equal(a.channels, want.channels, `${name} channels`);
    assert.equal(a.frames, want.frames, `${name} frames`);
    assert.equal(a.channelData.length, want.channels);
    for (const ch of a.channelData) assert.equal(ch.length, want.frames);
    // the header's own numbers, read independently: data size / (channels * bytes per sample)
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    const dataAt = Buffer.from(bytes.buffer, bytes.byteOffset, 128).indexOf('data');
    const bytesPerSample = want.format === 'pcm16' ? 2 : 4;
    assert.equal(v.getUint32(dataAt + 4, true) / (want.channels * bytesPerSample), want.frames, `${name} data size`);
    const mono = await decodeAudioMono(bytes, name);
    assert.equal(mono.samples.length, want.frames);
  }
});

test('s1p1.wav and jay_0.wav samples are int16 / 32768 of the raw data bytes', () => {
  const mono = read(join(AUDIO, 's1p1.wav'));
  const a = readWav(mono, 's1p1.wav');
  const v = new DataView(mono.buffer, mono.byteOffset);
  const rand = mulberry32(42);
  const picks = [0, 1, 2, 3, 4, 5, 100, a.frames - 1, ...Array.from({ length: 20 }, () => Math.floor(rand() * a.frames))];
  for (const i of picks) assert.equal(a.channelData[0][i], v.getInt16(44 + 2 * i, true) / 32768, `s1p1[${i}]`);
  assert.equal(a.channelData[0][0], 16 / 32768); // bytes 10 00 at offset 44

  const stereo = read(join(AUDIO, 'jay_0.wav'));
  const b = readWav(stereo, 'jay_0.wav');
  const w = new DataView(stereo.buffer, stereo.byteOffset);
  for (const i of [0, 1, 7, 1000, b.frames - 1]) {
    assert.equal(b.channelData[0][i], w.getInt16(44 + 4 * i, true) / 32768, `jay L[${i}]`);
    assert.equal(b.channelData[1][i], w.getInt16(44 + 4 * i + 2, true) / 32768, `jay R[${i}]`);
  }
  assert.equal(b.channelData[0][0], 0x01cd / 32768);
  assert.equal(b.channelData[1][0], 0x01ca / 32768);
  // mono is the float32 mean of the two channels
  const m = toMono(b);
  for (const i of [0, 1, 2, 5000]) assert.equal(m[i], Math.fround((b.channelData[0][i] + b.channelData[1][i]) / 2));
});

test('golden e2e WAVs (float32, fmt 18 + fact) decode to exactly their raw float32 data', async () => {
  for (const name of ['source.wav', 'reference.wav']) {
    const bytes = read(join(GOLDEN, 'e2e', 'e2e_full_short', name));
    assert.equal(String.fromCharCode(...bytes.subarray(50, 54)), 'data');
    const dataSize = new DataView(bytes.buffer, bytes.byteOffset).getUint32(54, true);
    const raw = new Float32Array(bytes.slice(58, 58 + dataSize).buffer); // copy: 58 is not 4-aligned
    const a = await decodeAudio(bytes, name);
    assert.equal(a.sampleRate, 22050);
    assert.equal(a.channels, 1);
    assert.equal(a.frames, raw.length);
    assert.deepEqual(a.channelData[0], raw);
  }
  const src = readWav(read(join(GOLDEN, 'e2e', 'e2e_full_short', 'source.wav')));
  assert.equal(src.frames, 88200); // 4.000 s at 22050 Hz, as the fact chunk says
});

test('float32 round trip is exact and writes the soundfile layout (fmt 18 + fact, data at 58)', () => {
  const rand = mulberry32(1);
  const left = Float32Array.from({ length: 1001 }, () => rand() * 4 - 2); // beyond [-1, 1] survives too
  const right = Float32Array.from({ length: 1001 }, () => rand() * 2 - 1);
  const bytes = encodeWav([left, right], 44100, { format: 'float32' });
  const v = new DataView(bytes.buffer);
  assert.equal(bytes.length, 58 + 1001 * 8);
  assert.equal(v.getUint32(16, true), 18); // fmt size
  assert.equal(v.getUint16(20, true), 3); // IEEE float
  assert.equal(String.fromCharCode(...bytes.subarray(38, 42)), 'fact');
  assert.equal(v.getUint32(46, true), 1001);
  assert.equal(v.getUint32(4, true), bytes.length - 8);
  const back = readWav(bytes, 'rt.wav');
  assert.equal(back.sampleRate, 44100);
  assert.deepEqual(back.channelData, [left, right]);
});

test('pcm16 round trip is within 1/32768, clips, and keeps int16-valued samples exactly', () => {
  const rand = mulberry32(2);
  const x = Float32Array.from({ length: 4000 }, () => rand() * 2 - 1);
  x[0] = 1; x[1] = -1; x[2] = 1.7; x[3] = -3; x[4] = 0.5 / 32768; x[5] = -0.49 / 32768;
  const bytes = encodeWav(x, 16000);
  assert.equal(bytes.length, 44 + 8000);
  assert.equal(new DataView(bytes.buffer).getUint16(20, true), 1);
  const back = readWav(bytes, 'rt16.wav').channelData[0];
  for (let i = 6; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= 1 / 32768, `sample ${i}: ${back[i]} vs ${x[i]}`);
  assert.deepEqual([...back.subarray(0, 6)], [32767 / 32768, -1, 32767 / 32768, -1, 1 / 32768, 0]);
  const ints = Float32Array.from({ length: 500 }, (_, i) => (i * 131 - 32768) / 32768);
  assert.deepEqual(readWav(encodeWav(ints, 8000)).channelData[0], ints);
});

test('encodeWav refuses bad input with InvalidInputError', () => {
  assert.throws(() => encodeWav(new Float32Array([0, NaN]), 16000), InvalidInputError);
  assert.throws(() => encodeWav([new Float32Array(3), new Float32Array(2)], 16000), /channel 1 has 2 samples/);
  assert.throws(() => encodeWav(new Float32Array(3), 0), /sample rate 0/);
  assert.throws(() => encodeWav([], 16000), /0 channels/);
  assert.throws(() => encodeWav(new Float32Array(3), 16000, { format: 'mp3' as 'pcm16' }), /format "mp3"/);
});

// ---- synthesized headers ----------------------------------------------------------------------

const wav = (fmt: Uint8Array, data: Uint8Array) => riff([chunk('fmt ', fmt), chunk('data', data)]);

test('8-bit unsigned PCM scales as (x - 128) / 128', () => {
  const a = readWav(wav(fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 8 }), samples('u8', [0, 64, 128, 192, 255])));
  assert.deepEqual([...a.channelData[0]], [-1, -0.5, 0, 0.5, 127 / 128]);
});

test('24-bit PCM scales by 2^23, sign-extended', () => {
  const ints = [-8388608, -1, 0, 1, 8388607, 0x123456, -0x123456];
  const a = readWav(wav(fmtBody({ tag: 1, channels: 1, rate: 48000, bits: 24 }), samples('i24', ints)));
  assert.deepEqual([...a.channelData[0]], ints.map((x) => Math.fround(x / 8388608)));
});

test('32-bit PCM scales by 2^31', () => {
  const ints = [-2147483648, -1, 0, 1, 2147483647, 123456789];
  const a = readWav(wav(fmtBody({ tag: 1, channels: 1, rate: 48000, bits: 32 }), samples('i32', ints)));
  assert.deepEqual([...a.channelData[0]], ints.map((x) => Math.fround(x / 2147483648)));
  assert.equal(a.channelData[0][4], 1); // 2^31 - 1 rounds to 1.0 in float32, as in numpy
});

test('float64 WAV is rounded to float32', () => {
  const xs = [0.1, -0.25, 1e-10, 1.5, -2];
  const a = readWav(wav(fmtBody({ tag: 3, channels: 1, rate: 22050, bits: 64, cbSize: 0 }), samples('f64', xs)));
  assert.deepEqual([...a.channelData[0]], xs.map(Math.fround));
});

test('WAVE_FORMAT_EXTENSIBLE: PCM and float subformats read like their plain forms', () => {
  const pcm = readWav(wav(extensibleFmtBody({ channels: 2, rate: 44100, bits: 16, subformat: 1 }), samples('i16', [100, -200, 300, -400])));
  assert.equal(pcm.channels, 2);
  assert.deepEqual(pcm.channelData.map((c) => [...c]), [[100 / 32768, 300 / 32768], [-200 / 32768, -400 / 32768]]);
  // 24 valid bits left-justified in a 32-bit container read as 32-bit
  const packed = readWav(wav(extensibleFmtBody({ channels: 1, rate: 96000, bits: 32, validBits: 24, subformat: 1 }), samples('i32', [0x12345600])));
  assert.equal(packed.channelData[0][0], Math.fround(0x12345600 / 2147483648));
  const flt = readWav(wav(extensibleFmtBody({ channels: 1, rate: 48000, bits: 32, subformat: 3 }), samples('f32', [0.25, -0.75])));
  assert.deepEqual([...flt.channelData[0]], [0.25, -0.75]);
});

test('chunks in any order: LIST (odd size + pad byte) first, data before fmt, unknown chunks skipped', () => {
  const bytes = riff([
    chunk('LIST', [0x49, 0x4e, 0x46, 0x4f, 0x41]), // 5 bytes, then a pad byte
    chunk('data', samples('i16', [1000, -1000, 2000])),
    chunk('cue ', new Uint8Array(4)),
    chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 16000, bits: 16 })),
    chunk('junk', [1, 2, 3]), // odd, last
  ]);
  assert.equal(bytes[12 + 8 + 5], 0); // the pad byte is really there
  const a = readWav(bytes, 'odd.wav');
  assert.deepEqual([...a.channelData[0]], [1000 / 32768, -1000 / 32768, 2000 / 32768]);
});

test('stereo -> mono is the mean of the channels (librosa to_mono)', async () => {
  const bytes = wav(fmtBody({ tag: 3, channels: 2, rate: 16000, bits: 32, cbSize: 0 }), samples('f32', [0.5, 0.25, -1, 1, 0.25, 0.25]));
  const a = readWav(bytes);
  assert.deepEqual([...a.channelData[0]], [0.5, -1, 0.25]);
  assert.deepEqual([...a.channelData[1]], [0.25, 1, 0.25]);
  assert.deepEqual([...toMono(a)], [0.375, 0, 0.25]);
  const mono = await decodeAudioMono(bytes, 'st.wav');
  assert.equal(mono.sampleRate, 16000);
  assert.deepEqual([...mono.samples], [0.375, 0, 0.25]);
  // three channels: float32 accumulation, then one division (numpy's float32 mean)
  const three = toMono({ channelData: [new Float32Array([0.1]), new Float32Array([0.2]), new Float32Array([0.7])] });
  assert.equal(three[0], Math.fround(Math.fround(Math.fround(Math.fround(0.1) + Math.fround(0.2)) + Math.fround(0.7)) / 3));
});

test('RF64 with a ds64 chunk, and streaming placeholder data sizes use the bytes present', () => {
  const data = samples('i16', [1, 2, 3, 4]);
  const ds64 = new Uint8Array(28);
  new DataView(ds64.buffer).setBigUint64(8, 8n, true);
  const rf64 = riff([chunk('ds64', ds64), chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 16 })), chunk('data', data, 0xffffffff)], { magic: 'RF64' });
  assert.ok(isWav(rf64));
  assert.deepEqual([...readWav(rf64).channelData[0]], [1, 2, 3, 4].map((x) => x / 32768));
  // the ds64 size also places the next chunk: here the fmt comes after the data
  const rf64FmtLast = riff([chunk('ds64', ds64), chunk('data', data, 0xffffffff), chunk('fmt ', fmtBody({ tag: 1, channels: 2, rate: 8000, bits: 16 }))], { magic: 'RF64' });
  assert.deepEqual(readWav(rf64FmtLast).channelData.map((c) => [...c]), [[1 / 32768, 3 / 32768], [2 / 32768, 4 / 32768]]);
  for (const placeholder of [0, 0xffffffff]) {
    const bytes = riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 16 })), chunk('data', data, placeholder)]);
    assert.equal(readWav(bytes).frames, 4, `data size ${placeholder}`);
  }
});

test('a data chunk that is not whole frames keeps the whole frames; trailing junk is ignored', () => {
  const fmt = chunk('fmt ', fmtBody({ tag: 1, channels: 2, rate: 8000, bits: 16 }));
  const partial = riff([fmt, chunk('data', samples('i16', [1, 2, 3, 4, 5]))]); // 2.5 frames
  const a = readWav(partial);
  assert.equal(a.frames, 2);
  assert.deepEqual([...a.channelData[1]], [2 / 32768, 4 / 32768]);
  const junk = riff([fmt, chunk('data', samples('i16', [1, 2])), chunk('LIST', [], 99999)]);
  assert.equal(readWav(junk).frames, 1);
});

// ---- malformed files --------------------------------------------------------------------------

const fmt16 = chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 16000, bits: 16 }));
const data4 = chunk('data', samples('i16', [1, 2, 3, 4]));
const fmtWith = (o: Partial<Parameters<typeof fmtBody>[0]>) =>
  chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 16000, bits: 16, ...o }));
const good = riff([fmt16, data4]);

const MALFORMED: [string, Uint8Array, RegExp][] = [
  ['empty', new Uint8Array(0), /empty/],
  ['5 bytes', new TextEncoder().encode('RIFF!'), /too short/],
  ['truncated inside fmt', good.subarray(0, 30), /claims 16 bytes but only 10 remain/],
  ['truncated inside data', good.subarray(0, good.length - 3), /data chunk claims 8 bytes but only 5 remain/],
  ['AVI, not WAVE', riff([fmt16, data4], { form: 'AVI ' }), /form "AVI ", not "WAVE"/],
  ['big-endian RIFX', riff([fmt16, data4], { magic: 'RIFX' }), /big-endian.*accepted/],
  ['missing fmt', riff([data4]), /no fmt chunk/],
  ['missing data', riff([fmt16]), /no data chunk/],
  ['no chunks at all', riff([]), /no fmt chunk and no data chunk/],
  ['MP3-in-WAV 0x55', riff([fmtWith({ tag: 0x55 }), data4]), /format 0x0055 \(MPEG Layer 3\); accepted: PCM/],
  ['MS ADPCM', riff([fmtWith({ tag: 2, bits: 4 }), data4]), /0x0002 \(Microsoft ADPCM\)/],
  ['IMA ADPCM', riff([fmtWith({ tag: 0x11, bits: 4 }), data4]), /0x0011 \(IMA ADPCM\)/],
  ['unknown tag', riff([fmtWith({ tag: 0x1234 }), data4]), /format 0x1234; accepted/],
  ['12-bit PCM', riff([fmtWith({ bits: 12 }), data4]), /12 bits; accepted: 8, 16, 24, 32/],
  ['16-bit float', riff([fmtWith({ tag: 3, bits: 16 }), data4]), /float sample size of 16 bits; accepted: 32, 64/],
  ['zero channels', riff([fmtWith({ channels: 0 }), data4]), /0 channels/],
  ['zero rate', riff([fmtWith({ rate: 0 }), data4]), /sample rate of 0 Hz/],
  ['fmt too short', riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 16000, bits: 16 }).subarray(0, 14)), data4]), /fmt chunk is 14 bytes, need at least 16/],
  ['fmt size lies', riff([chunk('fmt ', fmtBody({ tag: 1, channels: 1, rate: 16000, bits: 16 }), 1000), data4]), /"fmt " chunk at byte 12 claims 1000 bytes but only \d+ remain/],
  ['LIST size lies before data', riff([fmt16, chunk('LIST', [1, 2], 70000), data4]), /"LIST" chunk at byte 36 claims 70000 bytes/],
  ['data size lies', riff([fmt16, chunk('data', samples('i16', [1, 2]), 10000)]), /data chunk claims 10000 bytes but only 4 remain/],
  ['data less than one frame', riff([fmt16, chunk('data', [7])]), /no audio samples/],
  ['empty data', riff([fmt16, chunk('data', [])]), /no audio samples/],
  ['extensible fmt too short', riff([chunk('fmt ', fmtBody({ tag: 0xfffe, channels: 1, rate: 8000, bits: 16, cbSize: 0 })), data4]), /EXTENSIBLE fmt chunk is 18 bytes, need 40/],
  ['extensible unknown GUID', riff([chunk('fmt ', extensibleFmtBody({ channels: 1, rate: 8000, bits: 16, subformat: 1, guidTail: new Array(14).fill(7) })), data4]), /subformat GUID 0100070707.*accepted/],
  ['extensible ADPCM subformat', riff([chunk('fmt ', extensibleFmtBody({ channels: 1, rate: 8000, bits: 4, subformat: 2 })), data4]), /0x0002 \(Microsoft ADPCM\)/],
  ['NaN in float data', riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, rate: 8000, bits: 32 })), chunk('data', samples('f32', [0, NaN]))]), /sample 1 of channel 0 is NaN/],
  ['Infinity in float64 data', riff([chunk('fmt ', fmtBody({ tag: 3, channels: 1, rate: 8000, bits: 64 })), chunk('data', samples('f64', [Infinity]))]), /is Infinity/],
  ['ds64 too short', riff([chunk('ds64', new Uint8Array(8)), fmt16, data4], { magic: 'RF64' }), /ds64 chunk is 8 bytes/],
];

test('malformed WAVs throw AudioFormatError naming the file and the problem (readWav and decodeAudio)', async () => {
  for (const [label, bytes, re] of MALFORMED) {
    const file = `bad-${label.replace(/\W+/g, '_')}.wav`;
    const check = (e: unknown) => {
      assert.ok(e instanceof AudioFormatError, `${label}: ${e}`);
      assert.ok(e.message.startsWith(`${file}: `), `${label}: message ${e.message}`);
      assert.match(e.message, re, label);
      return true;
    };
    if (bytes.length >= 4) assert.throws(() => readWav(bytes, file), check, label);
    await assert.rejects(decodeAudio(bytes, file), check, label);
  }
});

test('a huge declared size allocates nothing: the error comes before any buffer', () => {
  const bytes = riff([fmt16, chunk('data', samples('i16', [1]), 0x7fffffff)]);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => readWav(bytes, 'huge.wav'), /claims 2147483647 bytes but only 2 remain/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
});

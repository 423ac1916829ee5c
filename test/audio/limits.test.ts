/**
 * Decoded-duration and sample-rate bounds, and damaged streams that must not pass silently. The big
 * bombs (an hour of Opus, 1 Hz WAVs) are also run in a child process with time and memory measured by
 * test/abuse/abuse.test.ts; here they are checked for the error alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAudio } from '../../src/core/audio/decode.ts';
import { flacStreamInfo, opusPacketSamples, opusStreamSamples } from '../../src/core/audio/codecs.ts';
import { AudioFormatError, AudioLimitError, InvalidInputError } from '../../src/core/errors.ts';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import { flacDurationBomb, flipBit, opusDurationBomb, vorbisDurationBomb, wavAtRate } from '../abuse/hostile-audio.ts';

const fixture = (name: string) => new Uint8Array(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'audio', name)));

async function refused(p: Promise<unknown>, limit: 'duration' | 'sample-rate', re: RegExp, file: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AudioLimitError, `expected AudioLimitError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.ok(e instanceof AudioFormatError, 'an AudioFormatError too');
    assert.equal(e.limit, limit);
    assert.equal(e.code, 'AUDIO_LIMIT');
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('sample rates below 4 kHz or above 384 kHz are refused from the header, naming the limits', async () => {
  await refused(decodeAudio(wavAtRate(1), 'one-hz.wav'), 'sample-rate', /the fmt chunk declares a sample rate of 1 Hz; accepted: 4000 to 384000 Hz/, 'one-hz.wav');
  await refused(decodeAudio(wavAtRate(3999, 4000), 'low.wav'), 'sample-rate', /3999 Hz; accepted: 4000 to 384000 Hz/, 'low.wav');
  await refused(decodeAudio(wavAtRate(400_000, 4000), 'high.wav'), 'sample-rate', /400000 Hz; accepted: 4000 to 384000 Hz/, 'high.wav');
  // the edges are accepted
  assert.equal((await decodeAudio(wavAtRate(4000, 4000), 'edge.wav')).sampleRate, 4000);
  assert.equal((await decodeAudio(wavAtRate(384_000, 4000), 'edge.wav')).sampleRate, 384_000);
  // FLAC: STREAMINFO's rate (bytes 18-20 of the file hold its 20 bits) set to 1 Hz
  const flac = fixture('sine440_16k_stereo.flac');
  assert.deepEqual(flacStreamInfo(flac), { sampleRate: 16000, totalSamples: 8000 });
  const slow = flac.slice();
  slow[18] = 0; slow[19] = 0; slow[20] = (slow[20] & 0x0f) | 0x10;
  assert.equal(flacStreamInfo(slow)!.sampleRate, 1);
  await refused(decodeAudio(slow, 'slow.flac'), 'sample-rate', /STREAMINFO declares a sample rate of 1 Hz/, 'slow.flac');
});

test('decoded duration: every codec is refused over maxSeconds before decoding, and accepted under it', async () => {
  const cases: [string, Uint8Array, number, RegExp][] = [
    ['sine440_16k_stereo.flac', fixture('sine440_16k_stereo.flac'), 0.5, /STREAMINFO declares 0\.5 s of audio, more than the limit of 0\.25 s/],
    ['sine440_44k_stereo.ogg', fixture('sine440_44k_stereo.ogg'), 0.5, /the Vorbis packets hold at least 0\.2\d* s of audio, more than the limit of 0\.25 s/],
    ['sine440_48k_mono.opus', fixture('sine440_48k_mono.opus'), 0.5, /the Opus packets hold 0\.5\d* s of audio/],
    ['sine440_44k_mono.mp3', fixture('sine440_44k_mono.mp3'), 0.5, /the MPEG frames hold 0\.5\d* s of audio/],
    ['a.wav', wavAtRate(8000, 4000), 0.5, /the data chunk holds 0\.5 s of audio, more than the limit of 0\.25 s \(maxSeconds \/ --max-duration\)/],
  ];
  for (const [name, bytes, seconds, re] of cases) {
    await refused(decodeAudio(bytes, name, { maxSeconds: 0.25 }), 'duration', re, name);
    const ok = await decodeAudio(bytes, name, { maxSeconds: 1 });
    assert.ok(Math.abs(ok.frames / ok.sampleRate - seconds) < 0.1, `${name}: ${ok.frames / ok.sampleRate} s`);
  }
  await assert.rejects(decodeAudio(wavAtRate(8000), 'a.wav', { maxSeconds: 0 }), InvalidInputError);
});

test('an Opus stream of empty packets that would decode to an hour (93 KB) is refused by the default 30 min limit', async () => {
  const bomb = opusDurationBomb(3600);
  assert.ok(bomb.length < 100_000, `${bomb.length} bytes`);
  const t0 = performance.now();
  await refused(decodeAudio(bomb, 'hour.opus'), 'duration', /the Opus packets hold 1 h 0 min \(3600 s\) of audio, more than the limit of 30 min \(1800 s\)/, 'hour.opus');
  assert.ok(performance.now() - t0 < 10_000);
  // the same construction, short, is real audio: what the count predicts is what the decoder returns
  const short = await decodeAudio(opusDurationBomb(2.4), 'short.opus');
  assert.equal(short.sampleRate, 48000);
  assert.equal(short.frames, 20 * 5760 - 312);
});

test('Opus TOC bytes give each packet its length (RFC 6716 3.1)', () => {
  const toc = (config: number, code: number, ...rest: number[]) => new Uint8Array([(config << 3) | code, ...rest]);
  assert.equal(opusPacketSamples(toc(1, 0, 0)), 960); // SILK NB 20 ms, one frame
  assert.equal(opusPacketSamples(toc(3, 1, 0, 0)), 5760); // SILK 60 ms x 2
  assert.equal(opusPacketSamples(toc(13, 0)), 960); // hybrid 20 ms
  assert.equal(opusPacketSamples(toc(16, 2, 1, 0, 0)), 240); // CELT 2.5 ms x 2
  assert.equal(opusPacketSamples(toc(31, 3, 6)), 5760); // CELT 20 ms x 6
  assert.equal(opusPacketSamples(toc(31, 3, 7)), 5760); // 140 ms is not a valid packet: counted as the most one holds
  assert.equal(opusPacketSamples(new Uint8Array(0)), 5760);
});

test('a FLAC with one flipped bit is an error naming the decoded and declared lengths, not a silent truncation', async () => {
  const flac = fixture('sine440_16k_stereo.flac');
  for (const at of [2000, 4000, 7000]) {
    await assert.rejects(decodeAudio(flipBit(flac, at), 'flipped.flac'), (e: unknown) => {
      assert.ok(e instanceof AudioFormatError && !(e instanceof AudioLimitError), `${at}: ${(e as Error)?.message}`);
      assert.match(e.message, /^flipped\.flac: (damaged or truncated FLAC stream: \d+ samples \(\d\.\d{3} s\) decoded, STREAMINFO declares 8000 \(0\.500 s\)|damaged FLAC stream|no audio samples)/);
      return true;
    }, `bit flipped at byte ${at}`);
  }
  // the undamaged file still decodes to all 8000 samples
  assert.equal((await decodeAudio(flac, 'ok.flac')).frames, 8000);
});

test('the Opus page walk counts what codec-parser and the decoder see', async () => {
  const { default: CodecParser } = await import('codec-parser');
  for (const bytes of [fixture('sine440_48k_mono.opus'), opusDurationBomb(7.3)]) {
    let expected = 0;
    for (const page of new CodecParser('application/ogg', { enableFrameCRC32: false }).parseAll(bytes) as unknown as { codecFrames: { data: Uint8Array }[] }[]) {
      for (const f of page.codecFrames) expected += opusPacketSamples(f.data);
    }
    assert.ok(expected > 0);
    assert.equal(opusStreamSamples(bytes), expected);
  }
  // the fixture: 26 packets of 20 ms; the decoder returns that minus the pre-skip and the end trim
  assert.equal(opusStreamSamples(fixture('sine440_48k_mono.opus')), 26 * 960);
});

test('a Vorbis stream of one-byte packets that would decode to an hour (330 KB) is refused at the limit; short, it is real audio', async () => {
  const bomb = vorbisDurationBomb(3600);
  assert.ok(bomb.length < 400_000, `${bomb.length} bytes`);
  await refused(decodeAudio(bomb, 'hour.ogg'), 'duration', /the Vorbis packets hold at least 30 min .*of audio, more than the limit of 30 min \(1800 s\)/, 'hour.ogg');
  const short = await decodeAudio(vorbisDurationBomb(5), 'short.ogg');
  assert.equal(short.sampleRate, 44100);
  assert.equal(short.channels, 2);
  assert.ok(Math.abs(short.frames / 44100 - 5) < 0.05, `${short.frames} frames`);
  // decoded page by page, it stops at the limit too (maxSeconds just above the 5 s estimate is not crossed)
  assert.equal((await decodeAudio(vorbisDurationBomb(5), 'short.ogg', { maxSeconds: 5.1 })).frames, short.frames);
});

test('a FLAC of constant 65535-sample frames that would decode to an hour (37 KB, total unknown) is refused from its frame headers', async () => {
  const bomb = flacDurationBomb(3600);
  assert.ok(bomb.length < 40_000, `${bomb.length} bytes`);
  await refused(decodeAudio(bomb, 'hour.flac'), 'duration', /the FLAC frames hold at least 30 min .*of audio, more than the limit of 30 min \(1800 s\)/, 'hour.flac');
  // short, the same construction decodes: whole frames of 65535 samples at 48 kHz
  const short = await decodeAudio(flacDurationBomb(10), 'short.flac');
  assert.equal(short.sampleRate, 48000);
  assert.equal(short.frames % 65535, 0);
  assert.ok(short.frames >= 7 * 65535, `${short.frames} frames`);
});

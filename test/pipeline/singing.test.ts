/**
 * The singing path of VoiceConverter end to end: 44.1 kHz input, RMVPE F0 of source and reference, median
 * shift and semitones, F0-conditioned length regulation, 128-mel CFM, BigVGAN 44 kHz. The tiny hub
 * Whisper (64-d) does not fit the singing twin's 768-d regulator, so a deterministic stand-in encoder
 * supplies the content; every other stage is the real graph of the parity set.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { resample } from '../../src/core/dsp/index.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../../src/core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, loadCampplusWeights } from '../../src/core/nets/campplus.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildLengthRegulator } from '../../src/core/nets/length-regulator.ts';
import { buildRmvpe, loadRmvpeWeights, rmvpeConfigFromWeights } from '../../src/core/nets/rmvpe.ts';
import type { ContentEncoder } from '../../src/core/pipeline/content.ts';
import { type ConvertEvent, VoiceConverter } from '../../src/core/pipeline/convert.ts';
import { RmvpePitchExtractor } from '../../src/core/pipeline/pitch.ts';
import { GraphVocoder } from '../../src/core/pipeline/vocoder.ts';
import type { NetSession } from '../../src/core/runtime.ts';
import { tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { AUDIO, GOLDEN, HUB } from '../helpers/golden.ts';

const read = (p: string) => new Uint8Array(readFileSync(p));
const sessions: NetSession[] = [];
const open = async (bytes: Uint8Array, label: string) => {
  const s = await nodeBackend.createSession(bytes, { label });
  sessions.push(s);
  return s;
};

/** 768-d content at 50 Hz derived from the waveform's frame energies: deterministic, input-dependent. */
const standIn: ContentEncoder = {
  kind: 'whisper',
  dim: 768,
  async encode(wave16k) {
    const frames = Math.floor(wave16k.length / 320) + 1;
    const data = new Float32Array(frames * 768);
    for (let f = 0; f < frames; f++) {
      let e = 0;
      for (let i = f * 320; i < Math.min(wave16k.length, (f + 1) * 320); i++) e += wave16k[i] * wave16k[i];
      for (let c = 0; c < 768; c++) data[f * 768 + c] = Math.sin(c * 0.37 + f * 0.11) * Math.sqrt(e / 320) * 4;
    }
    return tensor('float32', [1, frames, 768], data);
  },
};

let converter: VoiceConverter;
let singing: { samples: Float32Array; sampleRate: number };
let reference: { samples: Float32Array; sampleRate: number };

before(async () => {
  const cfg = parseSeedVcConfig(readFileSync(join(GOLDEN, 'models/dit_F0/config_dit_F0.yml'), 'utf8'));
  const ckpt = loadDitCheckpoint(read(join(GOLDEN, 'models/dit_F0/dit_F0.pth')), 'dit_F0.pth', cfg);
  const vdir = join(HUB, 'nvidia/bigvgan_v2_44khz_128band_512x');
  const vcfg = parseBigvganConfig(readFileSync(join(vdir, 'config.json'), 'utf8'));
  const rw = loadRmvpeWeights(read(join(HUB, 'lj1995/VoiceConversionWebUI/rmvpe.pt')), 'rmvpe.pt');
  converter = new VoiceConverter(cfg, {
    content: standIn,
    speaker: await open(buildCampplus(campplusConfig, loadCampplusWeights(read(join(HUB, 'funasr/campplus/campplus_cn_common.bin')), 'campplus')).toOnnx(), 'campplus'),
    lengthRegulator: await open(buildLengthRegulator(cfg.lengthRegulator, ckpt.lengthRegulator).toOnnx(), 'lr'),
    estimator: await open(buildDitEstimator(cfg, ckpt.estimator, { keyMask: false }).toOnnx(), 'dit'),
    vocoder: new GraphVocoder(await open(buildBigvgan(vcfg, loadBigvganWeights(read(join(vdir, 'bigvgan_generator.pt')), 'bigvgan', vcfg)).toOnnx(), 'bigvgan44k')),
    pitch: new RmvpePitchExtractor(
      await open(buildRmvpe(rmvpeConfigFromWeights(rw), rw, { part: 'unet' }).toOnnx(), 'rmvpe_unet'),
      await open(buildRmvpe(rmvpeConfigFromWeights(rw), rw, { part: 'fc' }).toOnnx(), 'rmvpe_fc')),
  });
  const song = readWav(read(join(AUDIO, 'singing_technopolis_48k.wav')), 'singing');
  singing = { samples: toMono(song).subarray(0, 3 * song.sampleRate), sampleRate: song.sampleRate };
  const ref = readWav(read(join(AUDIO, 'teio_0.wav')), 'teio');
  reference = { samples: toMono(ref).subarray(0, 2 * ref.sampleRate), sampleRate: ref.sampleRate };
});
after(async () => { await Promise.all(sessions.map((s) => s.release())); });

test('a 48 kHz song converts at 44.1 kHz through the F0 stage and BigVGAN 44 kHz', async () => {
  const stages: string[] = [];
  const r = await converter.convert(singing, reference, {
    diffusionSteps: 3, seed: 5, autoF0Adjust: true, semiToneShift: 2,
    onProgress: (e: ConvertEvent) => { if (e.type === 'stage' && e.status === 'done') stages.push(e.stage); },
  });
  assert.equal(r.sampleRate, 44100);
  const frames = Math.floor(resample(singing.samples, 48000, 44100).length / 512);
  assert.equal(r.audio.length, frames * 512);
  assert.equal(r.intermediates.prompt.shape[1], 128);
  assert.ok(stages.includes('f0'), stages.join(','));
  assert.ok(r.audio.every(Number.isFinite));
  assert.ok(r.audio.every((v) => Math.abs(v) <= 1), 'BigVGAN clamps to [-1, 1]');
});

test('the semitone shift reaches the regulator: a different shift gives a different condition, the same one the same', async () => {
  const run = (semiToneShift: number) => converter.convert(singing, reference, { diffusionSteps: 1, seed: 5, semiToneShift });
  const [up, down, upAgain] = [await run(4), await run(-4), await run(4)];
  assert.notDeepEqual(up.intermediates.cond.data, down.intermediates.cond.data);
  assert.deepEqual(up.intermediates.cond.data, upAgain.intermediates.cond.data);
  assert.deepEqual(up.audio, upAgain.audio, 'same seed, same output');
  assert.deepEqual(up.intermediates.promptCondition.data, down.intermediates.promptCondition.data, 'the reference F0 is never shifted');
});

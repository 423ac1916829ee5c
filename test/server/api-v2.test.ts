/**
 * Seed-VC v2 through the HTTP API: the golden case e2e_v2_default (tiny official-format v2 models of the hub
 * mirror) converted by POST /v1/conversions with model v2 equals the library's conversion with the same seed,
 * bit for bit; v1-only fields with v2, and v2 fields without it, are refused with a 400.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN_V2, v2Hub } from '../nets/v2/helpers.ts';
import { type TestServer, decodeWav, fileBlob, form, json, readEvents, startServer } from './helpers.ts';

const CASE = join(GOLDEN_V2, 'e2e', 'e2e_v2_default');
const CONFIG = join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml');
const args = JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')).args as Record<string, number | boolean>;
const files = () => ({ source: fileBlob(join(CASE, 'source.wav')), reference: fileBlob(join(CASE, 'reference.wav')) });

let s: TestServer;
before(async () => { s = await startServer({ v2Config: CONFIG, load: { mirror: v2Hub(), offline: true, device: 'cpu', precision: 'fp32' } }); });
after(async () => { await s?.close(); });

const expect400 = async (fields: Record<string, string | number | boolean>, pattern: RegExp) => {
  const res = await fetch(`${s.url}/v1/conversions`, { method: 'POST', body: form(files(), fields) });
  const body = await json(res);
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error.code, 'bad_option');
  assert.match(body.error.message, pattern);
};

test('v1-only fields with model v2 and v2 fields without it are refused with 400', async () => {
  await expect400({ model: 'v2', inference_cfg_rate: 0.5 }, /inference_cfg_rate: not for model v2/);
  await expect400({ model: 'v2', semi_tone_shift: 2, f0_condition: true }, /f0_condition, semi_tone_shift: not for model v2/);
  await expect400({ similarity_cfg_rate: 0.5 }, /similarity_cfg_rate: only for model v2/);
  await expect400({ model: 'singing', convert_style: true }, /convert_style: only for model v2/);
  await expect400({ model: 'v2', top_p: 1.5 }, /top_p/);
  await expect400({ model: 'v3' }, /model/);
});

test('e2e_v2_default through the API equals the library with the same seed, bit for bit', async () => {
  const fields = {
    model: 'v2', seed: 11, diffusion_steps: args.diffusion_steps as number, length_adjust: args.length_adjust as number,
    intelligibility_cfg_rate: args.intelligibility_cfg_rate as number, similarity_cfg_rate: args.similarity_cfg_rate as number,
    top_p: args.top_p as number, temperature: args.temperature as number, repetition_penalty: args.repetition_penalty as number,
    convert_style: args.convert_style as boolean, anonymization_only: args.anonymization_only as boolean,
  };
  const res = await fetch(`${s.url}/v1/conversions`, { method: 'POST', body: form(files(), fields) });
  assert.equal(res.status, 202, await res.clone().text());
  const { id, links } = await json(res);
  const events = await readEvents(`${s.url}${links.events}`);
  const end = events.at(-1)!;
  assert.equal(end.data.state, 'succeeded', JSON.stringify(end.data.error));
  const steps = events.filter((e) => e.event === 'progress' && e.data.type === 'diffusion').map((e) => e.data.step);
  assert.deepEqual(steps, [1, 2, 3, 4]);
  const job = await json(await fetch(`${s.url}/v1/conversions/${id}`));
  assert.equal(job.options.model, 'v2');
  assert.equal(job.options.similarity_cfg_rate, 0.7);
  assert.equal(job.options.inference_cfg_rate, undefined, 'v1-only options are not reported for v2');
  const ours = decodeWav(new Uint8Array(await (await fetch(`${s.url}${job.links.audio}`)).arrayBuffer()));
  assert.equal(ours.sampleRate, 22050);
  assert.equal(ours.samples.length, args.output_samples);

  const wav = (p: string) => { const w = readWav(new Uint8Array(readFileSync(p)), p); return { samples: toMono(w), sampleRate: w.sampleRate }; };
  const model = await SeedVc.load({ model: 'v2', config: CONFIG, mirror: v2Hub(), offline: true, cacheDir: join(s.dir, 'lib-cache'), device: 'cpu', precision: 'fp32' });
  try {
    const lib = await model.convert(wav(join(CASE, 'source.wav')), wav(join(CASE, 'reference.wav')), {
      diffusionSteps: 4, lengthAdjust: 1, intelligibilityCfgRate: 0.7, similarityCfgRate: 0.7, topP: 0.9, temperature: 1, repetitionPenalty: 1,
      convertStyle: false, anonymizationOnly: false, seed: 11,
    });
    assert.equal(lib.audio.length, ours.samples.length);
    let diff = 0;
    for (let i = 0; i < lib.audio.length; i++) if (lib.audio[i] !== ours.samples[i]) diff++;
    assert.equal(diff, 0, `${diff} samples differ from the library's conversion`);
    let energy = 0;
    for (const x of ours.samples) energy += x * x;
    assert.ok(energy > 0 && Number.isFinite(energy), 'a non-silent, finite waveform');
  } finally {
    await model.dispose();
  }
});

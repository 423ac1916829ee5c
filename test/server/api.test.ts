/**
 * The HTTP API of `seed-vc serve` over loopback, with the tiny official-format models of the golden hub
 * mirror: every route with good and bad input, a conversion equal to the library's bit for bit,
 * cancellation, a full queue, a crashing worker, and the HTTP thread staying responsive meanwhile.
 * One server (one model load in its worker) serves all tests of this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { SeedVc } from '../../src/node/load.ts';
import { ROUTES } from '../../src/server/openapi.ts';
import { HUB } from '../helpers/golden.ts';
import {
  REFERENCE, SOURCE, type TestServer, decodeWav, fileBlob, form, json, readEvents, startServer, tone, wavBlob,
} from './helpers.ts';

const CRASH_SEED = 666;
let s: TestServer;
let url: string;
const post = (path: string, body: FormData | string, headers: Record<string, string> = {}) => fetch(url + path, { method: 'POST', body, headers });
const convert = (fields: Record<string, string | number | boolean> = {}, files: Record<string, Blob> = { source: fileBlob(SOURCE), reference: fileBlob(REFERENCE) }) =>
  post('/v1/conversions', form(files, { diffusion_steps: 4, ...fields }));
const waitEnd = async (id: string) => (await readEvents(`${url}/v1/conversions/${id}/events`)).at(-1)!.data;
const expectError = async (res: Response, status: number, code: string, pattern?: RegExp) => {
  const body = await json(res);
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
  if (pattern) assert.match(body.error.message, pattern);
  return body;
};

before(async () => {
  s = await startServer({ fault: `crash-at-seed:${CRASH_SEED}`, queueSize: 2 });
  url = s.url;
});
after(async () => { await s?.close(); });

describe('documents and health', () => {
  test('GET /healthz', async () => {
    const h = await json(await fetch(`${url}/healthz`));
    assert.equal(h.status, 'ok');
    assert.deepEqual(Object.keys(h.queue).sort(), ['backend', 'capacity', 'queued', 'running', 'workers']);
    assert.equal(h.queue.workers, 1);
    assert.equal(h.queue.capacity, 2);
  });

  test('GET /openapi.json is OpenAPI 3.1 and lists every route with the validating schemas', async () => {
    const doc = await json(await fetch(`${url}/openapi.json`));
    assert.equal(doc.openapi, '3.1.0');
    for (const r of ROUTES) assert.ok(doc.paths[r.path]?.[r.method], `${r.method} ${r.path}`);
    const body = doc.paths['/v1/conversions'].post.requestBody.content['multipart/form-data'].schema;
    assert.equal(body.properties.diffusion_steps.default, 30);
    assert.equal(body.properties.inference_cfg_rate.default, 0.7);
    assert.equal(body.properties.length_adjust.default, 1);
    assert.equal(body.properties.diffusion_steps.maximum, 200);
    assert.deepEqual(body.properties.precision.enum, ['auto', 'fp32', 'fp16', 'int8']);
    assert.equal(body.properties.source.format, 'binary');
    assert.ok(doc.paths['/v1/conversions'].post.responses['429'].headers['Retry-After']);
  });

  test('GET /docs is a readable page of the same document', async () => {
    const res = await fetch(`${url}/docs`);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    const html = await res.text();
    for (const word of ['POST', '/v1/conversions', 'diffusion_steps', 'semi_tone_shift', 'Retry-After']) assert.ok(html.includes(word), word);
  });

  test('GET /v1/models and /v1/doctor', async () => {
    const m = await json(await fetch(`${url}/v1/models`));
    assert.deepEqual(m.sets.map((x: { id: string }) => x.id), ['offline', 'singing', 'realtime']);
    assert.equal(m.defaults.diffusion_steps, 30);
    assert.equal(m.precision, 'fp32');
    assert.equal(m.limits.max_upload_bytes, 4 << 20);
    const d = await json(await fetch(`${url}/v1/doctor`));
    const cpu = d.devices.find((x: { device: string }) => x.device === 'cpu');
    assert.equal(cpu.available, true);
    assert.equal(cpu.plans.auto.mode, 'fp32');
  });

  test('unknown routes and ids answer 404 JSON', async () => {
    await expectError(await fetch(`${url}/v1/nothing`), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/conversions/0123456789abcdef`), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/conversions/..%2F..%2Fetc`), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/conversions/0123456789abcdef/audio`), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/conversions/0123456789abcdef`, { method: 'DELETE' }), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/ab/0123456789abcdef/report.html`), 404, 'not_found');
  });
});

describe('conversions', () => {
  test('a conversion through the API equals the library bit for bit (same seed); events, audio formats, ranges', async (t) => {
    const res = await convert({ seed: 7 });
    assert.equal(res.status, 202);
    const { id, state, links } = await json(res);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.ok(['queued', 'running'].includes(state));
    assert.equal(res.headers.get('location'), `/v1/conversions/${id}`);
    const events = await readEvents(`${url}${links.events}`);
    const end = events.at(-1)!;
    assert.equal(end.event, 'end');
    assert.equal(end.data.state, 'succeeded', JSON.stringify(end.data.error));
    // Progress events are the library's typed events, in order; the fraction never goes back.
    const steps = events.filter((e) => e.event === 'progress' && e.data.type === 'diffusion').map((e) => e.data.step);
    assert.deepEqual(steps, [1, 2, 3, 4]);
    const stages = events.filter((e) => e.data.type === 'stage' && e.data.status === 'done').map((e) => e.data.stage);
    assert.deepEqual(stages, ['content', 'speaker', 'length_regulator', 'diffusion', 'vocoder']);
    const fractions = events.filter((e) => e.event === 'progress').map((e) => e.data.fraction);
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b));

    const job = await json(await fetch(`${url}/v1/conversions/${id}`));
    assert.equal(job.state, 'succeeded');
    assert.equal(job.seed, 7);
    assert.equal(job.progress.fraction, 1);
    assert.ok(job.rtf > 0 && job.timings_ms.total > 0);
    assert.deepEqual(job.guard, []);
    assert.equal(job.options.diffusion_steps, 4);

    const audio = await fetch(`${url}${job.links.audio}`);
    assert.equal(audio.headers.get('content-type'), 'audio/wav');
    assert.equal(audio.headers.get('accept-ranges'), 'bytes');
    const bytes = new Uint8Array(await audio.arrayBuffer());
    const ours = decodeWav(bytes);
    assert.equal(ours.sampleRate, 22050);
    assert.equal(ours.samples.length, job.result.samples);

    const wav = (p: string) => { const w = readWav(new Uint8Array(readFileSync(p)), p); return { samples: toMono(w), sampleRate: w.sampleRate }; };
    const model = await SeedVc.load({ mirror: HUB, offline: true, cacheDir: join(s.dir, 'cache'), device: 'cpu', precision: 'fp32' });
    try {
      const lib = await model.convert(wav(SOURCE), wav(REFERENCE), { diffusionSteps: 4, seed: 7 });
      assert.equal(lib.audio.length, ours.samples.length);
      let diff = 0;
      for (let i = 0; i < lib.audio.length; i++) if (lib.audio[i] !== ours.samples[i]) diff++;
      assert.equal(diff, 0, `${diff} samples differ from the library's conversion`);
    } finally {
      await model.dispose();
    }

    // pcm16, download, ranges.
    const pcm = await fetch(`${url}${job.links.audio}?format=pcm16&download=1`);
    assert.match(pcm.headers.get('content-disposition')!, /attachment; filename="seed-vc-[0-9a-f]{16}\.wav"/);
    const pcmBytes = new Uint8Array(await pcm.arrayBuffer());
    const p16 = decodeWav(pcmBytes);
    assert.equal(p16.samples.length, ours.samples.length);
    assert.ok(pcmBytes.length < bytes.length * 0.6, 'pcm16 is about half the float32 size');
    let worst = 0;
    for (let i = 0; i < p16.samples.length; i++) worst = Math.max(worst, Math.abs(p16.samples[i] - Math.max(-1, Math.min(1, ours.samples[i]))));
    assert.ok(worst <= 1 / 32767, `pcm16 quantisation error ${worst}`);
    const r1 = await fetch(`${url}${job.links.audio}`, { headers: { range: 'bytes=100-199' } });
    assert.equal(r1.status, 206);
    assert.equal(r1.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(new Uint8Array(await r1.arrayBuffer()), bytes.subarray(100, 200));
    const r2 = await fetch(`${url}${job.links.audio}`, { headers: { range: 'bytes=-10' } });
    assert.deepEqual(new Uint8Array(await r2.arrayBuffer()), bytes.subarray(bytes.length - 10));
    const r3 = await fetch(`${url}${job.links.audio}`, { headers: { range: `bytes=${bytes.length}-` } });
    assert.equal(r3.status, 416);
    assert.equal(r3.headers.get('content-range'), `bytes */${bytes.length}`);
    await expectError(await fetch(`${url}${job.links.audio}?format=mp3`), 400, 'bad_option', /format/);
    t.diagnostic(`API conversion RTF ${job.rtf.toFixed(3)}, identical to the library's ${ours.samples.length} samples`);

    // The events of a finished job: its state and the end, at once.
    const late = await readEvents(`${url}${links.events}`);
    assert.deepEqual(late.map((e) => e.event), ['state', 'end']);

    // Deleting a finished job removes it and its files.
    assert.equal((await fetch(`${url}/v1/conversions/${id}`, { method: 'DELETE' })).status, 204);
    assert.equal(existsSync(join(s.dir, 'data', 'results', id)), false);
    await expectError(await fetch(`${url}/v1/conversions/${id}`), 404, 'not_found');
  });

  test('bad requests: each names the problem', async () => {
    const src = fileBlob(SOURCE);
    const ref = fileBlob(REFERENCE);
    await expectError(await convert({}, { reference: ref }), 400, 'missing_field', /source/);
    await expectError(await convert({}, { source: src }), 400, 'missing_field', /reference/);
    await expectError(await convert({ diffusion_steps: 0 }), 400, 'bad_option', /diffusion_steps/);
    await expectError(await convert({ diffusion_steps: 'many' }), 400, 'bad_option', /diffusion_steps: expected an integer/);
    await expectError(await convert({ diffusion_steps: 2.5 }), 400, 'bad_option', /diffusion_steps/);
    await expectError(await convert({ precision: 'fp8' }), 400, 'bad_option', /precision/);
    await expectError(await convert({ f0_condition: 'maybe' }), 400, 'bad_option', /f0_condition/);
    await expectError(await convert({ seed: -1 }), 400, 'bad_option', /seed/);
    await expectError(await convert({ guidance: 1 }), 400, 'bad_option', /unknown field 'guidance'/);
    await expectError(await convert({}, { source: src, reference: ref, extra: ref }), 400, 'bad_option', /unexpected file field 'extra'/);
    await expectError(await convert({ voice: '0123456789abcdef' }, { source: src }), 404, 'not_found', /voice/);
    // Wrong type: text, an unsupported container, a declared media type that is not multipart/JSON.
    await expectError(await convert({}, { source: new Blob(['hello, this is text not audio']), reference: ref }), 415, 'unsupported_audio', /source: unrecognized audio format/);
    const aiff = new Uint8Array(64); aiff.set(new TextEncoder().encode('FORM\0\0\0\x38AIFF'));
    await expectError(await convert({}, { source: src, reference: new Blob([aiff]) }), 415, 'unsupported_audio', /AIFF/);
    await expectError(await post('/v1/conversions', 'source=x', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    // Too large (bytes), too long (decoded duration), too short, silent, NaN.
    await expectError(await convert({}, { source: wavBlob(tone(50), 22050), reference: ref }), 413, 'too_large');
    await expectError(await convert({}, { source: wavBlob(tone(40, 8000), 8000, 'pcm16'), reference: ref }), 422, 'unprocessable_audio', /40 s of audio.*this server accepts up to 30 s/);
    await expectError(await convert({}, { source: wavBlob(tone(0.2), 22050), reference: ref }), 422, 'unprocessable_audio', /at least 0.5 s/);
    await expectError(await convert({}, { source: wavBlob(new Float32Array(22050), 22050), reference: ref }), 422, 'unprocessable_audio', /silent/);
    const { encodeWav } = await import('../../src/core/audio/index.ts');
    const nan = encodeWav(tone(1), 22050, { format: 'float32' });
    const data = Buffer.from(nan.buffer, nan.byteOffset, nan.length).indexOf('data');
    new DataView(nan.buffer, nan.byteOffset).setFloat32(data + 8 + 400, NaN, true);
    await expectError(await convert({}, { source: src, reference: new Blob([nan as Uint8Array<ArrayBuffer>]) }), 422, 'unprocessable_audio', /NaN/);
    // Nothing of the refused requests stays on disk.
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(join(s.dir, 'data', 'uploads')).filter((d) => !s.server.registry.get(d)), []);
  });

  test('JSON requests use saved voices; voices: create, list, get, audio, delete', async () => {
    const created = await post('/v1/voices', form({ audio: fileBlob(REFERENCE) }, { name: 'Reference speaker' }));
    assert.equal(created.status, 201);
    const v = await json(created);
    assert.equal(v.name, 'Reference speaker');
    assert.equal(v.container, 'wav');
    assert.equal(v.sample_rate, 22050);
    assert.ok(Math.abs(v.seconds - 3) < 1e-9);
    const list = await json(await fetch(`${url}/v1/voices`));
    assert.ok(list.voices.some((x: { id: string }) => x.id === v.id));
    assert.deepEqual(await json(await fetch(`${url}/v1/voices/${v.id}`)), v);
    const clip = new Uint8Array(await (await fetch(`${url}/v1/voices/${v.id}/audio`)).arrayBuffer());
    assert.deepEqual(clip, new Uint8Array(readFileSync(REFERENCE)));

    await expectError(await post('/v1/voices', form({ audio: fileBlob(REFERENCE) })), 400, 'bad_option', /name/);
    await expectError(await post('/v1/voices', form({}, { name: 'x' })), 400, 'missing_field', /audio/);
    await expectError(await post('/v1/voices', form({ audio: new Blob(['nope']) }, { name: 'x' })), 415, 'unsupported_audio');
    await expectError(await post('/v1/voices', JSON.stringify({ name: 'x' }), { 'content-type': 'application/json' }), 415, 'unsupported_media_type');

    // A conversion with the saved voice as reference equals one with the uploaded clip (same seed).
    const byVoice = await json(await convert({ seed: 11, voice: v.id }, { source: fileBlob(SOURCE) }));
    const byJson = await json(await post('/v1/conversions', JSON.stringify({ source_voice: v.id, voice: v.id, diffusion_steps: 3, seed: 11 }), { 'content-type': 'application/json' }));
    const byUpload = await json(await convert({ seed: 11 }));
    for (const j of [byVoice, byJson, byUpload]) assert.equal((await waitEnd(j.id)).state, 'succeeded');
    const audio = async (id: string) => new Uint8Array(await (await fetch(`${url}/v1/conversions/${id}/audio`)).arrayBuffer());
    assert.deepEqual(await audio(byVoice.id), await audio(byUpload.id));
    assert.equal(decodeWav(await audio(byJson.id)).samples.length, Math.floor(66150 / 256) * 256);
    await expectError(await post('/v1/conversions', JSON.stringify({ voice: v.id }), { 'content-type': 'application/json' }), 400, 'missing_field', /source/);
    await expectError(await post('/v1/conversions', '{"voice":', { 'content-type': 'application/json' }), 400, 'bad_option');

    assert.equal((await fetch(`${url}/v1/voices/${v.id}`, { method: 'DELETE' })).status, 204);
    await expectError(await fetch(`${url}/v1/voices/${v.id}`, { method: 'DELETE' }), 404, 'not_found');
    await expectError(await fetch(`${url}/v1/voices/${v.id}`), 404, 'not_found');
  });

  test('cancel: a running job stops between diffusion steps; a queued one at once; the queue answers 429 when full', async (t) => {
    const long = await json(await convert({ diffusion_steps: 200, seed: 1 }));
    // Wait for its first diffusion step (the model is warm from the earlier tests).
    await readEvents(`${url}/v1/conversions/${long.id}/events`, {}, (e) => e.data.type === 'diffusion');
    const queued = [await convert({ diffusion_steps: 200 }), await convert({ diffusion_steps: 200 })];
    for (const r of queued) assert.equal(r.status, 202);
    const q = await json(queued[1]);
    assert.equal((await json(await fetch(`${url}/v1/conversions/${q.id}`))).queue_position, 1);
    const full = await convert({});
    await expectError(full, 429, 'queue_full', /queue is full/);
    assert.match(full.headers.get('retry-after') ?? '', /^\d+$/);

    // Health answers fast while the worker converts.
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      times.push(performance.now() - t0);
    }
    const worst = Math.max(...times);
    t.diagnostic(`health check while converting: max ${worst.toFixed(1)} ms over 10`);
    assert.ok(worst < 1000, `health check took ${worst} ms while a conversion ran`);

    const cq = await fetch(`${url}/v1/conversions/${q.id}`, { method: 'DELETE' });
    assert.equal((await json(cq)).state, 'cancelled');
    const cancelled = await json(await fetch(`${url}/v1/conversions/${long.id}`, { method: 'DELETE' }));
    assert.equal(cancelled.state, 'cancelled');
    assert.ok(cancelled.progress.step < 200, `stopped at step ${cancelled.progress.step}`);
    await expectError(await fetch(`${url}/v1/conversions/${long.id}/audio`), 409, 'conflict', /cancelled/);
    const other = await json(queued[0]);
    assert.equal((await json(await fetch(`${url}/v1/conversions/${other.id}`, { method: 'DELETE' }))).state, 'cancelled');
    t.diagnostic(`cancelled at diffusion step ${cancelled.progress.step} of 200`);
  });

  test('a worker crash fails its job with a clear error; the worker is replaced and the server keeps serving', async () => {
    const { id } = await json(await convert({ seed: CRASH_SEED }));
    const end = await waitEnd(id);
    assert.equal(end.state, 'failed');
    assert.equal(end.error.code, 'worker_crashed');
    assert.match(end.error.message, /stopped unexpectedly \(exit code 70\)/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const next = await json(await convert({ seed: 3 }));
    assert.equal((await waitEnd(next.id)).state, 'succeeded');
    assert.equal((await json(await fetch(`${url}/healthz`))).queue.workers, 1);
  });

  test('results expire after the TTL', async () => {
    const { id } = await json(await convert({ seed: 5, diffusion_steps: 1 }));
    assert.equal((await waitEnd(id)).state, 'succeeded');
    assert.ok(existsSync(join(s.dir, 'data', 'results', id, 'output.wav')));
    await s.server.registry.sweep(Date.now() + 601_000);
    await expectError(await fetch(`${url}/v1/conversions/${id}`), 404, 'not_found', /expire/);
    assert.equal(existsSync(join(s.dir, 'data', 'results', id)), false);
  });
});

describe('A/B', () => {
  test('POST /v1/ab runs fp32 vs fp16 and serves the report', async () => {
    const res = await post('/v1/ab', form({ source: fileBlob(SOURCE), reference: fileBlob(REFERENCE) }, { diffusion_steps: 2 }));
    assert.equal(res.status, 202);
    const { id } = await json(res);
    const end = (await readEvents(`${url}/v1/ab/${id}/events`)).at(-1)!.data;
    assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
    const report = await json(await fetch(`${url}/v1/ab/${id}/report.json`));
    assert.equal(report.sides.a.settings.precision, 'fp32');
    assert.equal(report.sides.b.settings.precision, 'fp16');
    assert.ok(report.comparison.logMelL1 >= 0 && report.comparison.logMelL1 < 0.05, `log-mel L1 ${report.comparison.logMelL1}`);
    const html = await (await fetch(`${url}/v1/ab/${id}/report.html`)).text();
    assert.match(html, /<html/);
    assert.ok(!html.includes(s.dir) && !JSON.stringify(report).includes(s.dir), 'the report does not reveal server paths');
    const png = new Uint8Array(await (await fetch(`${url}/v1/ab/${id}/a.png`)).arrayBuffer());
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    await expectError(await post('/v1/ab', form({ source: fileBlob(SOURCE), reference: fileBlob(REFERENCE) }, { a: 'fp64' })), 400, 'bad_option', /a:/);
    await expectError(await fetch(`${url}/v1/conversions/${id}`), 404, 'not_found');
  });
});

describe('token and CORS', () => {
  test('with --token every /v1 route needs the Bearer token; CORS only for the named origin', async () => {
    const t = await startServer({ token: 'sekret', cors: 'http://app.example' });
    try {
      await expectError(await fetch(`${t.url}/v1/models`), 401, 'unauthorized');
      await expectError(await fetch(`${t.url}/v1/models`, { headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
      await expectError(await fetch(`${t.url}/v1/conversions`, { method: 'POST', body: form({ source: fileBlob(SOURCE) }) }), 401, 'unauthorized');
      assert.equal((await fetch(`${t.url}/v1/models`, { headers: { authorization: 'Bearer sekret' } })).status, 200);
      assert.equal((await fetch(`${t.url}/v1/voices?access_token=sekret`)).status, 200);
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
      const ok = await fetch(`${t.url}/v1/models`, { headers: { authorization: 'Bearer sekret', origin: 'http://app.example' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'http://app.example');
      const other = await fetch(`${t.url}/v1/models`, { headers: { authorization: 'Bearer sekret', origin: 'http://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      const pre = await fetch(`${t.url}/v1/conversions`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
      assert.equal(pre.status, 204);
      assert.match(pre.headers.get('access-control-allow-headers')!, /authorization/);
    } finally {
      await t.close();
    }
    // Without --cors there are no CORS headers.
    const plain = await fetch(`${url}/v1/models`, { headers: { origin: 'http://app.example' } });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });
});

/**
 * `/v1/stream` on `seed-vc serve` over loopback with the tiny real-time models of the golden hub mirror:
 * a stream equals the core's StreamingConverter on the same input and seed; bad settings, an unknown voice,
 * frames that split a sample and a client that sends far faster than real time each end their own stream
 * with a clear error, and the server keeps serving.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { StreamingConverter } from '../../src/core/pipeline/stream.ts';
import { decodePcm, encodePcm } from '../../src/core/pipeline/stream-io.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, relErr } from '../helpers/golden.ts';
import { type TestServer, fileBlob, form, json, startServer } from './helpers.ts';

const CASE = join(GOLDEN, 'stream', 'rt_block0p3_nocfg');
const REF = join(CASE, 'reference.wav');
const SETTINGS = { block_time: 0.3, crossfade_time: 0.05, extra_time_ce: 2.0, extra_time: 0.4, extra_time_right: 0.04, diffusion_steps: 2, inference_cfg_rate: 0, max_prompt_length: 2.0 };
let s: TestServer;
let voice: string;
before(async () => {
  s = await startServer({ load: { mirror: HUB, offline: true, device: 'cpu', precision: 'fp32', model: 'realtime' } });
  const res = await fetch(`${s.url}/v1/voices`, { method: 'POST', body: form({ audio: fileBlob(REF) }, { name: 'golden reference' }) });
  assert.equal(res.status, 201);
  voice = (await json(res)).id;
});
after(async () => { await s?.close(); });

interface Session { texts: any[]; audio: Buffer[]; code: number; reason: string }

/** Opens /v1/stream, runs `script(ws, ready)` once the server is ready (or not), collects until close. */
function stream(first: string | Buffer, script: (ws: WebSocket, ready: any) => void = () => {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/v1/stream`);
    const out: Session = { texts: [], audio: [], code: 0, reason: '' };
    ws.on('open', () => ws.send(first));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) { out.audio.push(data); return; }
      const m = JSON.parse(data.toString('utf8'));
      out.texts.push(m);
      if (m.type === 'ready') script(ws, m);
    });
    ws.on('close', (code, reason) => { out.code = code; out.reason = reason.toString(); resolve(out); });
    ws.on('error', reject);
  });
}

test('/v1/stream converts like the core StreamingConverter (same input, settings and seed)', async (t) => {
  const src = toMono(readWav(new Uint8Array(readFileSync(join(CASE, 'source.wav'))), 'source.wav'));
  const bytes = encodePcm(src, 'f32le');
  const r = await stream(JSON.stringify({ voice, format: 'f32le', settings: SETTINGS, seed: 5 }), (ws) => {
    for (let o = 0; o < bytes.length; o += 4 * 1001) ws.send(bytes.subarray(o, o + 4 * 1001)); // whole samples, odd sizes
    ws.send(JSON.stringify({ type: 'end' }));
  });
  assert.equal(r.code, 1000, JSON.stringify(r.texts.at(-1)));
  const ready = r.texts.find((m) => m.type === 'ready');
  assert.equal(ready.sample_rate, 22050);
  assert.equal(ready.block_samples, 6615);
  assert.equal(ready.latency_ms, ((6615 + 882 + 882 + 441) / 22050) * 1000);
  const done = r.texts.at(-1);
  assert.equal(done.type, 'done');
  assert.equal(done.blocks, 8);
  const y = decodePcm(new Uint8Array(Buffer.concat(r.audio)), 'f32le');
  assert.equal(y.length, 8 * 6615);

  const model = await SeedVc.load({ model: 'realtime', mirror: HUB, offline: true, device: 'cpu', precision: 'fp32', cacheDir: join(s.dir, 'cache-core') });
  try {
    const conv = new StreamingConverter(model.config, model.converter.sessions, {
      blockTime: 0.3, crossfadeTime: 0.05, extraTimeCe: 2, extraTime: 0.4, extraTimeRight: 0.04, diffusionSteps: 2, inferenceCfgRate: 0, maxPromptLength: 2,
    }, { seed: 5 });
    conv.setReference(toMono(readWav(new Uint8Array(readFileSync(REF)), REF)));
    const ref = new Float32Array(y.length);
    for (let k = 0; k < 8; k++) ref.set((await conv.process(src.subarray(k * 6615, (k + 1) * 6615))).output, k * 6615);
    const err = relErr(y, ref);
    assert.ok(err < 1e-4, `WebSocket vs core: err ${err}`);
    t.diagnostic(`WebSocket vs core err ${err.toExponential(2)}; compute p50 ${done.compute_ms.p50.toFixed(0)} ms`);
  } finally {
    await model.dispose();
  }
});

test('/v1/stream: bad input ends that stream with a clear error; the server keeps serving', async () => {
  let r = await stream(JSON.stringify({ voice, rate: 5 }));
  assert.equal(r.code, 1008);
  assert.equal(r.texts[0].code, 'bad_settings');
  assert.match(r.texts[0].message, /rate/);

  r = await stream(JSON.stringify({ voice, settings: { ...SETTINGS, extra_time: 3 } }));
  assert.equal(r.texts[0].code, 'bad_settings');
  assert.match(r.texts[0].message, /extra time/);

  r = await stream(JSON.stringify({ voice: 'nosuchvoice' }));
  assert.equal(r.texts[0].code, 'not_found');

  r = await stream(Buffer.from([1, 2, 3, 4]));
  assert.equal(r.code, 1003);
  assert.equal(r.texts[0].code, 'bad_message');

  r = await stream(JSON.stringify({ voice, format: 's16le', settings: SETTINGS }), (ws) => ws.send(Buffer.from([1, 2, 3])));
  assert.equal(r.code, 1003);
  assert.equal(r.texts.at(-1).code, 'bad_frame');
  assert.match(r.texts.at(-1).message, /multiple of 2 bytes/);

  // 20 s of audio at once (in 256 KiB frames): far beyond the backlog limit
  r = await stream(JSON.stringify({ voice, settings: SETTINGS }), (ws) => {
    for (let i = 0; i < 7; i++) ws.send(new Uint8Array(1 << 18));
  });
  assert.equal(r.code, 1008);
  assert.equal(r.texts.at(-1).code, 'backlog');

  // one frame above the 1 MiB message limit: the WebSocket layer refuses it (1009)
  r = await stream(JSON.stringify({ voice, settings: SETTINGS }), (ws) => ws.send(new Uint8Array((1 << 20) + 4)));
  assert.equal(r.code, 1009);

  const h = await fetch(`${s.url}/healthz`);
  assert.equal(h.status, 200);
});

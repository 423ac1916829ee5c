/**
 * Scale-out on a real Redis (Debian's redis-server, started on a loopback port by this test): a server
 * with --queue redis://… and two `seed-vc worker` processes drain a batch; a worker killed mid-job
 * leaves its job to the other; results equal the library's conversion bit for bit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { SeedVc } from '../../src/node/load.ts';
import { RedisQueue } from '../../src/server/jobs/redis.ts';
import { HUB, PROJECT_ROOT } from '../helpers/golden.ts';
import { REFERENCE, SOURCE, type TestServer, decodeWav, fileBlob, form, json, readEvents, startServer } from './helpers.ts';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const run = hasRedis ? test : test.skip;
const BIN = join(PROJECT_ROOT, 'bin', 'seed-vc.js');

let redis: ChildProcess | undefined;
let redisUrl = '';
let s: TestServer;
const workers = new Map<string, ChildProcess>();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = netServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const on = (d: Buffer) => { out += d; if (pattern.test(out)) resolve(); };
    child.stdout!.on('data', on);
    child.stderr!.on('data', (d) => { out += d; });
    child.once('exit', (code) => reject(new Error(`${what} exited ${code}: ${out}`)));
  });
}

async function startWorker(name: string, extra: string[] = []): Promise<void> {
  const child = spawn(process.execPath, [
    BIN, 'worker', '--queue', redisUrl, '--data-dir', join(s.dir, 'data'), '--name', name, '--lock-ms', '2000',
    '--hub-mirror', HUB, '--offline', '--cache-dir', join(s.dir, 'cache'), '--device', 'cpu', '--precision', 'fp32', '-q', ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  workers.set(name, child);
  await waitFor(child, /ready on redis:/, `worker ${name}`);
}

before(async () => {
  if (!hasRedis) return;
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(redis, /Ready to accept connections/, 'redis-server');
  redisUrl = `redis://127.0.0.1:${port}`;
  const queue = await RedisQueue.connect(redisUrl, { capacity: 8 });
  s = await startServer({ queue });
  await Promise.all([startWorker('w1'), startWorker('w2')]);
});

after(async () => {
  for (const w of workers.values()) w.kill('SIGTERM');
  await Promise.all([...workers.values()].map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once('exit', r)) : null)));
  await s?.close();
  redis?.kill('SIGTERM');
});

const convert = async (fields: Record<string, number>) => {
  const res = await fetch(`${s.url}/v1/conversions`, { method: 'POST', body: form({ source: fileBlob(SOURCE), reference: fileBlob(REFERENCE) }, fields) });
  assert.equal(res.status, 202);
  return (await json(res)).id as string;
};

run('two workers drain a batch; a killed worker\'s job is retried by the other; results equal the library', async (t) => {
  const health = await json(await fetch(`${s.url}/healthz`));
  assert.equal(health.queue.backend, 'redis');
  assert.equal(health.queue.workers, 2);

  // A batch of four.
  const seeds = [21, 22, 23, 24];
  const ids = await Promise.all(seeds.map((seed) => convert({ diffusion_steps: 3, seed })));
  const ends = await Promise.all(ids.map((id) => readEvents(`${s.url}/v1/conversions/${id}/events`).then((e) => e.at(-1)!.data)));
  for (const e of ends) assert.equal(e.state, 'succeeded', JSON.stringify(e.error));
  const used = new Set(ends.map((e) => e.worker));
  t.diagnostic(`batch ran on ${[...used].join(', ')}`);
  assert.deepEqual([...used].sort(), ['w1', 'w2'], 'both workers took jobs');

  // A long job; kill the worker that runs it.
  const long = await convert({ diffusion_steps: 40, seed: 31 });
  const events: { event: string; data: any }[] = [];
  const started = await readEvents(`${s.url}/v1/conversions/${long}/events`, {}, (e) => { events.push(e); return e.data.type === 'diffusion'; });
  void started;
  const victim = (await json(await fetch(`${s.url}/v1/conversions/${long}`))).worker as string;
  assert.ok(workers.has(victim), `running on ${victim}`);
  workers.get(victim)!.kill('SIGKILL');
  const after = await readEvents(`${s.url}/v1/conversions/${long}/events`);
  const end = after.at(-1)!.data;
  assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
  assert.notEqual(end.worker, victim);
  assert.ok(after.some((e) => e.event === 'state' && e.data.state === 'queued' && /stopped responding/.test(e.data.reason ?? '')), 'the job was put back in the queue');
  t.diagnostic(`job ${long} retried on ${end.worker} after ${victim} was killed`);

  // Results equal the library's (same seeds).
  const wav = (p: string) => { const w = readWav(new Uint8Array(readFileSync(p)), p); return { samples: toMono(w), sampleRate: w.sampleRate }; };
  const model = await SeedVc.load({ mirror: HUB, offline: true, cacheDir: join(s.dir, 'cache'), device: 'cpu', precision: 'fp32' });
  try {
    for (const [id, steps, seed] of [[ids[0], 3, 21], [long, 40, 31]] as const) {
      const lib = await model.convert(wav(SOURCE), wav(REFERENCE), { diffusionSteps: steps, seed });
      const ours = decodeWav(await (await fetch(`${s.url}/v1/conversions/${id}/audio`)).arrayBuffer()).samples;
      assert.equal(ours.length, lib.audio.length);
      assert.ok(ours.every((v, i) => v === lib.audio[i]), `job ${id} differs from the library`);
    }
  } finally {
    await model.dispose();
  }

  // Cancel through the queue: a running job stops.
  const c = await convert({ diffusion_steps: 200, seed: 41 });
  await readEvents(`${s.url}/v1/conversions/${c}/events`, {}, (e) => e.data.type === 'diffusion');
  const cancelled = await json(await fetch(`${s.url}/v1/conversions/${c}`, { method: 'DELETE' }));
  assert.equal(cancelled.state, 'cancelled');
  assert.ok(cancelled.progress.step < 200);
});

run('with --on-worker-lost fail, a killed worker\'s job fails with worker_lost (never stuck)', async () => {
  // Replace the workers by two that fail lost jobs instead of retrying them.
  for (const w of workers.values()) w.kill('SIGTERM');
  await Promise.all([...workers.values()].map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once('exit', r)) : null)));
  workers.clear();
  await Promise.all([startWorker('f1', ['--on-worker-lost', 'fail']), startWorker('f2', ['--on-worker-lost', 'fail'])]);
  const id = await convert({ diffusion_steps: 60, seed: 51 });
  await readEvents(`${s.url}/v1/conversions/${id}/events`, {}, (e) => e.data.type === 'diffusion');
  const victim = (await json(await fetch(`${s.url}/v1/conversions/${id}`))).worker as string;
  workers.get(victim)!.kill('SIGKILL');
  const end = (await readEvents(`${s.url}/v1/conversions/${id}/events`)).at(-1)!.data;
  assert.equal(end.state, 'failed');
  assert.equal(end.error.code, 'worker_lost');
  assert.match(end.error.message, /stopped \(killed or crashed\)/);
});

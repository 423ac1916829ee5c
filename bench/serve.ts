/**
 * Load benchmark of `seed-vc serve` (npm run bench -- --only serve): N concurrent clients submit
 * conversions on the tiny models of the golden hub mirror for a fixed time, each following its job's
 * events and fetching the audio. Reports throughput, job latency p50/p95 (submit to audio), health-check
 * latency while busy (p50/p99/max), RSS after warm-up vs at the end, and failed requests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from '../src/server/app.ts';

export interface ServeBenchOptions { clients: number; seconds: number; workers: number; steps: number }

export interface ServeBenchResult {
  clients: number; workers: number; diffusionSteps: number; seconds: number;
  jobs: number; throughputJobsPerS: number;
  jobLatencyMs: { p50: number; p95: number; max: number };
  healthLatencyMs: { p50: number; p99: number; max: number; samples: number };
  rssMiB: { afterWarmup: number; half: number; end: number; peak: number };
  failedRequests: number; requests: number;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

export async function benchServe(o: ServeBenchOptions, log: (s: string) => void): Promise<ServeBenchResult> {
  const shared = process.env.SEED_VC_SHARED ?? resolve(fileURLToPath(new URL('../..', import.meta.url)), 'shared');
  const golden = join(shared, 'golden');
  const source = new Uint8Array(readFileSync(join(golden, 'e2e', 'e2e_full_short', 'source.wav')));
  const reference = new Uint8Array(readFileSync(join(golden, 'e2e', 'e2e_full_short', 'reference.wav')));
  const dir = mkdtempSync(join(tmpdir(), 'seed-vc-bench-serve-'));
  const server = await createServer({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), workers: o.workers, queueSize: Math.max(64, o.clients * 2), resultTtlSeconds: 60,
    limits: { maxUploadBytes: 16 << 20, maxSourceSeconds: 60, maxReferenceSeconds: 60 },
    load: { mirror: join(golden, 'hub'), offline: true, cacheDir: join(dir, 'cache'), device: 'cpu', precision: 'fp32' },
  });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  let requests = 0;
  let failed = 0;
  const request = async (path: string, init?: RequestInit): Promise<Response | null> => {
    requests++;
    try {
      const r = await fetch(url + path, init);
      if (!r.ok) { failed++; await r.arrayBuffer().catch(() => {}); return null; }
      return r;
    } catch {
      failed++;
      return null;
    }
  };
  /** One conversion, submit to audio received; null when anything failed. */
  const job = async (seed: number): Promise<number | null> => {
    const t0 = performance.now();
    const f = new FormData();
    f.append('diffusion_steps', String(o.steps));
    f.append('seed', String(seed));
    f.append('source', new Blob([source]), 'source.wav');
    f.append('reference', new Blob([reference]), 'reference.wav');
    const r = await request('/v1/conversions', { method: 'POST', body: f });
    if (!r) return null;
    const { id } = await r.json() as { id: string };
    const ev = await request(`/v1/conversions/${id}/events`);
    if (!ev) return null;
    const text = await ev.text();
    if (!/"state":"succeeded"/.test(text.slice(text.lastIndexOf('event: end')))) { failed++; return null; }
    const audio = await request(`/v1/conversions/${id}/audio`);
    if (!audio) return null;
    await audio.arrayBuffer();
    await request(`/v1/conversions/${id}`, { method: 'DELETE' });
    return performance.now() - t0;
  };

  try {
    log(`warm-up (model load in ${o.workers} worker thread${o.workers > 1 ? 's' : ''})...`);
    await Promise.all(Array.from({ length: o.workers }, (_, i) => job(i)));
    requests = 0; failed = 0;
    const rssWarm = process.memoryUsage.rss();
    let peak = rssWarm;
    const rssTimer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 200);
    let rssHalf = 0;
    const halfTimer = setTimeout(() => { rssHalf = process.memoryUsage.rss(); }, (o.seconds * 1000) / 2);
    const deadline = performance.now() + o.seconds * 1000;
    const latencies: number[] = [];
    const health: number[] = [];
    let busy = true;
    const prober = (async () => {
      while (busy) {
        const t0 = performance.now();
        await request('/healthz').then((r) => r?.arrayBuffer());
        health.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    log(`${o.clients} clients for ${o.seconds} s, ${o.steps} diffusion steps per conversion (tiny models)...`);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
      let seed = 1000 * c;
      while (performance.now() < deadline) {
        const ms = await job(seed++);
        if (ms !== null) latencies.push(ms);
      }
    }));
    const elapsed = (performance.now() - t0) / 1000;
    busy = false;
    await prober;
    clearInterval(rssTimer);
    clearTimeout(halfTimer);
    const rssEnd = process.memoryUsage.rss();
    const MiB = 2 ** 20;
    return {
      clients: o.clients, workers: o.workers, diffusionSteps: o.steps, seconds: elapsed,
      jobs: latencies.length, throughputJobsPerS: latencies.length / elapsed,
      jobLatencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), max: Math.max(...latencies) },
      healthLatencyMs: { p50: pct(health, 50), p99: pct(health, 99), max: Math.max(...health), samples: health.length },
      rssMiB: { afterWarmup: rssWarm / MiB, half: rssHalf / MiB, end: rssEnd / MiB, peak: peak / MiB },
      failedRequests: failed, requests,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printServeBench(r: ServeBenchResult, log: (s: string) => void): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  log(`jobs              ${r.jobs} in ${f(r.seconds)} s: ${f(r.throughputJobsPerS, 2)} jobs/s (${r.clients} clients, ${r.workers} worker thread${r.workers > 1 ? 's' : ''}, ${r.diffusionSteps} steps)`);
  log(`job latency       p50 ${f(r.jobLatencyMs.p50, 0)} ms, p95 ${f(r.jobLatencyMs.p95, 0)} ms, max ${f(r.jobLatencyMs.max, 0)} ms (submit to audio, queueing included)`);
  log(`health while busy p50 ${f(r.healthLatencyMs.p50)} ms, p99 ${f(r.healthLatencyMs.p99)} ms, max ${f(r.healthLatencyMs.max)} ms over ${r.healthLatencyMs.samples} checks`);
  log(`RSS               ${f(r.rssMiB.afterWarmup, 0)} MiB after warm-up, ${f(r.rssMiB.half, 0)} MiB half-way, ${f(r.rssMiB.end, 0)} MiB at the end (peak ${f(r.rssMiB.peak, 0)} MiB)`);
  log(`failed requests   ${r.failedRequests} of ${r.requests}`);
}

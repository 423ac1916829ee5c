import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { GOLDEN } from '../helpers/golden.ts';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.ts';

/** A read that shows no progress for this long is a hang. */
const HANG_MS = 10_000;

/** Runs a fuzz job in a worker thread, which is terminated if one read takes longer than HANG_MS. */
function runJob(job: FuzzJob): Promise<Extract<FuzzMessage, { type: 'done' }>[]> {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./fuzz-worker.ts', import.meta.url).href;
  // the worker registers tsx itself: --import hooks do not reach a worker's entry module on Node 20
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Promise((resolve, reject) => {
    const results: Extract<FuzzMessage, { type: 'done' }>[] = [];
    const worker = new Worker(boot, { eval: true, execArgv: [], workerData: job });
    let current = 'startup';
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`${job.label}: read of mutation ${current} did not finish within ${HANG_MS} ms`));
      }, HANG_MS);
    };
    arm();
    worker.on('message', (m: FuzzMessage) => {
      arm();
      if (m.type === 'start') current = `#${m.i} (${m.desc})`;
      else if (m.type === 'done') results.push(m);
      else { clearTimeout(timer); void worker.terminate(); resolve(results); }
    });
    worker.on('error', (e) => { clearTimeout(timer); reject(e); });
    worker.on('exit', (code) => { clearTimeout(timer); if (results.length < job.count) reject(new Error(`${job.label}: worker exited (${code}) during ${current}`)); });
  });
}

function verdict(job: FuzzJob, results: Extract<FuzzMessage, { type: 'done' }>[]): void {
  assert.equal(results.length, job.count);
  const other = results.filter((r) => r.outcome === 'other');
  assert.deepEqual(other.map((r) => `#${r.i} ${r.desc}: ${r.message}`), [], `${job.label}: reads that threw something other than CheckpointError`);
  for (const r of results) {
    // zero-copy views cost nothing; copies and inflated entries are bounded by the input size
    assert.ok(r.grew <= 3 * r.size + (4 << 20), `${job.label} #${r.i} ${r.desc}: ArrayBuffers grew by ${r.grew} bytes for a ${r.size}-byte input`);
    assert.ok(r.ms < HANG_MS, `${job.label} #${r.i}: ${r.ms} ms`);
  }
  const ok = results.filter((r) => r.outcome === 'ok').length;
  const slowest = Math.max(...results.map((r) => r.ms));
  console.log(`# ${job.label}: ${job.count} mutations, ${ok} still load, ${job.count - ok} CheckpointError, slowest read ${slowest.toFixed(1)} ms`);
  assert.ok(ok > 0 && ok < job.count, 'the mutations exercise both outcomes');
}

test('mutation fuzz of a torch.save checkpoint (HiFT): only CheckpointError, bounded time and memory', { timeout: 120_000 }, async () => {
  const job: FuzzJob = { path: join(GOLDEN, 'models/hift_tiny/hift_random.pt'), label: 'hift_random.pt', seed: 1, count: 400, head: 34_000, tail: 24_000 };
  verdict(job, await runJob(job));
});

test('mutation fuzz of a safetensors file (Whisper encoder): only CheckpointError, bounded time and memory', { timeout: 120_000 }, async () => {
  const job: FuzzJob = { path: join(GOLDEN, 'hub/openai/whisper-small/model.safetensors'), label: 'model.safetensors', seed: 2, count: 200, head: 4_000, tail: 64 };
  verdict(job, await runJob(job));
});

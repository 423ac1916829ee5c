/**
 * Mutation fuzz: seeded random damage to valid files of every container. Each mutant must either decode
 * to sane, finite audio or be refused with an AudioFormatError naming it: never another error type,
 * never a decode slower than TIME_BUDGET_MS, never a hang. Decoding runs in a worker (fuzz-worker.ts)
 * so that a hang (a synchronous loop in a wasm decoder) can be detected and the worker killed; every
 * report carries the file, mutant index and recipe, and the seed replays it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodeWav } from '../../src/core/audio/wav.ts';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.ts';
import { fixtureChannel, int16ToFloat } from './signals.ts';

const SEED = Number(process.env.AUDIO_FUZZ_SEED ?? 20240611);
const MUTANTS_PER_FILE = Number(process.env.AUDIO_FUZZ_MUTANTS ?? 120);
/**
 * Hang detection, not a speed target: a decode of these sub-second files takes milliseconds, so a
 * mutant over this budget is stuck in a loop; the bound is generous because CI machines are shared and
 * a 2 s budget failed there on scheduling noise alone.
 */
const TIME_BUDGET_MS = 15_000;
/** Silence longer than this from the worker means a decode is stuck (the budget, plus worker start-up). */
const WATCHDOG_MS = 30_000;

function files(): FuzzJob['files'] {
  const fx = (name: string) => ({ name, bytes: new Uint8Array(readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'audio', name))) });
  const tenth = (c: number) => int16ToFloat(fixtureChannel(c, 8000)).subarray(0, 800);
  return [
    { name: 'sine-pcm16.wav', bytes: encodeWav([tenth(0), tenth(1)], 8000) },
    { name: 'sine-float32.wav', bytes: encodeWav(tenth(0), 8000, { format: 'float32' }) },
    fx('sine440_16k_stereo.flac'),
    fx('sine440_44k_stereo.ogg'),
    fx('sine440_48k_mono.opus'),
    fx('sine440_44k_mono.mp3'),
    fx('sine440_16k_mono_noid3.mp3'),
  ];
}

/** Runs the job in a worker; resolves with every report, or rejects naming the mutant that hung. */
function runWorker(job: FuzzJob): Promise<FuzzMessage[]> {
  // The worker needs tsx's hooks before it loads TypeScript; an eval'd bootstrap registers them first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./fuzz-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: job });
  const reports: FuzzMessage[] = [];
  let current: FuzzMessage | undefined;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`decode hung (no report for ${WATCHDOG_MS} ms) at ${JSON.stringify(current)}, seed ${job.seed}`));
      }, WATCHDOG_MS);
    };
    arm();
    worker.on('message', (m: FuzzMessage) => {
      arm();
      reports.push(m);
      if (m.kind === 'start') current = m;
      if (m.kind === 'finished') { clearTimeout(timer); void worker.terminate(); resolve(reports); }
    });
    worker.on('error', (e) => { clearTimeout(timer); reject(new Error(`worker died at ${JSON.stringify(current)}: ${e.stack ?? e}`)); });
    worker.on('exit', (code) => { clearTimeout(timer); reject(new Error(`worker exited (${code}) at ${JSON.stringify(current)}`)); });
  });
}

test(`mutation fuzz: ${MUTANTS_PER_FILE} mutants of each of 7 files decode cleanly or throw AudioFormatError`, { timeout: 300_000 }, async () => {
  const job: FuzzJob = { files: files(), mutantsPerFile: MUTANTS_PER_FILE, seed: SEED };
  const reports = await runWorker(job);
  const done = reports.filter((m): m is Extract<FuzzMessage, { kind: 'done' }> => m.kind === 'done');
  assert.equal(done.length, job.files.length * MUTANTS_PER_FILE);
  const starts = new Map(reports.filter((m) => m.kind === 'start').map((m) => [`${m.file}#${m.index}`, m.recipe]));
  const where = (m: { file: string; index: number }) => `${m.file} mutant ${m.index} (${starts.get(`${m.file}#${m.index}`)}, seed ${SEED})`;
  for (const m of done) {
    assert.notEqual(m.outcome, 'bad', `${where(m)}: ${m.detail}`);
    assert.ok(m.ms < TIME_BUDGET_MS, `${where(m)} took ${m.ms.toFixed(0)} ms`);
  }
  // the fuzz is only worth something if it hits both sides of the line for every container
  for (const { name } of job.files) {
    const mine = done.filter((m) => m.file === name);
    assert.ok(mine.some((m) => m.outcome === 'decoded'), `${name}: no mutant decoded`);
    assert.ok(mine.some((m) => m.outcome === 'rejected'), `${name}: no mutant was rejected`);
  }
});

/**
 * The abuse suite: each hostile input (duration and rate bombs, damaged streams, pickle memo DAGs, zip
 * bombs, overlapping safetensors, CLI runs with them) goes through the real reader in a child process
 * (run-case.ts), which reports the error, the wall time and its peak resident memory. Every case must
 * end in its typed error, well within TIME_LIMIT_MS and RSS_LIMIT_KB, having written nothing but what
 * the case itself put in its scratch folder. Today's bounds make each of these cost milliseconds and
 * megabytes; without them they cost gigabytes (Opus hour: 2.1 GB peak; Vorbis hour: 1.3 GB of samples; zip bomb: 4.3 GB), hours
 * (pickle DAG: 2^40 paths) or a silent wrong result (1 Hz WAV, flipped FLAC bit, symlinked input).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import { wavAtRate } from './hostile-audio.ts';

/** Generous: every case takes well under 2 s here; this only catches work that grows with the bomb. */
const TIME_LIMIT_MS = 20_000;
/** A child that is still running after this is killed (a hang). */
const KILL_MS = 60_000;
/** Peak RSS of the child: Node + tsx + the decoders is ~80-140 MB; every bomb, unbounded, needs > 700 MB. */
const RSS_LIMIT_KB = 320 * 1024;

interface Report { case: string; error: { name: string; code?: string; message: string } | null; result: unknown; ms: number; rssBeforeKb: number; maxRssKb: number }

interface Case {
  name: string;
  /** Expected error class (or `exit 1` for the CLI), and its message; null: must finish without error. */
  error: { name: string; message: RegExp } | null;
  /** Files the scratch folder holds afterwards (relative paths, sorted): only what the case created. */
  files: string[];
  result?: unknown;
}

const CASES: Case[] = [
  { name: 'opus-hour', error: { name: 'AudioLimitError', message: /^hour\.opus: the Opus packets hold 1 h 0 min \(3600 s\) of audio, more than the limit of 30 min/ }, files: [] },
  { name: 'opus-3-hours', error: { name: 'AudioLimitError', message: /^three-hours\.opus: the Opus packets hold 3 h 0 min/ }, files: [] },
  { name: 'vorbis-hour', error: { name: 'AudioLimitError', message: /^hour\.ogg: the Vorbis packets hold at least 30 min .*of audio, more than the limit of 30 min/ }, files: [] },
  { name: 'flac-hour', error: { name: 'AudioLimitError', message: /^hour\.flac: the FLAC frames hold at least 30 min .*of audio, more than the limit of 30 min/ }, files: [] },
  { name: 'wav-1hz', error: { name: 'AudioLimitError', message: /^one-hz\.wav: the fmt chunk declares a sample rate of 1 Hz; accepted: 4000 to 384000 Hz/ }, files: [] },
  { name: 'flac-flipped-bit', error: { name: 'AudioFormatError', message: /^flipped\.flac: damaged or truncated FLAC stream: 3456 samples \(0\.216 s\) decoded, STREAMINFO declares 8000/ }, files: [] },
  { name: 'pickle-dag-40', error: null, result: '0 tensors', files: [] },
  { name: 'pickle-dag-40-tensors', error: { name: 'CheckpointError', message: /^dag40-tensors\.pth: the dict at '(a\.){39}b' is the same object as the one at '(a\.){39}a'/ }, files: [] },
  { name: 'zip-deflate-4x1GiB', error: { name: 'CheckpointError', message: /^bomb\.pth: zip: deflated entries inflate to more than 268435456 bytes in total/ }, files: [] },
  { name: 'safetensors-overlap-20k', error: { name: 'CheckpointError', message: /^overlap\.safetensors: tensors 't0' \[1, 65537\) and 't1' \[1, 65537\) overlap/ }, files: [] },
  { name: 'cli-wav-1hz', error: { name: 'exit 1', message: /^seed-vc: error: .*one-hz\.wav: the fmt chunk declares a sample rate of 1 Hz/ }, files: ['one-hz.wav', 'ref.wav'] },
  { name: 'cli-opus-hour', error: { name: 'exit 1', message: /^seed-vc: error: .*hour\.opus: the Opus packets hold 1 h 0 min/ }, files: ['hour.opus', 'ref.wav'] },
  { name: 'cli-symlinked-input', error: { name: 'exit 1', message: /^seed-vc: error: refusing to write the output over an input file: .*real\/src\.wav$/ }, files: ['link', 'link/src.wav', 'real', 'real/src.wav', 'ref.wav'] },
];

function runCase(name: string, scratch: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(PROJECT_ROOT, 'test', 'abuse', 'run-case.ts'), name, scratch], {
      cwd: scratch, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', SEED_VC_CACHE: '', SEED_VC_HUB_MIRROR: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, KILL_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`${name}: child ended with ${signal ? `${signal} (killed after ${KILL_MS} ms: a hang, or out of memory)` : `code ${code}`}: ${err.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as Report);
    });
  });
}

/** Every path under `dir`, relative and sorted (a symlinked folder's files are listed under it too). */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((p) => relative(dir, join(dir, p))).sort();
}

test(`abuse suite: ${CASES.length} hostile inputs end in typed errors, in bounded time and memory, writing nothing`, { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'seed-vc-abuse-'));
  try {
    const reports = new Map<string, Report>();
    // two children at a time (CI has two cores)
    const queue = [...CASES];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const scratch = mkdtempSync(join(root, `${c.name}-`));
        reports.set(c.name, await runCase(c.name, scratch));
        assert.deepEqual(listing(scratch), c.files, `${c.name}: files left in the scratch folder`);
        if (c.name === 'cli-symlinked-input') {
          assert.deepEqual(new Uint8Array(readFileSync(join(scratch, 'real', 'src.wav'))), wavAtRate(16000, 16000), 'the input is untouched');
        }
      }
    };
    await Promise.all([worker(), worker()]);
    for (const c of CASES) {
      const r = reports.get(c.name)!;
      console.log(`# ${c.name}: ${r.error ? r.error.name : `ok (${r.result})`} in ${r.ms.toFixed(0)} ms, peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB`);
      if (c.error) {
        assert.ok(r.error, `${c.name}: expected ${c.error.name}, got no error (${r.result})`);
        assert.equal(r.error.name, c.error.name, `${c.name}: ${r.error.message}`);
        assert.match(r.error.message, c.error.message, c.name);
      } else {
        assert.equal(r.error, null, `${c.name}: ${r.error?.message}`);
        assert.equal(r.result, c.result);
      }
      assert.ok(r.ms < TIME_LIMIT_MS, `${c.name}: ${r.ms.toFixed(0)} ms`);
      assert.ok(r.maxRssKb < RSS_LIMIT_KB, `${c.name}: peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MiB`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * Worker side of fuzz.test.ts: applies seeded mutations to a checkpoint and reads each one, reporting
 * before every read (so the parent can time-box it) and after it (outcome, time, ArrayBuffer growth).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { loadStateDict } from '../../src/core/checkpoint/state-dict.ts';
import { CheckpointError } from '../../src/core/errors.ts';
import { rng } from './fixtures.ts';

export interface FuzzJob { path: string; label: string; seed: number; count: number; head: number; tail: number }
export type FuzzMessage =
  | { type: 'start'; i: number; desc: string }
  | { type: 'done'; i: number; desc: string; outcome: 'ok' | 'checkpoint' | 'other'; message: string; ms: number; grew: number; size: number }
  | { type: 'end' };

const job = workerData as FuzzJob;
const original = new Uint8Array(readFileSync(job.path));
const post = (m: FuzzMessage) => parentPort!.postMessage(m);

/** One seeded mutation of `src`: byte flips, truncation, splices, insertions/deletions or smashed 32-bit fields. */
function mutate(src: Uint8Array, seed: number): { bytes: Uint8Array; desc: string } {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const len = src.length;
  // bias towards the structural parts: the pickle / JSON header at the start, the central directory at the end
  const pos = () => {
    const where = r();
    if (where < 0.4) return int(Math.min(len, job.head));
    if (where < 0.8) return len - 1 - int(Math.min(len, job.tail));
    return int(len);
  };
  const kind = int(5);
  switch (kind) {
    case 0: {
      const b = src.slice();
      const n = 1 + int(8);
      const at: number[] = [];
      for (let k = 0; k < n; k++) { const p = pos(); at.push(p); b[p] ^= 1 + int(255); }
      return { bytes: b, desc: `flip ${n} bytes at ${at.join(',')}` };
    }
    case 1: {
      const n = int(len);
      return { bytes: src.slice(0, n), desc: `truncate to ${n}` };
    }
    case 2: {
      const b = src.slice();
      const from = pos();
      const to = pos();
      const n = 1 + int(64);
      b.set(src.subarray(from, Math.min(len, from + n)).subarray(0, Math.max(0, len - to)), to);
      return { bytes: b, desc: `copy ${n} bytes ${from} -> ${to}` };
    }
    case 3: {
      const at = pos();
      const n = 1 + int(32);
      if (r() < 0.5) {
        const b = new Uint8Array(len + n);
        b.set(src.subarray(0, at));
        for (let k = 0; k < n; k++) b[at + k] = int(256);
        b.set(src.subarray(at), at + n);
        return { bytes: b, desc: `insert ${n} bytes at ${at}` };
      }
      const b = new Uint8Array(Math.max(0, len - n));
      b.set(src.subarray(0, at).subarray(0, b.length));
      if (at + n < len) b.set(src.subarray(at + n), at);
      return { bytes: b, desc: `delete ${n} bytes at ${at}` };
    }
    default: {
      const b = src.slice();
      const p = Math.min(pos(), len - 4);
      const values = [0, 0xffffffff, 0x7fffffff, 0x80000000, len, len + 1, 0xffff, int(2 ** 32)];
      const v = values[int(values.length)];
      new DataView(b.buffer).setUint32(p, v, true);
      return { bytes: b, desc: `u32 ${v} at ${p}` };
    }
  }
}

for (let i = 0; i < job.count; i++) {
  const { bytes, desc } = mutate(original, job.seed * 100003 + i);
  post({ type: 'start', i, desc });
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let outcome: 'ok' | 'checkpoint' | 'other' = 'ok';
  let message = '';
  let result: unknown;
  try {
    result = loadStateDict(bytes, job.label);
  } catch (e) {
    outcome = e instanceof CheckpointError && e.message.startsWith(`${job.label}: `) ? 'checkpoint' : 'other';
    message = `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  const ms = performance.now() - t0;
  // measured while the result is still referenced, so everything the read kept is counted
  const grew = process.memoryUsage().arrayBuffers - before;
  void result;
  post({ type: 'done', i, desc, outcome, message, ms, grew, size: bytes.length });
}
post({ type: 'end' });

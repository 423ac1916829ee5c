/**
 * The in-process job queue: a bounded FIFO in front of a pool of worker threads (thread.ts), each
 * keeping its models warm. A worker that dies (a crash, an out-of-memory kill, process.exit) fails its
 * task with a clear error and is replaced; the server keeps serving.
 */
import { Worker } from 'node:worker_threads';
import type { RunnerOptions } from './runner.ts';
import type { FromWorker, ToWorker } from './thread.ts';
import { type JobQueue, QueueFullError, type QueueStats, type Task, type TaskEvent } from './types.ts';

export interface LocalQueueOptions {
  workers: number;
  /** Tasks that may wait (beyond the running ones) before submit answers "queue full". */
  capacity: number;
  runner: RunnerOptions;
  /** A cancelled task whose worker has not stopped after this long gets its worker terminated (ms). */
  cancelGraceMs?: number;
  /** Fault injection for tests (see thread.ts). */
  fault?: string;
  log?: (line: string) => void;
}

interface Slot {
  name: string;
  worker: Worker;
  ready: boolean;
  task: Task | null;
  /** Set while a cancel is pending on this slot's task. */
  cancelTimer?: NodeJS.Timeout;
}

/** The worker entry: thread.ts through tsx's loader when running from sources, thread.js when built. */
function spawnWorker(data: unknown): Worker {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js', import.meta.url).href;
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry), { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

export class LocalQueue implements JobQueue {
  readonly backend = 'threads';
  private readonly waiting: Task[] = [];
  private readonly slots: Slot[] = [];
  private readonly listeners: ((id: string, e: TaskEvent) => void)[] = [];
  private closed = false;
  private spawned = 0;
  /** Recent task durations (ms), for Retry-After. */
  private readonly durations: number[] = [];
  private readonly started = new Map<string, number>();

  constructor(private readonly o: LocalQueueOptions) {
    for (let i = 0; i < Math.max(1, o.workers); i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const name = `worker-${++this.spawned}`;
    const worker = spawnWorker({ ...this.o.runner, name, fault: this.o.fault });
    const slot: Slot = { name, worker, ready: false, task: null };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') { slot.ready = true; this.dispatch(); return; }
      const done = m.event.type === 'succeeded' || m.event.type === 'failed' || m.event.type === 'cancelled';
      if (done && slot.task?.id === m.id) this.finish(slot);
      this.emit(m.id, m.event);
      if (done) this.dispatch();
    });
    worker.on('error', (e) => this.o.log?.(`${name} error: ${e.message}`));
    worker.on('exit', (code) => this.lost(slot, code));
    return slot;
  }

  /** A worker ended: fail its task, replace it (unless shutting down). */
  private lost(slot: Slot, code: number): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    const task = slot.task;
    clearTimeout(slot.cancelTimer);
    const wasCancelled = slot.cancelTimer !== undefined;
    this.slots.splice(i, 1);
    if (this.closed) return;
    this.o.log?.(`${slot.name} exited with code ${code}${task ? ` while running ${task.id}` : ''}; starting a replacement`);
    this.slots.push(this.spawn());
    if (task) {
      this.started.delete(task.id);
      this.emit(task.id, wasCancelled ? { type: 'cancelled' } : {
        type: 'failed',
        error: { code: 'worker_crashed', message: `the conversion worker stopped unexpectedly (exit code ${code}) while running this job; the job was not completed and the worker was replaced — retry it` },
      });
    }
  }

  private finish(slot: Slot): void {
    const t = slot.task!;
    const s = this.started.get(t.id);
    if (s !== undefined) {
      this.durations.push(performance.now() - s);
      if (this.durations.length > 20) this.durations.shift();
      this.started.delete(t.id);
    }
    clearTimeout(slot.cancelTimer);
    slot.cancelTimer = undefined;
    slot.task = null;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.task || this.waiting.length === 0) continue;
      const task = this.waiting.shift()!;
      slot.task = task;
      this.started.set(task.id, performance.now());
      slot.worker.postMessage({ type: 'run', task } satisfies ToWorker);
    }
  }

  private emit(id: string, e: TaskEvent): void {
    for (const l of this.listeners) l(id, e);
  }

  async submit(task: Task): Promise<void> {
    if (this.closed) throw new Error('the queue is closed');
    if (this.waiting.length >= this.o.capacity) throw new QueueFullError(this.o.capacity, this.retryAfter());
    this.waiting.push(task);
    this.dispatch();
  }

  /** Seconds until a queue place is likely free: a waiting task starts when a running one ends, about one mean task time per worker. */
  private retryAfter(): number {
    const mean = this.durations.length ? this.durations.reduce((a, b) => a + b, 0) / this.durations.length : 10_000;
    return Math.max(1, Math.ceil(mean / 1000 / this.slots.length));
  }

  /** Position of a waiting task (0 = next), or null. */
  position(id: string): number | null {
    const i = this.waiting.findIndex((t) => t.id === id);
    return i < 0 ? null : i;
  }

  async cancel(id: string): Promise<boolean> {
    const i = this.waiting.findIndex((t) => t.id === id);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.emit(id, { type: 'cancelled' });
      return true;
    }
    const slot = this.slots.find((s) => s.task?.id === id);
    if (!slot) return false;
    if (slot.cancelTimer) return true;
    slot.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
    // Cancellation lands between diffusion steps; a worker stuck inside one long call is stopped.
    slot.cancelTimer = setTimeout(() => { void slot.worker.terminate(); }, this.o.cancelGraceMs ?? 30_000);
    return true;
  }

  async stats(): Promise<QueueStats> {
    return {
      queued: this.waiting.length,
      running: this.slots.filter((s) => s.task).length,
      capacity: this.o.capacity,
      workers: this.slots.length,
      backend: this.backend,
    };
  }

  onEvent(listener: (id: string, event: TaskEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.waiting.splice(0)) this.emit(t.id, { type: 'cancelled' });
    for (const s of this.slots) if (s.task) this.emit(s.task.id, { type: 'cancelled' });
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}

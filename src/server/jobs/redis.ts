/**
 * Scale-out: the job queue on Redis through BullMQ. `seed-vc serve --queue redis://…` submits tasks here
 * instead of to local threads, and any number of `seed-vc worker --queue … --data-dir DIR` processes (on
 * any machines that share DIR and reach Redis) take them. Each worker runs its tasks in a worker thread
 * (so BullMQ's lock renewal keeps running while ONNX Runtime computes), reports the library's progress
 * events through the job's progress, and listens for cancellations on a pub/sub channel. A worker that
 * dies loses its lock; BullMQ's stalled-job check then puts the job back in the queue (retry) or fails it.
 */
import { type ConnectionOptions, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { LocalQueue } from './local.ts';
import type { RunnerOptions } from './runner.ts';
import { type JobQueue, type Outcome, QueueFullError, type QueueStats, type Task, type TaskError, type TaskEvent } from './types.ts';

export const QUEUE_NAME = 'seed-vc';
const CANCEL_CHANNEL = 'seed-vc:cancel';
const cancelKey = (id: string) => `seed-vc:cancelled:${id}`;
const CANCELLED = 'seed-vc:cancelled';

/** ioredis options from redis://[:password@]host[:port][/db] (BullMQ needs maxRetriesPerRequest null). */
export function redisOptions(url: string): RedisOptions & ConnectionOptions {
  let u: URL;
  try { u = new URL(url); } catch { throw new Error(`--queue takes redis://HOST:PORT, got '${url}'`); }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue takes redis://HOST:PORT (or rediss://), got '${url}'`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  } as RedisOptions & ConnectionOptions;
}

/** Progress messages a worker puts on a job: its name first, then the task's events. */
type WireProgress = { started: string } | { event: Extract<TaskEvent, { type: 'progress' }>['event'] };

export class RedisQueue implements JobQueue {
  readonly backend = 'redis';
  private readonly listeners: ((id: string, e: TaskEvent) => void)[] = [];

  private constructor(
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly pub: Redis,
    private readonly capacity: number,
  ) {
    events.on('progress', ({ jobId, data }) => {
      const d = data as WireProgress;
      if (d && typeof d === 'object' && 'started' in d) this.emit(jobId, { type: 'started', worker: d.started });
      else if (d && typeof d === 'object' && 'event' in d) this.emit(jobId, { type: 'progress', event: d.event });
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const outcome = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as Outcome;
      this.emit(jobId, { type: 'succeeded', outcome });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      if (failedReason === CANCELLED) { this.emit(jobId, { type: 'cancelled' }); return; }
      this.emit(jobId, { type: 'failed', error: parseError(failedReason) });
    });
    events.on('stalled', ({ jobId }) => this.emit(jobId, { type: 'requeued', reason: 'its worker stopped responding; the job is back in the queue' }));
  }

  static async connect(url: string, o: { capacity: number }): Promise<RedisQueue> {
    const connection = redisOptions(url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    const pub = new Redis(connection);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new RedisQueue(queue, events, pub, o.capacity);
  }

  private emit(id: string, e: TaskEvent): void {
    for (const l of this.listeners) l(id, e);
  }

  async submit(task: Task): Promise<void> {
    const waiting = await this.queue.getWaitingCount();
    if (waiting >= this.capacity) throw new QueueFullError(this.capacity, Math.max(1, Math.ceil(waiting / 2)));
    await this.queue.add(task.kind, task, { jobId: task.id, attempts: 1, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 24 * 3600 } });
  }

  async cancel(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
    // Remembered for a worker that takes the job just now; announced to the one running it.
    await this.pub.set(cancelKey(id), '1', 'EX', 24 * 3600);
    if (state === 'active') {
      await this.pub.publish(CANCEL_CHANNEL, id);
    } else {
      try {
        await job.remove();
        this.emit(id, { type: 'cancelled' });
      } catch {
        await this.pub.publish(CANCEL_CHANNEL, id); // became active meanwhile
      }
    }
    return true;
  }

  async stats(): Promise<QueueStats> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
    const workers = await this.queue.getWorkers();
    return { queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), running: c.active ?? 0, capacity: this.capacity, workers: workers.length, backend: this.backend };
  }

  onEvent(listener: (id: string, event: TaskEvent) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
    this.pub.disconnect();
  }
}

function parseError(reason: string): TaskError {
  try {
    const e = JSON.parse(reason) as TaskError;
    if (typeof e.code === 'string' && typeof e.message === 'string') return e;
  } catch { /* not ours */ }
  if (/stalled more than allowable limit/.test(reason)) {
    return { code: 'worker_lost', message: 'the worker running this job stopped (killed or crashed) and the job was not retried (--on-worker-lost fail)' };
  }
  return { code: 'internal', message: reason };
}

export interface RedisWorkerOptions {
  url: string;
  name: string;
  runner: RunnerOptions;
  /** Tasks run at once (one worker thread each). */
  concurrency: number;
  /** A job whose worker died: back in the queue once ('retry') or failed ('fail'). */
  onWorkerLost: 'retry' | 'fail';
  /** BullMQ lock duration (ms): how soon a dead worker's job is noticed. */
  lockMs: number;
  log?: (line: string) => void;
}

/** A `seed-vc worker`: takes tasks from Redis and runs them in its own worker threads. */
export async function startRedisWorker(o: RedisWorkerOptions): Promise<{ close(): Promise<void> }> {
  const connection = redisOptions(o.url);
  const local = new LocalQueue({ workers: o.concurrency, capacity: o.concurrency, runner: o.runner, log: o.log });
  const pending = new Map<string, { resolve: (v: Outcome) => void; reject: (e: Error) => void; progress: (p: WireProgress) => void }>();
  local.onEvent((id, e) => {
    const p = pending.get(id);
    if (!p) return;
    if (e.type === 'started') p.progress({ started: o.name });
    else if (e.type === 'progress') p.progress({ event: e.event });
    else if (e.type === 'succeeded') p.resolve(e.outcome);
    else if (e.type === 'failed') p.reject(new UnrecoverableError(JSON.stringify(e.error)));
    else if (e.type === 'cancelled') p.reject(new UnrecoverableError(CANCELLED));
  });
  const redis = new Redis(connection);
  const sub = new Redis(connection);
  await sub.subscribe(CANCEL_CHANNEL);
  sub.on('message', (_channel, id: string) => { if (pending.has(id)) void local.cancel(id); });

  const worker = new Worker(QUEUE_NAME, async (job) => {
    const task = job.data as Task;
    if (await redis.exists(cancelKey(task.id))) throw new UnrecoverableError(CANCELLED);
    o.log?.(`${o.name}: ${task.kind} ${task.id}${job.attemptsStarted > 1 || job.stalledCounter > 0 ? ' (retry after a lost worker)' : ''}`);
    return new Promise<Outcome>((resolve, reject) => {
      pending.set(task.id, {
        resolve: (v) => { pending.delete(task.id); resolve(v); },
        reject: (e) => { pending.delete(task.id); reject(e); },
        progress: (p) => { void job.updateProgress(p as object).catch(() => {}); },
      });
      local.submit(task).catch((e) => { pending.delete(task.id); reject(e as Error); });
    });
  }, {
    connection, name: o.name, concurrency: o.concurrency, autorun: true,
    lockDuration: o.lockMs, stalledInterval: o.lockMs, maxStalledCount: o.onWorkerLost === 'retry' ? 1 : 0,
  });
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close(true);
      await local.close();
      sub.disconnect();
      redis.disconnect();
    },
  };
}

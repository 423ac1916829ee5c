/**
 * The server's view of every job: state, progress, timings, result and error, updated from the queue's
 * events; listeners (Server-Sent Events streams) get each event as it happens. Finished jobs and their
 * files expire after the result TTL.
 */
import type { GuardEvent } from '../core/pipeline/guard.ts';
import type { Job, JobState, Progress } from './schemas.ts';
import type { DataStore } from './store.ts';
import type { Outcome, Task, TaskError, TaskEvent, TaskProgress } from './jobs/types.ts';

/** What an SSE stream receives: a named event and its JSON data. */
export interface StreamMessage { event: 'state' | 'progress' | 'end'; data: unknown }

export interface JobRecord {
  task: Task;
  /** The options as the client gave them, after defaults (snake_case), for GET. */
  options: Record<string, unknown>;
  state: JobState;
  created: number;
  started: number | null;
  finished: number | null;
  progress: Progress;
  outcome: Outcome | null;
  error: TaskError | null;
  guard: GuardEvent[];
  /** The worker that runs (or ran) the job. */
  worker: string | null;
  listeners: Set<(m: StreamMessage) => void>;
  /** Tells waiters the job ended. */
  ended: Promise<void>;
  end: () => void;
}

const FINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const isFinal = (s: JobState) => FINAL.includes(s);

const STAGE_SPAN: Record<string, [number, number]> = {
  load: [0, 0.05], content: [0.05, 0.1], speaker: [0.1, 0.12], f0: [0.12, 0.14], length_regulator: [0.14, 0.15],
};
const SYNTH_START = 0.15;

export class JobRegistry {
  private readonly jobs = new Map<string, JobRecord>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly store: DataStore, private readonly ttlMs: number) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1000, ttlMs / 4)));
    this.sweeper.unref();
  }

  add(task: Task, options: Record<string, unknown>): JobRecord {
    let end!: () => void;
    const ended = new Promise<void>((r) => { end = r; });
    const rec: JobRecord = {
      task, options, state: 'queued', created: Date.now(), started: null, finished: null,
      progress: { stage: null, fraction: 0, window: null, windows: null, step: null, steps: null },
      outcome: null, error: null, guard: [], worker: null, listeners: new Set(), ended, end,
    };
    this.jobs.set(task.id, rec);
    return rec;
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  all(): JobRecord[] {
    return [...this.jobs.values()];
  }

  /** Jobs queued ahead of this one. */
  position(rec: JobRecord): number | null {
    if (rec.state !== 'queued') return null;
    let n = 0;
    for (const j of this.jobs.values()) if (j.state === 'queued' && j.created <= rec.created && j !== rec) n++;
    return n;
  }

  /** Applies one queue event to its job and tells the listeners. */
  apply(id: string, e: TaskEvent): void {
    const rec = this.jobs.get(id);
    if (!rec || isFinal(rec.state)) return;
    switch (e.type) {
      case 'started':
        rec.state = 'running';
        rec.started = Date.now();
        rec.worker = e.worker;
        this.send(rec, { event: 'state', data: { state: rec.state, worker: e.worker } });
        break;
      case 'requeued':
        rec.state = 'queued';
        rec.progress = { stage: null, fraction: 0, window: null, windows: null, step: null, steps: null };
        this.send(rec, { event: 'state', data: { state: rec.state, reason: e.reason } });
        break;
      case 'progress':
        this.progress(rec, e.event);
        this.send(rec, { event: 'progress', data: { ...e.event, fraction: rec.progress.fraction } });
        break;
      case 'succeeded':
        rec.outcome = e.outcome;
        if (e.outcome.kind === 'conversion') rec.guard = e.outcome.guard;
        rec.progress = { ...rec.progress, fraction: 1 };
        this.finish(rec, 'succeeded');
        break;
      case 'failed':
        rec.error = e.error;
        this.finish(rec, 'failed');
        break;
      case 'cancelled':
        this.finish(rec, 'cancelled');
        break;
    }
  }

  private progress(rec: JobRecord, e: TaskProgress): void {
    const p = rec.progress;
    if (e.type === 'load') {
      p.stage = e.status === 'start' ? 'load' : p.stage;
      p.fraction = Math.max(p.fraction, STAGE_SPAN.load[e.status === 'start' ? 0 : 1]);
    } else if (e.type === 'stage') {
      if (e.status === 'start') p.stage = e.stage;
      const span = STAGE_SPAN[e.stage];
      if (span) p.fraction = Math.max(p.fraction, span[e.status === 'start' ? 0 : 1]);
    } else if (e.type === 'diffusion') {
      Object.assign(p, { stage: 'diffusion', window: e.window, windows: e.windows, step: e.step, steps: e.steps });
      // Each DiT window: 80% diffusion steps, 20% vocoder.
      const per = (1 - SYNTH_START) / e.windows;
      p.fraction = Math.max(p.fraction, SYNTH_START + per * (e.window - 1 + 0.8 * (e.step / e.steps)));
    } else if (e.type === 'guard') {
      rec.guard.push({ stage: e.stage, window: e.window, reason: e.reason, action: e.action });
    } else if (e.type === 'ab') {
      p.stage = e.side ? `${e.side}:${e.phase}` : e.phase;
    }
  }

  private finish(rec: JobRecord, state: JobState): void {
    rec.state = state;
    rec.finished = Date.now();
    void this.store.removeUploads(rec.task.id);
    if (state !== 'succeeded') void this.store.removeResults(rec.task.id);
    this.send(rec, { event: 'state', data: { state, error: rec.error } });
    this.send(rec, { event: 'end', data: this.toJson(rec) });
    rec.listeners.clear();
    rec.end();
  }

  private send(rec: JobRecord, m: StreamMessage): void {
    for (const l of rec.listeners) l(m);
  }

  /** Removes a job and its files. */
  async remove(id: string): Promise<void> {
    this.jobs.delete(id);
    await this.store.removeUploads(id);
    await this.store.removeResults(id);
  }

  async sweep(now = Date.now()): Promise<void> {
    for (const [id, rec] of this.jobs) {
      if (rec.finished !== null && now - rec.finished > this.ttlMs) await this.remove(id);
    }
  }

  toJson(rec: JobRecord): Job {
    const id = rec.task.id;
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const base = rec.task.kind === 'ab' ? `/v1/ab/${id}` : `/v1/conversions/${id}`;
    const links: Record<string, string> = { self: base, events: `${base}/events` };
    if (rec.state === 'succeeded') {
      if (rec.task.kind === 'ab') Object.assign(links, { report: `${base}/report.html`, json: `${base}/report.json` });
      else links.audio = `${base}/audio`;
    }
    const o = rec.outcome;
    return {
      id,
      kind: rec.task.kind === 'ab' ? 'ab' : 'conversion',
      state: rec.state,
      created_at: iso(rec.created)!,
      started_at: iso(rec.started),
      finished_at: iso(rec.finished),
      queue_position: this.position(rec),
      worker: rec.worker,
      options: rec.options,
      progress: rec.progress,
      timings_ms: o?.kind === 'conversion' ? o.timings : null,
      rtf: o?.kind === 'conversion' ? o.rtf : null,
      seed: o?.kind === 'conversion' ? o.seed : rec.task.kind === 'conversion' ? rec.task.options.seed : rec.task.seed,
      guard: rec.guard,
      result: o?.kind === 'conversion' ? { sample_rate: o.sampleRate, samples: o.samples, seconds: o.seconds } : null,
      error: rec.error,
      links,
    };
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

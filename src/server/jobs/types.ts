/**
 * What travels between the HTTP server and whatever runs conversions (worker threads in this process,
 * or `seed-vc worker` processes behind a Redis queue): tasks in, events out. Paths inside a task are
 * relative to the data directory, so machines that mount the same data store at different places agree.
 */
import type { ModelSetId } from '../../core/models/catalog.ts';
import type { ConvertEvent } from '../../core/pipeline/convert.ts';
import type { V2ConvertEvent } from '../../core/pipeline/v2/convert.ts';
import type { GuardEvent } from '../../core/pipeline/guard.ts';
import type { PrecisionRequest } from '../../core/precision.ts';

export interface ModelChoice {
  model?: ModelSetId | 'v2';
  f0Condition?: boolean;
  precision?: PrecisionRequest;
}

export interface ConversionTask {
  kind: 'conversion';
  id: string;
  /** Inputs and output, relative to the data directory. */
  source: string;
  reference: string;
  output: string;
  model: ModelChoice;
  options: {
    diffusionSteps: number;
    lengthAdjust: number;
    inferenceCfgRate: number;
    autoF0Adjust: boolean;
    semiToneShift: number;
    seed: number;
  };
  /** Seed-VC v2's options (with model 'v2'; the v1-only options above are then unused). */
  v2?: {
    intelligibilityCfgRate: number;
    similarityCfgRate: number;
    convertStyle: boolean;
    anonymizationOnly: boolean;
    topP: number;
    temperature: number;
    repetitionPenalty: number;
  };
}

export interface AbTask {
  kind: 'ab';
  id: string;
  source: string;
  reference: string;
  /** Report folder, relative to the data directory. */
  output: string;
  model: { model?: ModelSetId; f0Condition?: boolean };
  a: 'fp32' | 'fp16';
  b: 'fp32' | 'fp16';
  diffusionSteps: number;
  lengthAdjust: number;
  inferenceCfgRate: number;
  seed: number;
}

export type Task = ConversionTask | AbTask;

export interface ConversionOutcome {
  kind: 'conversion';
  sampleRate: number;
  samples: number;
  seconds: number;
  rtf: number;
  timings: Record<string, number>;
  seed: number | null;
  guard: GuardEvent[];
  device: string;
  precision: Record<string, string>;
}

export interface AbOutcome {
  kind: 'ab';
  /** A few headline numbers of the report (report.json has all). */
  summary: Record<string, number | string | null>;
}

export type Outcome = ConversionOutcome | AbOutcome;

/** Progress of a running task: the library's conversion events, plus model loading and A/B phases. */
export type TaskProgress =
  | ConvertEvent
  | V2ConvertEvent
  | { type: 'load'; status: 'start' | 'done'; ms?: number; cached?: boolean }
  | { type: 'ab'; side: 'a' | 'b' | null; phase: string };

export interface TaskError {
  code: string;
  message: string;
}

/** Events a queue backend reports about a task. */
export type TaskEvent =
  | { type: 'started'; worker: string }
  | { type: 'progress'; event: TaskProgress }
  | { type: 'succeeded'; outcome: Outcome }
  | { type: 'failed'; error: TaskError }
  | { type: 'cancelled' }
  /** The task went back to the queue (its worker was lost and it will be retried). */
  | { type: 'requeued'; reason: string };

export interface QueueStats {
  queued: number;
  running: number;
  capacity: number;
  workers: number;
  backend: string;
}

/**
 * Runs tasks somewhere. `submit` throws QueueFullError when the queue holds `capacity` waiting tasks;
 * every submitted task ends in exactly one of succeeded / failed / cancelled.
 */
export interface JobQueue {
  readonly backend: string;
  submit(task: Task): Promise<void>;
  /** Cancels a queued or running task; false when the queue does not know it (finished or unknown). */
  cancel(id: string): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /** Called for every event of every task. */
  onEvent(listener: (id: string, event: TaskEvent) => void): void;
  close(): Promise<void>;
}

export class QueueFullError extends Error {
  constructor(readonly capacity: number, readonly retryAfterSeconds: number) {
    super(`the queue is full (${capacity} waiting); retry in about ${retryAfterSeconds} s`);
    this.name = 'QueueFullError';
  }
}

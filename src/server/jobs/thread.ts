/**
 * A conversion worker thread of `seed-vc serve`: receives tasks from the pool (local.ts), runs them with
 * warm models (runner.ts) and posts progress back. onnxruntime's session.run blocks its thread, which
 * is why this is not the HTTP thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CancelledError, type RunnerOptions, TaskRunner, taskError } from './runner.ts';
import type { Task, TaskEvent } from './types.ts';

export type ToWorker = { type: 'run'; task: Task } | { type: 'cancel'; id: string };
export type FromWorker = { type: 'event'; id: string; event: TaskEvent } | { type: 'ready' };

const port = parentPort!;
const options = workerData as RunnerOptions & { name: string; fault?: string };
const runner = new TaskRunner({ ...options, log: (line) => console.error(`[${options.name}] ${line}`) });
const running = new Map<string, AbortController>();
const post = (id: string, event: TaskEvent) => port.postMessage({ type: 'event', id, event } satisfies FromWorker);

// Fault injection for the crash test: `crash-at-seed:N` ends this thread abruptly when a task with seed
// N reaches its first diffusion step (as a native crash or an out-of-memory kill would).
const crashSeed = options.fault?.startsWith('crash-at-seed:') ? Number(options.fault.slice(14)) : undefined;

port.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') {
    running.get(m.id)?.abort(new CancelledError());
    return;
  }
  const { task } = m;
  const ac = new AbortController();
  running.set(task.id, ac);
  post(task.id, { type: 'started', worker: options.name });
  const crash = crashSeed !== undefined && task.kind === 'conversion' && task.options.seed === crashSeed;
  runner.run(task, ac.signal, (event) => {
    if (crash && event.type === 'diffusion') process.exit(70);
    post(task.id, { type: 'progress', event });
  }).then(
    (outcome) => post(task.id, { type: 'succeeded', outcome }),
    (e) => {
      const err = ac.signal.aborted ? 'cancelled' : taskError(e);
      post(task.id, err === 'cancelled' ? { type: 'cancelled' } : { type: 'failed', error: err });
    },
  ).finally(() => running.delete(task.id));
});

port.postMessage({ type: 'ready' } satisfies FromWorker);

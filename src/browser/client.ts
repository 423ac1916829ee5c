/**
 * The page's side of in-browser conversion: a small promise API over the Web Worker (worker.ts), with
 * typed progress events. Audio never leaves the page's machine.
 *
 *   const vc = BrowserSeedVc.create(new URL('./worker.js', import.meta.url));
 *   const info = await vc.load({ hub: { baseUrl } }, (e) => …);   // info.choice.reason says why WebGPU/WASM
 *   const r = await vc.convert({ bytes, name }, { bytes, name }, { diffusionSteps: 30, onProgress });
 */
import { SeedVcError } from '../core/errors.ts';
import type { ConvertEvent } from '../core/pipeline/convert.ts';
import type { BrowserLoadEvent } from './loader.ts';
import type { AudioInput, LoadSummary, Request, Response, SerializedError, WorkerConvertOptions, WorkerConvertResult, WorkerLoadOptions } from './protocol.ts';

/** An error raised in the worker, with its original name and code. */
export class WorkerError extends SeedVcError {
  constructor(e: SerializedError) {
    super(e.message, e.code ?? 'WORKER');
    this.name = e.name;
  }
}

/** A request without its id (distributed over the union). */
type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; onEvent?: (e: never) => void; cancelled?: boolean };

export class BrowserSeedVc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<Response>) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'event') {
        // After a cancel, progress still in flight from the worker is dropped: the caller asked to stop.
        if (!p.cancelled) (p.onEvent as ((e: unknown) => void) | undefined)?.(m.event);
        return;
      }
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(new WorkerError(m.error));
    };
    worker.onerror = (e) => {
      const err = new SeedVcError(`the Seed-VC worker failed: ${e.message || 'script error (was worker.js served?)'}`, 'WORKER');
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  /** Starts the worker script (an ES module worker). */
  static create(workerUrl: string | URL): BrowserSeedVc {
    return new BrowserSeedVc(new Worker(workerUrl, { type: 'module', name: 'seed-vc' }));
  }

  /**
   * Sends a request. An aborted `signal` sends the worker a cancel for it: the promise then rejects with the
   * worker's CancelledError (a WorkerError named 'CancelledError', code 'CANCELLED') once the worker stopped.
   */
  private call<T>(req: Body<Request>, onEvent?: (e: never) => void, signal?: AbortSignal, transfer: Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: resolve as (v: unknown) => void, reject, onEvent };
      if (signal?.aborted) {
        reject(new WorkerError({ name: 'CancelledError', code: 'CANCELLED', message: req.type === 'load' ? 'loading cancelled' : 'cancelled' }));
        return;
      }
      const onAbort = () => {
        entry.cancelled = true;
        this.worker.postMessage({ id: this.nextId++, type: 'cancel', target: id } satisfies Request);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      entry.resolve = (v) => { done(); resolve(v as T); };
      entry.reject = (e) => { done(); reject(e); };
      this.pending.set(id, entry);
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /**
   * Loads (or switches to) a model set; the previous set's sessions are released first. `signal` cancels
   * it (a download in flight is cut, between graph builds and sessions); no model is loaded then.
   */
  load(options: WorkerLoadOptions & { signal?: AbortSignal } = {}, onEvent?: (e: BrowserLoadEvent) => void): Promise<LoadSummary> {
    const { signal, ...rest } = options;
    return this.call<LoadSummary>({ type: 'load', options: rest }, onEvent, signal);
  }

  /**
   * Converts `source` to the voice of `reference`. `signal` stops it between session runs (each diffusion
   * step, content window, vocoder call); the loaded model stays ready for the next conversion.
   */
  convert(source: AudioInput, reference: AudioInput, options: WorkerConvertOptions & { onProgress?: (e: ConvertEvent) => void; signal?: AbortSignal } = {}): Promise<WorkerConvertResult> {
    const { onProgress, signal, ...rest } = options;
    return this.call<WorkerConvertResult>({ type: 'convert', source, reference, options: rest }, onProgress, signal);
  }

  /** Releases the sessions (the worker stays up). */
  dispose(): Promise<void> { return this.call<void>({ type: 'dispose' }); }

  /** Deletes the cached model files (Cache Storage) and graphs (OPFS). */
  clearCache(): Promise<void> { return this.call<void>({ type: 'clear-cache' }); }

  terminate(): void { this.worker.terminate(); }
}

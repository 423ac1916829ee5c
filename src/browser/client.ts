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

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; onEvent?: (e: never) => void };

export class BrowserSeedVc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<Response>) => {
      const m = e.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'event') { (p.onEvent as ((e: unknown) => void) | undefined)?.(m.event); return; }
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

  private call<T>(req: Body<Request>, onEvent?: (e: never) => void, transfer: Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** Loads (or switches to) a model set; the previous set's sessions are released first. */
  load(options: WorkerLoadOptions = {}, onEvent?: (e: BrowserLoadEvent) => void): Promise<LoadSummary> {
    return this.call<LoadSummary>({ type: 'load', options }, onEvent);
  }

  /** Converts `source` to the voice of `reference`. */
  convert(source: AudioInput, reference: AudioInput, options: WorkerConvertOptions & { onProgress?: (e: ConvertEvent) => void } = {}): Promise<WorkerConvertResult> {
    const { onProgress, ...rest } = options;
    return this.call<WorkerConvertResult>({ type: 'convert', source, reference, options: rest }, onProgress);
  }

  /** Releases the sessions (the worker stays up). */
  dispose(): Promise<void> { return this.call<void>({ type: 'dispose' }); }

  /** Deletes the cached model files (Cache Storage) and graphs (OPFS). */
  clearCache(): Promise<void> { return this.call<void>({ type: 'clear-cache' }); }

  terminate(): void { this.worker.terminate(); }
}

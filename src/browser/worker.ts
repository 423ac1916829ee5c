/**
 * The Web Worker that runs Seed-VC in a browser: model files, graph builds, onnxruntime-web sessions and
 * conversions all happen here, so the page never freezes. Bundled by `npm run build:web` (worker.js);
 * talk to it through BrowserSeedVc (client.ts).
 */
import * as ort from 'onnxruntime-web';
import { decodeAudioMono } from '../core/audio/decode.ts';
import { CancelledError, SeedVcError } from '../core/errors.ts';
import type { ConvertEvent } from '../core/pipeline/convert.ts';
import { noiseFromSafetensors } from '../core/pipeline/noise.ts';
import { GraphStore } from './graph-store.ts';
import { type BrowserModel, loadInBrowser } from './loader.ts';
import { ModelStore } from './model-store.ts';
import type { AudioInput, LoadSummary, Request, Response, WorkerConvertResult } from './protocol.ts';

interface WorkerScope {
  postMessage(message: Response, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  location: { href: string };
}
const scope = self as unknown as WorkerScope;

let model: BrowserModel | undefined;
let modelId = '';
// One request at a time: ORT-web sessions must not run concurrently, and a load replaces the model.
let queue: Promise<unknown> = Promise.resolve();
// Loads and conversions, running or queued, by request id: a 'cancel' message aborts one.
const controllers = new Map<number, AbortController>();

const post = (m: Response, transfer?: Transferable[]) => scope.postMessage(m, transfer);

async function audio(input: AudioInput): Promise<{ samples: Float32Array; sampleRate: number }> {
  if ('samples' in input) return input;
  return decodeAudioMono(input.bytes, input.name);
}

/** Where a conversion was when it was cancelled, for the error's message. */
function where(last: ConvertEvent | undefined): string {
  if (!last) return 'before it started';
  if (last.type === 'diffusion') return `after diffusion step ${last.step} of ${last.steps}${last.windows > 1 ? ` (window ${last.window} of ${last.windows})` : ''}`;
  if (last.type === 'content') return `during content encoding (window ${last.window} of ${last.windows})`;
  if (last.type === 'stage') return `${last.status === 'start' ? 'during' : 'after'} the ${last.stage} stage`;
  return 'during the conversion';
}

async function handle(req: Request, signal: AbortSignal): Promise<void> {
  const emit = (event: Extract<Response, { type: 'event' }>['event']) => post({ id: req.id, type: 'event', event });
  switch (req.type) {
    case 'load': {
      const o = req.options;
      ort.env.wasm.wasmPaths = o.wasmPaths ?? new URL('./ort/', scope.location.href).href;
      signal.throwIfAborted();
      // A new model set releases the previous one's sessions first (GPU and WASM memory).
      await model?.dispose();
      model = undefined;
      model = await loadInBrowser(ort, o, emit, signal);
      modelId = o.model ?? (o.f0Condition ? 'singing' : 'offline');
      const summary: LoadSummary = {
        model: modelId, sampleRate: model.config.mel.sampleRate, choice: model.choice, plan: model.plan, files: model.files, timings: model.timings,
      };
      post({ id: req.id, type: 'result', result: summary });
      return;
    }
    case 'convert': {
      if (!model) throw new SeedVcError('no model is loaded: call load() first', 'INVALID_INPUT');
      const o = req.options;
      signal.throwIfAborted();
      const [src, ref] = [await audio(req.source), await audio(req.reference)];
      let last: ConvertEvent | undefined;
      model.gate.signal = signal;
      let r;
      try {
        r = await model.converter.convert(src, ref, {
          diffusionSteps: o.diffusionSteps, lengthAdjust: o.lengthAdjust, inferenceCfgRate: o.inferenceCfgRate,
          autoF0Adjust: o.autoF0Adjust, semiToneShift: o.semiToneShift, seed: o.seed,
          noise: o.noise ? noiseFromSafetensors(o.noise, 'noise.safetensors') : undefined,
          onProgress: (e) => { if (e.type !== 'guard') last = e; emit(e); },
          signal,
        });
      } catch (e) {
        if (signal.aborted) throw new CancelledError(`conversion cancelled ${where(last)}`);
        throw e;
      } finally {
        if (model) model.gate.signal = undefined;
      }
      const result: WorkerConvertResult = { audio: r.audio, sampleRate: r.sampleRate, timings: r.timings, rtf: r.rtf, seed: r.seed, guard: r.guard };
      post({ id: req.id, type: 'result', result }, [r.audio.buffer as ArrayBuffer]);
      return;
    }
    case 'dispose':
      await model?.dispose();
      model = undefined;
      post({ id: req.id, type: 'result', result: null });
      return;
    case 'clear-cache':
      await new ModelStore().clear();
      await (await GraphStore.open()).clear();
      post({ id: req.id, type: 'result', result: null });
      return;
  }
}

scope.onmessage = (e) => {
  const req = e.data;
  if (req.type === 'cancel') {
    // Not queued: it must reach the request that holds the queue. The run stops at its next gate.
    controllers.get(req.target)?.abort(new CancelledError('cancelled'));
    post({ id: req.id, type: 'result', result: controllers.has(req.target) });
    return;
  }
  const controller = new AbortController();
  controllers.set(req.id, controller);
  queue = queue.then(() => handle(req, controller.signal).catch((err: unknown) => {
    // Whatever a cancelled request was doing when it stopped (a cut fetch, a gate), it answers CancelledError.
    const stopped = controller.signal.aborted && (!(err instanceof CancelledError) || err.message === 'cancelled');
    const x = (stopped ? new CancelledError(req.type === 'load' ? 'loading cancelled' : 'cancelled') : err) as Error & { code?: string; status?: number };
    post({ id: req.id, type: 'error', error: { name: x?.name ?? 'Error', code: x?.code, message: x?.message ?? String(err), status: x?.status } });
  }).finally(() => controllers.delete(req.id)));
};

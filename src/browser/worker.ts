/**
 * The Web Worker that runs Seed-VC in a browser: model files, graph builds, onnxruntime-web sessions and
 * conversions all happen here, so the page never freezes. Bundled by `npm run build:web` (worker.js);
 * talk to it through BrowserSeedVc (client.ts).
 */
import * as ort from 'onnxruntime-web';
import { decodeAudioMono } from '../core/audio/decode.ts';
import { SeedVcError } from '../core/errors.ts';
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

const post = (m: Response, transfer?: Transferable[]) => scope.postMessage(m, transfer);

async function audio(input: AudioInput): Promise<{ samples: Float32Array; sampleRate: number }> {
  if ('samples' in input) return input;
  return decodeAudioMono(input.bytes, input.name);
}

async function handle(req: Request): Promise<void> {
  const emit = (event: Extract<Response, { type: 'event' }>['event']) => post({ id: req.id, type: 'event', event });
  switch (req.type) {
    case 'load': {
      const o = req.options;
      ort.env.wasm.wasmPaths = o.wasmPaths ?? new URL('./ort/', scope.location.href).href;
      // A new model set releases the previous one's sessions first (GPU and WASM memory).
      await model?.dispose();
      model = undefined;
      model = await loadInBrowser(ort, o, emit);
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
      const [src, ref] = [await audio(req.source), await audio(req.reference)];
      const r = await model.converter.convert(src, ref, {
        diffusionSteps: o.diffusionSteps, lengthAdjust: o.lengthAdjust, inferenceCfgRate: o.inferenceCfgRate,
        autoF0Adjust: o.autoF0Adjust, semiToneShift: o.semiToneShift, seed: o.seed,
        noise: o.noise ? noiseFromSafetensors(o.noise, 'noise.safetensors') : undefined,
        onProgress: emit,
      });
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
  queue = queue.then(() => handle(req).catch((err: unknown) => {
    const x = err as Error & { code?: string; status?: number };
    post({ id: req.id, type: 'error', error: { name: x?.name ?? 'Error', code: x?.code, message: x?.message ?? String(err), status: x?.status } });
  }));
};

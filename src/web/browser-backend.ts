/**
 * "Run on: This browser": a ConversionBackend that converts inside the page's own Web Worker
 * (seed-vc/browser: models fetched once into Cache Storage, graphs built in the worker and kept in OPFS,
 * WebGPU or WASM). Nothing is uploaded: the server only serves the worker script and onnxruntime-web's
 * files. Model files come from ?hub=<base URL> (&layout=mirror for a plain <org>/<repo>/<file> folder),
 * by default the Hugging Face hub.
 */
import { encodeWav } from '../core/audio/wav.ts';
import { CancelledError } from '../core/errors.ts';
import { BrowserSeedVc } from '../browser/client.ts';
import type { BrowserLoadEvent } from '../browser/loader.ts';
import type { LoadSummary } from '../browser/protocol.ts';
import type { ConversionBackend, ProgressEvent } from './backend.ts';

export interface BrowserBackendOptions {
  workerUrl: string;
  hub: { baseUrl: string; layout: 'hub' | 'mirror' };
  /** Called when a model set is loaded: the device and precision chosen, and why. */
  onLoaded?: (s: LoadSummary) => void;
}

export function browserBackend(o: BrowserBackendOptions): ConversionBackend {
  let vc: BrowserSeedVc | null = null;
  let loadedKey = '';
  let loading: Promise<LoadSummary> | null = null;
  return {
    name: 'browser',
    convert(inputs, options, onProgress) {
      const abort = new AbortController();
      const { signal } = abort;
      const result = (async () => {
        if (!inputs.reference) throw new Error('in-browser conversion needs a Reference clip (saved voices live on the server)');
        vc ??= BrowserSeedVc.create(o.workerUrl);
        const model = options.f0_condition ? 'singing' : 'offline';
        const key = `${model}|${options.precision}`;
        if (key !== loadedKey) {
          // A different model set or precision: the worker releases the old sessions and loads the new ones.
          onProgress({ type: 'load', status: 'start', fraction: 0 });
          loadedKey = ''; // the worker releases the loaded set first, whether or not this load completes
          const bytes = new Map<string, { loaded: number; total: number }>();
          loading = vc.load({ model, precision: options.precision, hub: o.hub, signal }, (e: BrowserLoadEvent) => {
            if (e.type === 'download') {
              bytes.set(`${e.repo}/${e.file}`, { loaded: e.loaded, total: e.total ?? e.loaded });
              const [l, t] = [...bytes.values()].reduce(([a, b], f) => [a + f.loaded, b + f.total], [0, 0]);
              onProgress({ type: 'download', file: `${e.repo}/${e.file}`, loaded: e.loaded, total: e.total, fraction: t ? 0.3 * (l / t) : 0 });
            } else if (e.type === 'device') {
              onProgress({ type: 'device', device: e.device, reason: e.reason });
            }
          });
          const summary = await loading;
          loadedKey = key;
          o.onLoaded?.(summary);
          onProgress({ type: 'load', status: 'done', fraction: 0.3 });
        }
        signal.throwIfAborted();
        const bytesOf = async (b: Blob, name: string) => ({ bytes: new Uint8Array(await b.arrayBuffer()), name });
        const r = await vc.convert(await bytesOf(inputs.source, 'source'), await bytesOf(inputs.reference, 'reference'), {
          diffusionSteps: options.diffusion_steps, lengthAdjust: options.length_adjust, inferenceCfgRate: options.inference_cfg_rate,
          autoF0Adjust: options.auto_f0_adjust, semiToneShift: options.semi_tone_shift, seed: options.seed, signal,
          onProgress: (e) => {
            const fraction = e.type === 'diffusion' ? 0.3 + 0.6 * ((e.window + e.step / e.steps) / e.windows) : undefined;
            onProgress({ ...e, fraction } as ProgressEvent);
          },
        });
        const wav = new Blob([encodeWav(r.audio, r.sampleRate, { format: 'float32' }) as Uint8Array<ArrayBuffer>], { type: 'audio/wav' });
        return { wav, sampleRate: r.sampleRate, seconds: r.audio.length / r.sampleRate, seed: r.seed ?? null, rtf: r.rtf, timings: r.timings };
      })();
      return {
        result,
        // The worker stops at its next gate (between diffusion steps, windows, stages; between files and
        // graph builds while loading); the promise rejects with a CancelledError.
        cancel() { abort.abort(new CancelledError('cancelled')); },
      };
    },
  };
}

/**
 * The static page of `npm run build:web`: loads a model set in the Web Worker, shows the download and
 * build progress, the device and precision chosen and why, converts two files and plays the result.
 * URL parameters preset the form: ?hub=<base URL>&layout=hub|mirror&model=&device=&precision=.
 */
import { encodeWav } from '../../core/audio/wav.ts';
import type { ConvertEvent } from '../../core/pipeline/convert.ts';
import { STAGES } from '../../core/precision.ts';
import { BrowserSeedVc } from '../client.ts';
import type { BrowserLoadEvent } from '../loader.ts';
import type { LoadSummary } from '../protocol.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  model: $<HTMLSelectElement>('model'), device: $<HTMLSelectElement>('device'), precision: $<HTMLSelectElement>('precision'),
  hub: $<HTMLInputElement>('hub'), layout: $<HTMLSelectElement>('layout'),
  load: $<HTMLButtonElement>('load'), loadCancel: $<HTMLButtonElement>('load-cancel'), clear: $<HTMLButtonElement>('clear'),
  loadProgress: $<HTMLProgressElement>('load-progress'), loadStatus: $('load-status'), deviceInfo: $('device-info'),
  source: $<HTMLInputElement>('source'), reference: $<HTMLInputElement>('reference'), noise: $<HTMLInputElement>('noise'),
  steps: $<HTMLInputElement>('steps'), cfg: $<HTMLInputElement>('cfg'), length: $<HTMLInputElement>('length'), seed: $<HTMLInputElement>('seed'),
  convert: $<HTMLButtonElement>('convert'), cancel: $<HTMLButtonElement>('cancel'), convertProgress: $<HTMLProgressElement>('convert-progress'), convertStatus: $('convert-status'),
  output: $('output'), player: $<HTMLAudioElement>('player'), download: $<HTMLAnchorElement>('download'), rtf: $('rtf'), error: $('error'),
};

const params = new URLSearchParams(location.search);
for (const [key, input] of [['hub', el.hub], ['layout', el.layout], ['model', el.model], ['device', el.device], ['precision', el.precision]] as const) {
  const v = params.get(key);
  if (v !== null) input.value = v;
}

const vc = BrowserSeedVc.create(new URL('./worker.js', import.meta.url));
let loaded: LoadSummary | undefined;

/** The load or conversion running now: the Cancel buttons abort it. */
let running: AbortController | undefined;
const isCancel = (e: unknown) => (e as Error)?.name === 'CancelledError';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function showError(e: unknown): void {
  el.error.hidden = false;
  el.error.textContent = `${(e as Error).name ?? 'Error'}: ${(e as Error).message ?? String(e)}`;
}

/** A load or conversion that ended early: "cancelled" (progress reset) or "failed" (the error shown). */
function showStopped(status: HTMLElement, progress: HTMLProgressElement, e: unknown, cancelled: (e: Error) => string, failed: string): void {
  if (isCancel(e)) {
    status.textContent = cancelled(e as Error);
    status.dataset.state = 'cancelled';
    progress.value = 0;
  } else {
    status.textContent = failed;
    status.dataset.state = 'failed';
    showError(e);
  }
}

function showDevice(s: LoadSummary): void {
  const rows = STAGES.filter((st) => st !== 'pitch' || s.files.pitch)
    .map((st) => `<tr><td>${st}</td><td>${s.plan.stages[st].precision}</td><td>${escape(s.plan.stages[st].reason)}</td></tr>`).join('');
  el.deviceInfo.hidden = false;
  el.deviceInfo.innerHTML = `<div><b>Device</b> <span id="device-name">${s.choice.device === 'webgpu' ? 'WebGPU' : 'WASM'}</span> — <span id="device-reason">${escape(s.choice.reason)}</span></div>`
    + `<div><b>Threads</b> ${escape(s.choice.threadsReason)}</div>`
    + `<div><b>Precision</b> <span id="precision-mode">${s.plan.mode}</span> — ${escape(s.plan.reason)}</div>`
    + `<table><tr><th>stage</th><th>precision</th><th>why</th></tr>${rows}</table>`;
}

el.load.onclick = async () => {
  el.error.hidden = true;
  el.load.disabled = el.convert.disabled = true;
  el.deviceInfo.hidden = true;
  el.loadStatus.dataset.state = 'loading';
  loaded = undefined; // the worker releases the current set before loading
  running = new AbortController();
  el.loadCancel.disabled = false;
  const files = new Map<string, { loaded: number; total: number | null }>();
  let downloaded = 0;
  let cachedFiles = 0;
  const graphs = { built: 0, cached: 0 };
  const onEvent = (e: BrowserLoadEvent) => {
    switch (e.type) {
      case 'download': {
        files.set(`${e.repo}/${e.file}`, { loaded: e.loaded, total: e.total });
        const loadedBytes = [...files.values()].reduce((a, f) => a + f.loaded, 0);
        const total = [...files.values()].reduce((a, f) => a + (f.total ?? f.loaded), 0);
        el.loadProgress.max = total || 1;
        el.loadProgress.value = loadedBytes;
        el.loadStatus.textContent = `downloading ${e.repo}/${e.file}: ${mb(e.loaded)}${e.total ? ` of ${mb(e.total)}` : ''}`;
        break;
      }
      case 'done':
        if (e.source === 'download') downloaded += e.bytes; else cachedFiles++;
        el.loadStatus.textContent = `${e.source === 'cache' ? 'cached' : 'downloaded'} ${e.repo}/${e.file} (${mb(e.bytes)})`;
        break;
      case 'device':
        el.loadStatus.textContent = `device: ${e.device} (${e.reason})`;
        break;
      case 'build':
        graphs[e.status]++;
        el.loadStatus.textContent = `${e.status === 'cached' ? 'graph from cache' : 'built graph'}: ${e.network} (${e.ms.toFixed(0)} ms)`;
        break;
      case 'session':
        el.loadStatus.textContent = `session ${e.network} on ${e.device}, ${e.precision} (${e.ms.toFixed(0)} ms)`;
        break;
      case 'log':
        el.loadStatus.textContent = e.message;
        break;
    }
  };
  try {
    loaded = await vc.load({
      model: el.model.value as 'offline', device: el.device.value as 'auto', precision: el.precision.value as 'auto',
      hub: { baseUrl: el.hub.value, layout: el.layout.value as 'hub' | 'mirror' }, signal: running.signal,
    }, onEvent);
    el.loadProgress.max = 1;
    el.loadProgress.value = 1;
    const t = loaded.timings;
    el.loadStatus.textContent = `ready: ${Object.keys(loaded.files).length} files (${mb(downloaded)} downloaded, ${cachedFiles} from the cache), `
      + `${graphs.built} graphs built, ${graphs.cached} from the cache; `
      + `loaded in ${(t.total / 1000).toFixed(1)} s (files ${(t.files / 1000).toFixed(1)} s, graphs ${(t.graphs / 1000).toFixed(1)} s, sessions ${(t.sessions / 1000).toFixed(1)} s)`;
    el.loadStatus.dataset.state = 'ready';
    el.loadStatus.dataset.timings = JSON.stringify(loaded.timings); // for scripts (npm run bench -- --only browser)
    showDevice(loaded);
    el.convert.disabled = false;
  } catch (e) {
    showStopped(el.loadStatus, el.loadProgress, e, () => 'Cancelled: no model is loaded', 'loading failed');
  } finally {
    running = undefined;
    el.load.disabled = false;
    el.loadCancel.disabled = true;
  }
};

el.loadCancel.onclick = el.cancel.onclick = () => {
  running?.abort();
  el.loadCancel.disabled = el.cancel.disabled = true;
};

el.clear.onclick = async () => {
  el.error.hidden = true;
  try {
    await vc.clearCache();
    el.loadStatus.textContent = 'cached model files and graphs deleted';
  } catch (e) { showError(e); }
};

async function fileInput(input: HTMLInputElement, what: string): Promise<{ bytes: Uint8Array; name: string }> {
  const f = input.files?.[0];
  if (!f) throw new Error(`choose a ${what} file`);
  return { bytes: new Uint8Array(await f.arrayBuffer()), name: f.name };
}

el.convert.onclick = async () => {
  el.error.hidden = true;
  el.convert.disabled = true;
  el.convertStatus.dataset.state = 'running';
  el.convertStatus.dataset.steps = '0';
  el.convertProgress.value = 0;
  running = new AbortController();
  el.cancel.disabled = false;
  el.load.disabled = true;
  try {
    const [source, reference] = [await fileInput(el.source, 'source'), await fileInput(el.reference, 'reference')];
    const noise = el.noise.files?.[0] ? new Uint8Array(await el.noise.files[0].arrayBuffer()) : undefined;
    const steps = Number(el.steps.value);
    const onProgress = (e: ConvertEvent) => {
      if (e.type === 'stage') el.convertStatus.textContent = `${e.stage} ${e.status === 'start' ? '…' : `done (${e.ms?.toFixed(0)} ms)`}`;
      if (e.type === 'diffusion') {
        el.convertProgress.max = e.windows * e.steps;
        el.convertProgress.value = (e.window - 1) * e.steps + e.step;
        el.convertStatus.textContent = `diffusion: window ${e.window}/${e.windows}, step ${e.step}/${e.steps}`;
        el.convertStatus.dataset.steps = String(Number(el.convertStatus.dataset.steps ?? 0) + 1); // step events seen (tests)
      }
      if (e.type === 'guard') el.convertStatus.textContent = `fp16 guard: ${e.stage} window ${e.window} recomputed in fp32`;
    };
    const r = await vc.convert(source, reference, {
      diffusionSteps: steps, inferenceCfgRate: Number(el.cfg.value), lengthAdjust: Number(el.length.value),
      seed: el.seed.value === '' ? undefined : Number(el.seed.value), noise, onProgress, signal: running.signal,
    });
    const wav = encodeWav(r.audio, r.sampleRate, { format: 'float32' });
    const url = URL.createObjectURL(new Blob([wav as Uint8Array<ArrayBuffer>], { type: 'audio/wav' }));
    if (el.download.href.startsWith('blob:')) URL.revokeObjectURL(el.download.href);
    el.player.src = el.download.href = url;
    el.output.hidden = false;
    el.convertProgress.max = 1;
    el.convertProgress.value = 1;
    el.rtf.textContent = `${(r.audio.length / r.sampleRate).toFixed(2)} s at ${r.sampleRate} Hz, RTF ${r.rtf.toFixed(3)}${r.seed !== undefined ? `, seed ${r.seed}` : ''}`;
    el.convertStatus.textContent = `done in ${(r.timings.total / 1000).toFixed(2)} s (${Object.entries(r.timings).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')})`;
    el.convertStatus.dataset.state = 'done';
    el.convertStatus.dataset.timings = JSON.stringify(r.timings);
  } catch (e) {
    // A cancelled conversion stopped between two session runs; the model stays loaded for the next one.
    showStopped(el.convertStatus, el.convertProgress, e, (c) => `Cancelled (${c.message})`, 'conversion failed');
  } finally {
    running = undefined;
    el.cancel.disabled = true;
    el.load.disabled = false;
    el.convert.disabled = !loaded;
  }
};

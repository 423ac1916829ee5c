/**
 * The seed-vc web app: pick or record a source and a reference (or a saved voice), set Seed-VC's
 * options, convert with live progress, listen, download, compare precisions, and look back at this
 * session's conversions. Conversions go through a ConversionBackend (backend.ts), so where they run is
 * one choice away from the UI.
 */
import { Api, ApiError, type ConversionBackend, type ConversionOptions, type ConversionRun, type ProgressEvent, followJob, serverBackend } from './backend.ts';
import { browserBackend } from './browser-backend.ts';
import { setupLive } from './live.ts';
import { drawPictures } from './pictures.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const api = new Api(sessionStorage.getItem('seed-vc-token'));
const hubParams = new URLSearchParams(location.search);
// Run on: the server, or this browser (its own Web Worker; see browser-backend.ts).
const backends: Record<'server' | 'browser', ConversionBackend> = {
  server: serverBackend(api),
  browser: browserBackend({
    workerUrl: '/browser/worker.js',
    hub: { baseUrl: hubParams.get('hub') ?? 'https://huggingface.co', layout: hubParams.get('layout') === 'mirror' ? 'mirror' : 'hub' },
    onLoaded: (s) => {
      $('browser-info').textContent = `This browser: ${s.choice.device === 'webgpu' ? 'WebGPU' : 'WASM'} (${s.choice.reason}); ${s.choice.threadsReason}; precision ${s.plan.mode} (${s.plan.reason}).`;
    },
  }),
};
const runOn = () => (document.querySelector<HTMLInputElement>('input[name=run-on]:checked')?.value === 'browser' ? 'browser' : 'server');
const clips: { source: Blob | null; reference: Blob | null } = { source: null, reference: null };
let running: ConversionRun | null = null;

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern has it) ----
const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role=tab]')];
function selectTab(tab: HTMLButtonElement, focus = false): void {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')!).hidden = !on;
  }
  if (focus) tab.focus();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (d) { e.preventDefault(); selectTab(tabs[(i + d + tabs.length) % tabs.length], true); }
  });
});

// ---- status ----
function status(text: string, error = false, el = $('status')): void {
  el.textContent = text;
  el.classList.toggle('error', error);
}
function describe(e: unknown): string {
  if (e instanceof ApiError) return e.code === 'cancelled' ? 'Cancelled.' : e.message;
  if ((e as Error)?.name === 'CancelledError') return 'Cancelled.'; // in-browser runs (seed-vc/browser)
  return e instanceof Error ? e.message : String(e);
}

// ---- token (only when the server asks for one) ----
$('token-save').addEventListener('click', () => {
  api.token = $<HTMLInputElement>('token').value.trim() || null;
  if (api.token) sessionStorage.setItem('seed-vc-token', api.token);
  $('token-box').hidden = true;
  void init();
});

// ---- inputs: files, recordings, pictures ----
async function setClip(role: 'source' | 'reference', blob: Blob, label: string): Promise<void> {
  clips[role] = blob;
  const info = $(`${role}-info`);
  info.textContent = `${label} (${(blob.size / 1024).toFixed(0)} KiB)`;
  try {
    const seconds = await drawPictures($(`${role}-pics`), blob);
    info.textContent = `${label}: ${seconds.toFixed(2)} s`;
  } catch {
    info.textContent = `${label}: the browser cannot preview this file (the server may still read it)`;
  }
}
for (const role of ['source', 'reference'] as const) {
  $<HTMLInputElement>(role).addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void setClip(role, f, f.name);
  });
}

for (const btn of document.querySelectorAll<HTMLButtonElement>('button.record')) {
  let rec: MediaRecorder | null = null;
  const role = btn.dataset.target as 'source' | 'reference';
  const label = btn.textContent!;
  btn.addEventListener('click', async () => {
    if (rec) { rec.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks: Blob[] = [];
      rec = new MediaRecorder(stream);
      rec.ondataavailable = (e) => chunks.push(e.data);
      rec.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        rec = null;
        btn.textContent = label;
        btn.setAttribute('aria-pressed', 'false');
        void setClip(role, new Blob(chunks, { type: chunks[0]?.type || 'audio/webm' }), `recording`);
      };
      rec.start();
      btn.textContent = 'Stop recording';
      btn.setAttribute('aria-pressed', 'true');
    } catch (e) {
      status(`Recording is not available: ${describe(e)}`, true);
    }
  });
}

// ---- saved voices ----
async function loadVoices(select?: string): Promise<void> {
  const { voices } = await api.request<{ voices: { id: string; name: string; seconds: number }[] }>('/v1/voices');
  const sel = $<HTMLSelectElement>('voice');
  sel.length = 1;
  for (const v of voices) sel.add(new Option(`${v.name} (${v.seconds.toFixed(1)} s)`, v.id));
  if (select) sel.value = select;
}
$('save-voice').addEventListener('click', async () => {
  if (!clips.reference) { status('Choose or record a Reference clip first.', true); return; }
  const name = prompt('Name of this voice?', 'My voice');
  if (!name) return;
  const form = new FormData();
  form.append('name', name);
  form.append('audio', clips.reference, 'reference');
  try {
    const v = await api.request<{ id: string }>('/v1/voices', { method: 'POST', body: form });
    await loadVoices(v.id);
    status(`Saved voice “${name}”.`);
  } catch (e) { status(describe(e), true); }
});
$('delete-voice').addEventListener('click', async () => {
  const id = $<HTMLSelectElement>('voice').value;
  if (!id) return;
  try { await api.request(`/v1/voices/${id}`, { method: 'DELETE' }); await loadVoices(); } catch (e) { status(describe(e), true); }
});

// ---- options ----
function options(): ConversionOptions {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  const seed = $<HTMLInputElement>('seed').value.trim();
  const model = $<HTMLSelectElement>('model').value === 'v2' ? 'v2' : undefined;
  // The server refuses the other model kind's fields: send only this kind's.
  const kind = model === 'v2'
    ? {
      model, intelligibility_cfg_rate: num('intelligibility_cfg_rate'), similarity_cfg_rate: num('similarity_cfg_rate'),
      convert_style: $<HTMLInputElement>('convert_style').checked,
    } as const
    : {
      inference_cfg_rate: num('inference_cfg_rate'),
      f0_condition: $<HTMLInputElement>('f0_condition').checked,
      auto_f0_adjust: $<HTMLInputElement>('auto_f0_adjust').checked,
      semi_tone_shift: num('semi_tone_shift'),
    };
  return {
    diffusion_steps: num('diffusion_steps'),
    length_adjust: num('length_adjust'),
    ...kind,
    precision: $<HTMLSelectElement>('precision').value as ConversionOptions['precision'],
    ...(seed ? { seed: Number(seed) } : {}),
  };
}

/** Shows the chosen model's fields only (v2 has no singing fields and its own two CFG rates). */
function showModelFields(): void {
  const v2 = $<HTMLSelectElement>('model').value === 'v2';
  for (const el of document.querySelectorAll<HTMLElement>('[data-model]')) el.hidden = (el.dataset.model === 'v2') !== v2;
}
$('model').addEventListener('change', showModelFields);
showModelFields();

// ---- progress ----
const STAGE_NAMES: Record<string, string> = {
  load: 'loading models', content: 'content features', speaker: 'speaker embedding', f0: 'pitch', length_regulator: 'length regulator', diffusion: 'diffusion', vocoder: 'vocoder',
};
function showProgress(e: ProgressEvent): void {
  if (typeof e.fraction === 'number') $<HTMLProgressElement>('progress-overall').value = e.fraction;
  if (e.type === 'queued') $('progress-stage').textContent = e.position ? `queued (${e.position} ahead)` : 'queued';
  if (e.type === 'load') $('progress-stage').textContent = e.status === 'start' ? 'loading models' : 'models loaded';
  if (e.type === 'download') $('progress-stage').textContent = `downloading ${String(e.file)} (${(Number(e.loaded) / 1e6).toFixed(1)} MB)`;
  if (e.type === 'device') $('browser-info').textContent = `This browser: ${e.device === 'webgpu' ? 'WebGPU' : 'WASM'} (${String(e.reason)})`;
  if (e.type === 'stage' && e.status === 'start') $('progress-stage').textContent = STAGE_NAMES[e.stage as string] ?? String(e.stage);
  if (e.type === 'diffusion') {
    const d = e as { window: number; windows: number; step: number; steps: number };
    $<HTMLProgressElement>('progress-step').value = d.step / d.steps;
    $('progress-step-text').textContent = `step ${d.step}/${d.steps}${d.windows > 1 ? `, window ${d.window}/${d.windows}` : ''}`;
  }
}

// ---- convert ----
const history: { when: Date; opts: ConversionOptions; url: string; seconds: number; seed: number | null; rtf: number | null }[] = [];

$('convert-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const voice = $<HTMLSelectElement>('voice').value || undefined;
  if (!clips.source) { status('Choose or record a Source clip.', true); $('source').focus(); return; }
  if (!clips.reference && !voice) { status('Choose or record a Reference clip, or pick a saved voice.', true); $('reference').focus(); return; }
  const opts = options();
  if (opts.model === 'v2' && runOn() === 'browser') { status('Seed-VC v2 runs on the server only: choose Run on: Server, or the v1 model.', true); return; }
  $<HTMLButtonElement>('convert').disabled = true;
  $<HTMLButtonElement>('cancel').disabled = false;
  $('progress').hidden = false;
  $<HTMLProgressElement>('progress-overall').value = 0;
  $<HTMLProgressElement>('progress-step').value = 0;
  $('progress-step-text').textContent = '';
  status('Uploading…');
  const t0 = performance.now();
  running = backends[runOn()].convert({ source: clips.source, reference: voice ? undefined : clips.reference!, voice }, opts, (e) => { status('Converting…'); showProgress(e); });
  try {
    const r = await running.result;
    const url = URL.createObjectURL(r.wav);
    const audio = $<HTMLAudioElement>('result-audio');
    audio.src = url;
    const dl = $<HTMLAnchorElement>('download');
    dl.href = url;
    dl.download = `seed-vc-${r.id ?? 'result'}.wav`;
    $<HTMLProgressElement>('progress-overall').value = 1;
    $('progress-stage').textContent = 'done';
    $('result-info').textContent = `${r.seconds.toFixed(2)} s at ${r.sampleRate} Hz · seed ${r.seed ?? '—'} · RTF ${r.rtf?.toFixed(3) ?? '—'}`;
    $('result').hidden = false;
    status(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
    history.unshift({ when: new Date(), opts, url, seconds: r.seconds, seed: r.seed, rtf: r.rtf });
    renderHistory();
    await drawPictures($('result-pics'), r.wav).catch(() => {});
  } catch (e) {
    const text = describe(e);
    const cancelled = text === 'Cancelled.';
    if (cancelled) $('progress-stage').textContent = 'cancelled';
    status(text, !cancelled);
  } finally {
    running = null;
    $<HTMLButtonElement>('convert').disabled = false;
    $<HTMLButtonElement>('cancel').disabled = true;
  }
});
$('cancel').addEventListener('click', () => { running?.cancel(); status('Cancelling…'); });

function renderHistory(): void {
  $('history-empty').hidden = history.length > 0;
  const ol = $('history');
  ol.replaceChildren(...history.map((h, i) => {
    const li = document.createElement('li');
    const title = document.createElement('div');
    title.textContent = `#${history.length - i} · ${h.when.toLocaleTimeString()} · ${h.seconds.toFixed(2)} s · ${h.opts.diffusion_steps} steps · ${h.opts.model === 'v2' ? `v2 · CFG ${h.opts.intelligibility_cfg_rate}/${h.opts.similarity_cfg_rate}${h.opts.convert_style ? ' · style' : ''}` : `CFG ${h.opts.inference_cfg_rate}`} · ${h.opts.precision} · seed ${h.seed ?? '—'}`;
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.src = h.url;
    audio.setAttribute('aria-label', `Conversion ${history.length - i}`);
    const a = document.createElement('a');
    a.href = h.url;
    a.download = `seed-vc-${history.length - i}.wav`;
    a.textContent = 'Download';
    li.append(title, audio, a);
    return li;
  }));
}

// ---- A/B ----
$('ab-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const voice = $<HTMLSelectElement>('voice').value || undefined;
  const st = $('ab-status');
  if (!clips.source || (!clips.reference && !voice)) { status('Choose a Source and a Reference (or a saved voice) in the Convert tab first.', true, st); return; }
  const form = new FormData();
  form.append('a', $<HTMLSelectElement>('ab-a').value);
  form.append('b', $<HTMLSelectElement>('ab-b').value);
  form.append('diffusion_steps', $<HTMLInputElement>('ab-steps').value);
  form.append('seed', $<HTMLInputElement>('ab-seed').value);
  form.append('source', clips.source, 'source');
  if (voice) form.append('voice', voice); else form.append('reference', clips.reference!, 'reference');
  $<HTMLButtonElement>('ab-run').disabled = true;
  try {
    status('Running A and B…', false, st);
    const job = await api.request<{ id: string; links: { events: string } }>('/v1/ab', { method: 'POST', body: form });
    const end = await followJob(api, job.links.events, (e) => { if (typeof e.fraction === 'number' || e.type === 'ab') status(`Running A/B… ${String((e as { side?: string }).side ?? '').toUpperCase()} ${String((e as { phase?: string }).phase ?? e.type)}`, false, st); }).done;
    if (end.state !== 'succeeded') throw new ApiError(0, end.error?.code ?? end.state, end.error?.message ?? end.state);
    const frame = $<HTMLIFrameElement>('ab-report');
    frame.src = api.url(end.links.report);
    frame.hidden = false;
    status('Done.', false, st);
  } catch (e) {
    status(describe(e), true, st);
  } finally {
    $<HTMLButtonElement>('ab-run').disabled = false;
  }
});

// ---- live conversion (the Live tab; live.ts) ----
setupLive({ api, voice: () => $<HTMLSelectElement>('voice').value || undefined, referenceClip: () => clips.reference, voicesChanged: (id) => loadVoices(id) });

// ---- start: defaults from the server ----
async function init(): Promise<void> {
  try {
    const m = await api.request<{ defaults: Record<string, unknown>; limits: { max_diffusion_steps: number } }>('/v1/models');
    for (const [k, v] of Object.entries(m.defaults)) {
      const el = document.getElementById(k) as HTMLInputElement | HTMLSelectElement | null;
      if (!el || v === undefined || v === null) continue;
      if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = Boolean(v); else el.value = String(v);
    }
    $<HTMLInputElement>('diffusion_steps').max = String(m.limits.max_diffusion_steps);
    await loadVoices();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { $('token-box').hidden = false; $('token').focus(); return; }
    status(`The server did not answer: ${describe(e)}`, true);
  }
}
void init();

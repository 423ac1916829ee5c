/**
 * The Live tab: microphone -> AudioWorklet capture (mono float32) -> `/v1/stream` over a WebSocket (PCM at the
 * AudioContext's rate; the server resamples to the model's and back) -> converted PCM -> a playback AudioWorklet
 * queue. Shows input/output levels, the settings' algorithmic latency and the measured round trip (the time from
 * sending a block's last sample to receiving that block converted).
 */
import type { Api } from './backend.ts';

/** Both worklets in one module, loaded from a Blob URL (no extra server route). */
const WORKLETS = `
const level = (x) => { let s = 0; for (let i = 0; i < x.length; i++) s += x[i] * x[i]; return Math.sqrt(s / Math.max(1, x.length)); };
class LiveCapture extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(2048); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      for (let i = 0; i < ch.length; i++) {
        this.buf[this.n++] = ch[i];
        if (this.n === this.buf.length) { this.port.postMessage({ pcm: this.buf, rms: level(this.buf) }, [this.buf.buffer]); this.buf = new Float32Array(2048); this.n = 0; }
      }
    }
    return true;
  }
}
class LivePlayback extends AudioWorkletProcessor {
  constructor() {
    super(); this.queue = []; this.head = 0; this.played = 0; this.peak = 0; this.nonFinite = 0; this.acc = 0; this.accN = 0;
    this.queued = 0; this.dropped = 0;
    // Late blocks that arrive in a burst would add their delay for good: keep at most 1 s queued, dropping the oldest.
    this.port.onmessage = (e) => {
      this.queue.push(e.data); this.queued += e.data.length;
      while (this.queued > sampleRate && this.queue.length > 1) { const q = this.queue.shift(); this.queued -= q.length - this.head; this.dropped += q.length - this.head; this.head = 0; }
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length) {
      const q = this.queue[0];
      const take = Math.min(out.length - i, q.length - this.head);
      for (let k = 0; k < take; k++) {
        const v = q[this.head + k];
        if (!Number.isFinite(v)) { this.nonFinite++; out[i + k] = 0; continue; }
        out[i + k] = v; this.acc += v * v; if (Math.abs(v) > this.peak) this.peak = Math.abs(v);
      }
      i += take; this.head += take; this.played += take; this.accN += take; this.queued -= take;
      if (this.head === q.length) { this.queue.shift(); this.head = 0; }
    }
    for (; i < out.length; i++) out[i] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (this.accN >= 2048) {
      this.port.postMessage({ rms: Math.sqrt(this.acc / this.accN), played: this.played, peak: this.peak, nonFinite: this.nonFinite });
      this.acc = 0; this.accN = 0;
    } else if (!this.queue.length && this.accN === 0 && currentFrame % 16384 < 128) {
      this.port.postMessage({ rms: 0, played: this.played, peak: this.peak, nonFinite: this.nonFinite, dropped: this.dropped });
    }
    return true;
  }
}
registerProcessor('live-capture', LiveCapture);
registerProcessor('live-playback', LivePlayback);
`;

export interface LiveDeps {
  api: Api;
  /** The Convert tab's saved voice id, or undefined. */
  voice(): string | undefined;
  /** The Convert tab's Reference clip, saved as a voice when no saved voice is picked. */
  referenceClip(): Blob | null;
  /** Reloads the saved-voice list (after the reference was saved) and selects `id`. */
  voicesChanged(id: string): Promise<void>;
}

interface Running {
  ctx: AudioContext;
  mic: MediaStream;
  ws: WebSocket;
  capture: AudioWorkletNode;
  playback: AudioWorkletNode;
  monitor: GainNode;
  stopping: boolean;
}

const dbfs = (rms: number) => (rms > 1e-6 ? Math.max(-60, 20 * Math.log10(rms)) : -60);

export function setupLive(d: LiveDeps): void {
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const view = $('view-live');
  const startBtn = $<HTMLButtonElement>('live-start');
  const stopBtn = $<HTMLButtonElement>('live-stop');
  const monitorBox = $<HTMLInputElement>('live-monitor');
  let run: Running | null = null;
  // Where the referenced voice came from: a Reference clip saved for live use is reused while it is the same clip.
  let savedFor: { clip: Blob; id: string } | null = null;

  const status = (text: string, error = false) => {
    const el = $('live-status');
    el.textContent = text;
    el.classList.toggle('error', error);
  };
  const meter = (which: 'in' | 'out', rms: number) => {
    const db = dbfs(rms);
    $<HTMLMeterElement>(`live-${which}-level`).value = db;
    $(`live-${which}-db`).textContent = db <= -60 ? '−∞ dB' : `${db.toFixed(0)} dB`;
  };
  const setRunning = (on: boolean) => {
    startBtn.disabled = on;
    stopBtn.disabled = !on;
    for (const id of ['live-block-time', 'live-steps', 'live-cfg', 'live-extra']) $<HTMLInputElement>(id).disabled = on;
  };

  async function voiceId(): Promise<string> {
    const picked = d.voice();
    if (picked) return picked;
    const clip = d.referenceClip();
    if (!clip) throw new Error('Pick a saved voice or choose a Reference clip in the Convert tab first.');
    if (savedFor?.clip === clip) return savedFor.id;
    status('Saving the Reference clip as a voice…');
    const form = new FormData();
    form.append('name', 'live reference');
    form.append('audio', clip, 'reference');
    const v = await d.api.request<{ id: string }>('/v1/voices', { method: 'POST', body: form });
    savedFor = { clip, id: v.id };
    await d.voicesChanged(v.id).catch(() => {});
    return v.id;
  }

  function teardown(message?: string, error = false): void {
    const r = run;
    run = null;
    const hadFocus = document.activeElement === stopBtn;
    setRunning(false);
    if (hadFocus) startBtn.focus();
    meter('in', 0);
    if (message !== undefined) status(message, error);
    if (!r) return;
    r.mic.getTracks().forEach((t) => t.stop());
    r.capture.port.onmessage = null;
    if (r.ws.readyState === WebSocket.OPEN || r.ws.readyState === WebSocket.CONNECTING) r.ws.close(1000, 'stopped');
    // Let the last converted audio play out before closing the audio graph.
    setTimeout(() => { void r.ctx.close().catch(() => {}); meter('out', 0); }, 1500);
  }

  async function start(): Promise<void> {
    if (run) return;
    const num = (id: string) => Number($<HTMLInputElement>(id).value);
    const settings = {
      block_time: num('live-block-time'), diffusion_steps: num('live-steps'), inference_cfg_rate: num('live-cfg'), extra_time_ce: num('live-extra'),
    };
    for (const [k, v] of Object.entries(settings)) {
      if (!Number.isFinite(v)) { status(`${k.replace(/_/g, ' ')}: enter a number.`, true); return; }
    }
    setRunning(true);
    let mic: MediaStream | undefined;
    let ctx: AudioContext | undefined;
    try {
      // Created before any await, while the click still counts as a user gesture (autoplay policy).
      ctx = new AudioContext({ latencyHint: 'interactive' });
      const voice = await voiceId();
      status('Opening the microphone…');
      try {
        mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      } catch (e) {
        const name = (e as DOMException).name;
        throw new Error(name === 'NotAllowedError' || name === 'SecurityError'
          ? 'Microphone permission was denied: allow the microphone for this page (the address bar\'s site settings) and press Start live again.'
          : name === 'NotFoundError' ? 'No microphone was found: connect one and press Start live again.'
            : `The microphone could not be opened (${name || String(e)}).`);
      }
      const url = URL.createObjectURL(new Blob([WORKLETS], { type: 'text/javascript' }));
      try { await ctx.audioWorklet.addModule(url); } finally { URL.revokeObjectURL(url); }
      const source = ctx.createMediaStreamSource(mic);
      const capture = new AudioWorkletNode(ctx, 'live-capture', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit', channelInterpretation: 'speakers' });
      const playback = new AudioWorkletNode(ctx, 'live-playback', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
      const monitor = ctx.createGain();
      monitor.gain.value = monitorBox.checked ? 1 : 0;
      source.connect(capture);
      playback.connect(monitor).connect(ctx.destination);

      status('Connecting…');
      const wsUrl = new URL(d.api.url('/v1/stream'), location.href);
      wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
      const ws = new WebSocket(wsUrl);
      ws.binaryType = 'arraybuffer';
      const r: Running = { ctx, mic, ws, capture, playback, monitor, stopping: false };
      run = r;
      const rate = ctx.sampleRate;
      // (total samples sent, time) after each send: output sample n is done when input sample n has been sent.
      const sent: { total: number; t: number }[] = [];
      let sentTotal = 0;
      let received = 0;
      let rtt: number | null = null;
      let ready = false;
      let algo = 0;
      let serverError: string | null = null;

      capture.port.onmessage = (e: MessageEvent<{ pcm: Float32Array; rms: number }>) => {
        meter('in', e.data.rms);
        if (!ready || r.stopping || ws.readyState !== WebSocket.OPEN) return;
        ws.send(e.data.pcm);
        sentTotal += e.data.pcm.length;
        sent.push({ total: sentTotal, t: performance.now() });
      };
      playback.port.onmessage = (e: MessageEvent<{ rms: number; played: number; peak: number; nonFinite: number; dropped: number }>) => {
        meter('out', e.data.rms);
        view.dataset.playedSamples = String(e.data.played);
        view.dataset.playedPeak = String(e.data.peak);
        view.dataset.playedNonFinite = String(e.data.nonFinite);
        $('live-dropped').textContent = e.data.dropped ? `${(e.data.dropped / rate).toFixed(2)} s dropped to stay within 1 s of playback delay` : 'none';
      };
      ws.onopen = () => ws.send(JSON.stringify({ voice, format: 'f32le', rate, settings }));
      ws.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
        if (typeof e.data !== 'string') {
          const pcm = new Float32Array(e.data);
          received += pcm.length;
          view.dataset.receivedBytes = String(Number(view.dataset.receivedBytes ?? 0) + e.data.byteLength);
          while (sent.length > 1 && sent[1].total <= received) sent.shift();
          if (sent.length && sent[0].total <= received) {
            const now = performance.now() - sent[0].t;
            rtt = rtt === null ? now : 0.8 * rtt + 0.2 * now;
            $('live-latency-rtt').textContent = `${rtt.toFixed(0)} ms (block sent → converted block back) · end to end ≈ ${(algo + rtt).toFixed(0)} ms plus the audio device's buffers`;
          }
          $('live-received').textContent = `${(received / rate).toFixed(1)} s`;
          playback.port.postMessage(pcm, [pcm.buffer]);
          return;
        }
        const m = JSON.parse(e.data) as { type: string; [k: string]: unknown };
        if (m.type === 'ready') {
          ready = true;
          algo = Number(m.latency_ms);
          $('live-latency-algo').textContent = `${algo.toFixed(0)} ms (block ${(Number(m.block_seconds) * 1000).toFixed(0)} ms + right context + SOLA crossfade and search)`;
          $('live-compute').textContent = 'waiting for the server\'s first report';
          status(`Live: converting at ${rate} Hz (model ${String(m.sample_rate)} Hz).`);
        } else if (m.type === 'stats' || m.type === 'done') {
          const c = m.compute_ms as { p50: number; p95: number } | undefined;
          if (c) $('live-compute').textContent = `p50 ${c.p50.toFixed(0)} ms, p95 ${c.p95.toFixed(0)} ms · ${(Number(m.deadline_miss_share ?? 0) * 100).toFixed(0)}% of blocks late`;
        } else if (m.type === 'error') {
          serverError = String(m.message ?? m.code);
        }
      };
      ws.onerror = () => { if (!serverError) serverError = 'the connection to the server failed'; };
      ws.onclose = (e) => {
        if (run !== r) return;
        if (serverError) teardown(`The server stopped the live stream: ${serverError}`, true);
        else if (r.stopping || e.code === 1000) teardown(`Stopped. ${(received / rate).toFixed(1)} s converted.`);
        else teardown(`The live stream closed unexpectedly (code ${e.code}${e.reason ? `: ${e.reason}` : ''}).`, true);
      };
      await ctx.resume();
    } catch (e) {
      if (run) teardown(); else { mic?.getTracks().forEach((t) => t.stop()); void ctx?.close().catch(() => {}); setRunning(false); }
      status(e instanceof Error ? e.message : String(e), true);
      startBtn.focus();
    }
  }

  function stop(): void {
    const r = run;
    if (!r || r.stopping) return;
    r.stopping = true;
    status('Stopping…');
    r.mic.getTracks().forEach((t) => t.stop());
    if (r.ws.readyState === WebSocket.OPEN) {
      r.ws.send(JSON.stringify({ type: 'end' }));
      // The server converts the last block, says done and closes; do not wait forever.
      setTimeout(() => { if (run === r) teardown(`Stopped.`); }, 10_000);
    } else teardown('Stopped.');
  }

  $('live-form').addEventListener('submit', (e) => { e.preventDefault(); void start(); });
  stopBtn.addEventListener('click', stop);
  monitorBox.addEventListener('change', () => { if (run) run.monitor.gain.value = monitorBox.checked ? 1 : 0; });
  window.addEventListener('pagehide', () => teardown());
}

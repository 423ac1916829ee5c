/**
 * `/v1/stream`: live conversion over a WebSocket, one stream per socket.
 *
 *   client -> server  text   {"voice": "<saved voice id>", "format": "f32le"|"s16le", "rate": 22050,
 *                              "settings": {"block_time": 0.18, ...the GUI's names}, "seed": 0, "vad": false}
 *   server -> client  text   {"type": "ready", "sample_rate", "rate", "block_seconds", "latency_ms", "settings"}
 *   client -> server  binary PCM frames (mono, whole samples, any size)
 *   server -> client  binary converted PCM, one message per block;  text {"type": "stats", ...} now and then
 *   client -> server  text   {"type": "end"}  -> the last partial block is converted, then {"type": "done"} and close 1000
 *
 * Back-pressure: input more than MAX_BACKLOG_SECONDS ahead of the conversion, or a client that does not read
 * its output (more than MAX_UNREAD_BYTES unsent), ends the stream with {"type": "error"} and close 1008.
 * Bad settings, an unknown voice, a wrong rate or frames that split a sample end it the same way (1003 / 1008);
 * the server keeps serving. Conversions run in a worker thread per stream.
 */
import { Worker } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { STREAM_DEFAULTS, streamSizes } from '../core/pipeline/stream.ts';
import { PCM_BYTES, type PcmFormat } from '../core/pipeline/stream-io.ts';
import type { LoadOptions } from '../node/load.ts';
import type { DataStore } from './store.ts';
import type { FromStreamWorker, StreamWorkerData, ToStreamWorker } from './stream-worker.ts';

export const MAX_BACKLOG_SECONDS = 5;
export const MAX_UNREAD_BYTES = 8 << 20;
const SETTINGS_TIMEOUT_MS = 10_000;

const Settings = z.object({
  block_time: z.number().min(0.02).max(5).default(STREAM_DEFAULTS.blockTime),
  crossfade_time: z.number().min(0.02).max(1).default(STREAM_DEFAULTS.crossfadeTime),
  extra_time_ce: z.number().min(0).max(10).default(STREAM_DEFAULTS.extraTimeCe),
  extra_time: z.number().min(0).max(10).default(STREAM_DEFAULTS.extraTime),
  extra_time_right: z.number().min(0.02).max(2).default(STREAM_DEFAULTS.extraTimeRight),
  diffusion_steps: z.number().int().min(1).max(50).default(STREAM_DEFAULTS.diffusionSteps),
  inference_cfg_rate: z.number().min(0).max(2).default(STREAM_DEFAULTS.inferenceCfgRate),
  max_prompt_length: z.number().min(0.5).max(30).default(STREAM_DEFAULTS.maxPromptLength),
}).strict();

export const StreamStart = z.object({
  voice: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  format: z.enum(['f32le', 's16le']).default('f32le'),
  rate: z.number().int().min(8000).max(192000).optional(),
  settings: Settings.default(Settings.parse({})),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  vad: z.boolean().default(false),
}).strict();

export interface StreamRouteOptions {
  load: LoadOptions;
  store: DataStore;
  /** Live streams at once (each holds a worker thread with its models). */
  maxStreams: number;
  log?: (line: string) => void;
}

function spawnStreamWorker(data: StreamWorkerData): Worker {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './stream-worker.ts' : './stream-worker.js', import.meta.url).href;
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry), { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** Registers GET /v1/stream (the @fastify/websocket plugin must be registered first). */
export function registerStreamRoute(app: FastifyInstance, o: StreamRouteOptions): { close(): Promise<void> } {
  const live = new Set<{ stop(): void }>();
  app.get('/v1/stream', { websocket: true }, (socket: WebSocket) => {
    let worker: Worker | undefined;
    let closed = false;
    let format: PcmFormat = 'f32le';
    let sampleBytes = 4;
    let pendingBytes = 0; // sent to the worker, not yet converted
    let bytesPerSecond = 0;
    let ended = false;
    const entry = { stop: () => fail(1001, 'server_shutdown', 'the server is shutting down') };
    const send = (m: Record<string, unknown>) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m)); };
    const finish = () => {
      closed = true;
      live.delete(entry);
      void worker?.terminate();
      worker = undefined;
    };
    const fail = (code: number, error: string, message: string) => {
      if (closed) return;
      send({ type: 'error', code: error, message });
      finish();
      socket.close(code, error);
    };
    const timer = setTimeout(() => fail(1008, 'no_settings', `send the settings as the first (text) message within ${SETTINGS_TIMEOUT_MS / 1000} s`), SETTINGS_TIMEOUT_MS);

    socket.on('close', () => { clearTimeout(timer); finish(); });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (closed) return;
      if (!worker) {
        clearTimeout(timer);
        if (isBinary) return fail(1003, 'bad_message', 'the first message must be the settings (text JSON), not audio');
        void start(data.toString('utf8'));
        return;
      }
      if (!isBinary) {
        let m: unknown;
        try { m = JSON.parse(data.toString('utf8')); } catch { m = undefined; }
        if (m && typeof m === 'object' && (m as { type?: unknown }).type === 'end') {
          ended = true;
          worker.postMessage({ type: 'end' } satisfies ToStreamWorker);
          return;
        }
        return fail(1003, 'bad_message', 'after the settings only binary PCM frames and {"type":"end"} are accepted (one stream per socket)');
      }
      if (ended) return fail(1003, 'bad_message', 'audio after {"type":"end"}');
      if (data.length % sampleBytes !== 0) {
        return fail(1003, 'bad_frame', `binary frames must hold whole ${format} samples (a multiple of ${sampleBytes} bytes); got ${data.length} bytes`);
      }
      pendingBytes += data.length;
      if (bytesPerSecond && pendingBytes / bytesPerSecond > MAX_BACKLOG_SECONDS) {
        return fail(1008, 'backlog', `audio arrives faster than it is converted (${(pendingBytes / bytesPerSecond).toFixed(1)} s waiting, limit ${MAX_BACKLOG_SECONDS} s): send in real time or choose lighter settings`);
      }
      const copy = new Uint8Array(data);
      worker.postMessage({ type: 'pcm', data: copy } satisfies ToStreamWorker, [copy.buffer]);
    });

    const start = async (text: string) => {
      let parsed: z.infer<typeof StreamStart>;
      try {
        parsed = StreamStart.parse(JSON.parse(text));
      } catch (e) {
        const msg = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ') : 'not valid JSON';
        return fail(1008, 'bad_settings', `stream settings: ${msg}`);
      }
      const s = parsed.settings;
      const settings = {
        blockTime: s.block_time, crossfadeTime: s.crossfade_time, extraTimeCe: s.extra_time_ce, extraTime: s.extra_time,
        extraTimeRight: s.extra_time_right, diffusionSteps: s.diffusion_steps, inferenceCfgRate: s.inference_cfg_rate, maxPromptLength: s.max_prompt_length,
      };
      try {
        streamSizes(settings, 22050, 256); // the GUI's own refusals (e.g. extra_time > extra_time_ce), before any work
      } catch (e) {
        return fail(1008, 'bad_settings', `stream settings: ${(e as Error).message}`);
      }
      const voice = await o.store.voice(parsed.voice);
      if (closed) return;
      if (!voice) return fail(1008, 'not_found', `no saved voice '${parsed.voice}' (POST /v1/voices first)`);
      if (live.size >= o.maxStreams) return fail(1013, 'busy', `${o.maxStreams} live stream(s) already run on this server; try again later`);
      live.add(entry);
      format = parsed.format;
      sampleBytes = PCM_BYTES[format];
      const { onEvent: _e, log: _l, ...load } = o.load;
      worker = spawnStreamWorker({
        load: { ...load, model: load.model ?? 'realtime' }, referencePath: o.store.abs(o.store.voiceAudioRel(voice)),
        settings, format, rate: parsed.rate, seed: parsed.seed, vad: parsed.vad,
      });
      worker.on('message', (m: FromStreamWorker) => {
        if (closed) return;
        if (m.type === 'ready') {
          bytesPerSecond = m.rate * sampleBytes;
          send({ type: 'ready', sample_rate: m.sampleRate, rate: m.rate, format, block_seconds: m.blockSeconds, block_samples: m.blockSamples, latency_ms: m.latencyMs, settings: m.settings });
        } else if (m.type === 'audio' || m.type === 'consumed') {
          pendingBytes -= m.type === 'audio' ? m.consumedBytes : m.bytes;
          if (m.type === 'audio' && m.data.length) {
            if (socket.bufferedAmount > MAX_UNREAD_BYTES) {
              return fail(1008, 'slow_reader', `the client is not reading its output (${(socket.bufferedAmount / 2 ** 20).toFixed(1)} MiB unsent)`);
            }
            socket.send(m.data);
          }
        } else if (m.type === 'stats') {
          send({ type: 'stats', blocks: m.blocks, compute_ms: m.computeMs, deadline_miss_share: m.deadlineMissShare, vad_skipped_share: m.vadSkippedShare });
        } else if (m.type === 'done') {
          send({ type: 'done', blocks: m.summary.blocks, compute_ms: m.summary.computeMs, deadline_miss_share: m.summary.deadlineMissShare, vad_skipped_share: m.summary.vadSkippedShare });
          finish();
          socket.close(1000, 'done');
        } else if (m.type === 'error') {
          fail(1011, 'stream_failed', m.message);
        }
      });
      worker.on('error', (e) => fail(1011, 'stream_failed', e.message.split('\n')[0]));
      worker.on('exit', (code) => { if (!closed && code !== 0) fail(1011, 'stream_failed', `the stream worker stopped (exit ${code})`); });
      o.log?.(`stream: voice ${parsed.voice}, ${format} at ${parsed.rate ?? 'model rate'}`);
    };
  });
  return { close: async () => { for (const e of [...live]) e.stop(); } };
}

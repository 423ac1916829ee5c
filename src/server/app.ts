/**
 * `seed-vc serve`: the HTTP API, the docs and the web app on one Fastify server. Conversions never run
 * on this thread: they go to a JobQueue (worker threads here, or BullMQ workers behind Redis), and this
 * thread only validates, stores uploads, tracks jobs and streams their progress.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { encodeWav, readWav, toMono } from '../core/audio/index.ts';
import { MODEL_SETS } from '../core/models/catalog.ts';
import { MIN_SECONDS } from '../core/pipeline/convert.ts';
import { AB_FILES } from '../node/ab.ts';
import { doctorReport } from '../node/doctor.ts';
import type { LoadOptions } from '../node/load.ts';
import { ApiError, badOption, errorBody, notFound, toApiError, zodMessage } from './errors.ts';
import { LocalQueue } from './jobs/local.ts';
import { type JobQueue, QueueFullError, type Task } from './jobs/types.ts';
import { docsHtml, openApiDocument } from './openapi.ts';
import { type JobRecord, JobRegistry, type StreamMessage, isFinal } from './registry.ts';
import { AbOptions, AudioQuery, ConversionOptions, V1_ONLY_FIELDS, V2_ONLY_FIELDS, VoiceUpload, fieldTypes } from './schemas.ts';
import { V2_DEFAULTS } from '../core/pipeline/v2/convert.ts';
import { type CheckedAudio, DataStore, ID_PATTERN, type Limits, checkAudio, newId } from './store.ts';
import { ORT_WEB_FILES, webAsset } from './web-assets.ts';
import { registerStreamRoute } from './stream-socket.ts';

export const VERSION = '0.1.0';

export interface ServeOptions {
  host: string;
  port: number;
  /** Bearer token required on /v1 routes (mandatory when host is not a loopback address). */
  token?: string;
  /** Allowed CORS origin (CORS is off without it). */
  cors?: string;
  dataDir: string;
  workers: number;
  /** Waiting jobs beyond the running ones before 429. */
  queueSize: number;
  resultTtlSeconds: number;
  limits: Limits;
  /** Model options for the workers (those of `seed-vc convert`). */
  load: LoadOptions;
  /** A v2 wrapper YAML for requests with model 'v2' (default: the official one). */
  v2Config?: string;
  /** A custom queue (e.g. Redis); default: worker threads in this process. */
  queue?: JobQueue;
  /** Fault injection for tests (see jobs/thread.ts). */
  fault?: string;
  log?: (line: string) => void;
}

export interface SeedVcServer {
  app: FastifyInstance;
  queue: JobQueue;
  registry: JobRegistry;
  store: DataStore;
  /** Cancels every job, stops the workers, removes temporary files. */
  close(): Promise<void>;
}

/** COOP + COEP: makes the served pages cross-origin isolated (`crossOriginIsolated` true). */
export const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } as const;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
export const isLoopback = (host: string) => LOOPBACK.test(host);

export async function createServer(o: ServeOptions): Promise<SeedVcServer> {
  if (!isLoopback(o.host) && !o.token) {
    throw new ApiError(400, 'bad_option', `binding ${o.host} exposes the server beyond this machine: give --token SECRET (clients then send Authorization: Bearer SECRET)`);
  }
  const log = o.log ?? (() => {});
  const store = new DataStore(o.dataDir);
  await store.init();
  const registry = new JobRegistry(store, o.resultTtlSeconds * 1000);
  const queue = o.queue ?? new LocalQueue({
    workers: o.workers, capacity: o.queueSize, fault: o.fault, log,
    runner: { load: stripFunctions(o.load), v2Config: o.v2Config, dataDir: o.dataDir },
  });
  queue.onEvent((id, e) => registry.apply(id, e));
  const started = Date.now();

  const app = Fastify({ logger: false, bodyLimit: 1 << 20, exposeHeadRoutes: true });
  await app.register(multipart, {
    limits: { fileSize: o.limits.maxUploadBytes, files: 4, fields: 30, fieldSize: 4096, parts: 32 },
  });

  await app.register(websocket, { options: { maxPayload: 1 << 20 } });

  app.setErrorHandler(async (e, req, reply) => {
    const api = e instanceof QueueFullError
      ? new ApiError(429, 'queue_full', e.message, { 'Retry-After': String(e.retryAfterSeconds) })
      : toApiError(e);
    if (api.status >= 500) log(`error: ${(e as Error).stack ?? e}`);
    // A refused upload may still be arriving: read (and drop) the rest, so the client gets the answer
    // instead of a reset connection; a client that keeps sending far beyond the limit is cut off.
    if (!req.raw.complete) await drain(req.raw, o.limits.maxUploadBytes * 4, 10_000);
    return reply.status(api.status).headers(api.headers).send(errorBody(api));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody(notFound(`no route ${req.method} ${req.url.split('?')[0]}`)));
  });

  // CORS, only for the one origin the operator named.
  const corsHeaders = (req: FastifyRequest): Record<string, string> => (o.cors && (o.cors === '*' || req.headers.origin === o.cors)
    ? { 'access-control-allow-origin': o.cors, 'access-control-expose-headers': 'content-range, content-length, retry-after, accept-ranges', vary: 'Origin' }
    : {});
  app.addHook('onRequest', async (req, reply) => {
    void reply.headers(corsHeaders(req));
    // Cross-origin isolation: the web app's in-browser conversion gets SharedArrayBuffer, hence multithreaded
    // WASM. Every response carries it, so the worker, the ORT files and the A/B report iframe match the page;
    // its resources are same-origin, and model files from other origins are fetched with CORS.
    void reply.headers(ISOLATION_HEADERS);
    if (req.method === 'OPTIONS' && o.cors) {
      return reply.status(204).headers({
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, range',
        'access-control-max-age': '600',
      }).send();
    }
    if (o.token && req.url.startsWith('/v1/') && !authorized(req, o.token)) {
      throw new ApiError(401, 'unauthorized', 'this server needs Authorization: Bearer <token> (or ?access_token= for EventSource and media elements)');
    }
    return undefined;
  });

  // ---- docs, web app, health ----
  const openapi = openApiDocument({ version: VERSION });
  app.get('/openapi.json', async () => openapi);
  app.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(docsHtml(openapi)));
  app.get('/healthz', async () => ({ status: 'ok' as const, uptime_s: (Date.now() - started) / 1000, queue: await queue.stats() }));
  for (const name of ['/', '/index.html', '/app.js', '/app.css', '/browser/worker.js', ...ORT_WEB_FILES.map((f) => `/browser/ort/${f}`)]) {
    app.get(name, async (_req, reply) => {
      const a = await webAsset(name === '/' ? '/index.html' : name);
      return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
    });
  }

  // ---- models & doctor ----
  app.get('/v1/models', async () => ({
    default: o.load.checkpoint ? 'custom' : (o.load.model ?? 'offline'),
    custom_checkpoint: Boolean(o.load.checkpoint),
    precision: o.load.precision ?? 'auto',
    device: o.load.device ?? 'auto',
    sets: Object.values(MODEL_SETS).map((s) => ({ id: s.id, title: s.title, checkpoint: `${s.checkpoint.repo}/${s.checkpoint.file}`, config: `${s.config.repo}/${s.config.file}` })),
    limits: {
      max_upload_bytes: o.limits.maxUploadBytes, max_source_seconds: o.limits.maxSourceSeconds, max_reference_seconds: o.limits.maxReferenceSeconds,
      min_seconds: MIN_SECONDS, max_diffusion_steps: 200, queue_capacity: o.queueSize, result_ttl_s: o.resultTtlSeconds,
    },
    defaults: { ...ConversionOptions.parse({}), precision: o.load.precision ?? 'auto' },
  }));
  let doctor: Promise<unknown> | undefined;
  app.get('/v1/doctor', async () => (doctor ??= doctorReport()));

  // ---- uploads ----
  const types = { conversion: fieldTypes(ConversionOptions), ab: fieldTypes(AbOptions), voice: fieldTypes(VoiceUpload) };

  /** Reads a multipart request: text fields typed by the schema, files as bytes (bounded by the plugin's limits). */
  async function readMultipart(req: FastifyRequest, fileFields: readonly string[], kinds: Record<string, string>) {
    if (!req.isMultipart()) throw new ApiError(415, 'unsupported_media_type', `send multipart/form-data (got ${req.headers['content-type'] ?? 'no content type'})`);
    const fields: Record<string, unknown> = {};
    const files: Record<string, Uint8Array> = {};
    // Every part is read to the end (the plugin bounds sizes) and the first problem is thrown after:
    // leaving the loop early would stall the upload and reset the client's connection.
    let problem: unknown;
    for await (const part of req.parts()) {
      const name = part.fieldname;
      try {
        if (name in fields || name in files) throw badOption(`field '${name}' is given twice`);
        if (part.type === 'file') {
          if (!fileFields.includes(name)) throw badOption(`unexpected file field '${name}' (files accepted: ${fileFields.join(', ')})`);
          const bytes = new Uint8Array(await part.toBuffer());
          if (bytes.length > 0) files[name] = bytes;
        } else {
          fields[name] = typedField(name, String(part.value), kinds[name]);
        }
      } catch (e) {
        if (part.type === 'file' && !part.file.readableEnded) part.file.resume();
        problem ??= e;
      }
    }
    if (problem) throw problem;
    return { fields, files };
  }

  async function checked(bytes: Uint8Array, label: string, maxSeconds: number): Promise<CheckedAudio> {
    if (bytes.length > o.limits.maxUploadBytes) throw new ApiError(413, 'too_large', `${label} is ${bytes.length} bytes; the limit is ${o.limits.maxUploadBytes}`);
    return checkAudio(bytes, label, maxSeconds);
  }

  /** Source and reference of a job, from files or saved voices; stored under the job's upload folder. */
  async function jobInputs(id: string, files: Record<string, Uint8Array>, voice: string | undefined, sourceVoice?: string): Promise<{ source: string; reference: string }> {
    let source: string;
    if (files.source) {
      source = await store.saveUpload(id, 'source', await checked(files.source, 'source', o.limits.maxSourceSeconds));
    } else if (sourceVoice) {
      const v = await store.voice(sourceVoice);
      if (!v) throw notFound(`no saved voice '${sourceVoice}' (GET /v1/voices lists them)`);
      source = store.voiceAudioRel(v);
    } else {
      throw new ApiError(400, 'missing_field', "missing field 'source': upload the audio to convert");
    }
    let reference: string;
    if (files.reference && voice) throw badOption("give either a 'reference' file or a saved 'voice', not both");
    if (files.reference) {
      reference = await store.saveUpload(id, 'reference', await checked(files.reference, 'reference', o.limits.maxReferenceSeconds));
    } else if (voice) {
      const v = await store.voice(voice);
      if (!v) throw notFound(`no saved voice '${voice}' (GET /v1/voices lists them)`);
      reference = store.voiceAudioRel(v);
    } else {
      throw new ApiError(400, 'missing_field', "missing field 'reference': upload the voice to convert to, or give 'voice' (a saved voice id)");
    }
    return { source, reference };
  }

  async function enqueue(task: Task, options: Record<string, unknown>, reply: FastifyReply, base: string) {
    const rec = registry.add(task, options);
    try {
      await queue.submit(task);
    } catch (e) {
      await registry.remove(task.id);
      throw e;
    }
    const links = { self: `${base}/${task.id}`, events: `${base}/${task.id}/events` };
    return reply.status(202).header('location', links.self).send({ id: task.id, state: rec.state, links });
  }

  app.post('/v1/conversions', async (req, reply) => {
    const id = newId();
    try {
      let fields: Record<string, unknown>;
      let files: Record<string, Uint8Array> = {};
      let sourceVoice: string | undefined;
      if (req.isMultipart()) {
        ({ fields, files } = await readMultipart(req, ['source', 'reference'], { ...types.conversion, source_voice: 'string' }));
      } else if (req.headers['content-type']?.startsWith('application/json')) {
        fields = { ...(req.body as Record<string, unknown> ?? {}) };
      } else {
        throw new ApiError(415, 'unsupported_media_type', 'send multipart/form-data (source and reference files) or application/json (saved voices)');
      }
      if (typeof fields.source_voice === 'string') sourceVoice = fields.source_voice;
      delete fields.source_voice;
      const opts = parse(ConversionOptions, fields);
      if (o.load.checkpoint && (opts.model || opts.f0_condition)) throw badOption('this server runs a custom --checkpoint; model and f0_condition cannot be chosen per request');
      // `serve --model v2` makes v2 the default for requests that name no model.
      const v2 = (opts.model ?? (o.load.model as string | undefined)) === 'v2';
      const given = (names: readonly string[]) => names.filter((k) => fields[k] !== undefined);
      const wrongKind = v2 ? given(V1_ONLY_FIELDS) : given(V2_ONLY_FIELDS);
      if (wrongKind.length) {
        throw badOption(v2
          ? `${wrongKind.join(', ')}: not for model v2 (it takes ${V2_ONLY_FIELDS.join(', ')})`
          : `${wrongKind.join(', ')}: only for model v2`);
      }
      if (v2 && fields.diffusion_steps === undefined) opts.diffusion_steps = V2_DEFAULTS.diffusionSteps;
      const { source, reference } = await jobInputs(id, files, opts.voice, sourceVoice);
      const seed = opts.seed ?? randomSeed();
      const task: Task = {
        kind: 'conversion', id, source, reference, output: store.resultRel(id),
        model: { model: v2 ? 'v2' : opts.model, f0Condition: opts.f0_condition || undefined, precision: opts.precision },
        options: {
          diffusionSteps: opts.diffusion_steps, lengthAdjust: opts.length_adjust, inferenceCfgRate: opts.inference_cfg_rate,
          autoF0Adjust: opts.auto_f0_adjust, semiToneShift: opts.semi_tone_shift, seed,
        },
        ...(v2 ? {
          v2: {
            intelligibilityCfgRate: opts.intelligibility_cfg_rate, similarityCfgRate: opts.similarity_cfg_rate,
            convertStyle: opts.convert_style, anonymizationOnly: opts.anonymization_only,
            topP: opts.top_p, temperature: opts.temperature, repetitionPenalty: opts.repetition_penalty,
          },
        } : {}),
      };
      // The job reports the options of its model kind only.
      const reported: Record<string, unknown> = { ...opts, seed, precision: opts.precision ?? o.load.precision ?? 'auto' };
      for (const k of v2 ? V1_ONLY_FIELDS : V2_ONLY_FIELDS) delete reported[k];
      return await enqueue(task, reported, reply, '/v1/conversions');
    } catch (e) {
      await store.removeUploads(id);
      throw e;
    }
  });

  app.post('/v1/ab', async (req, reply) => {
    const id = newId();
    try {
      const { fields, files } = await readMultipart(req, ['source', 'reference'], types.ab);
      const opts = parse(AbOptions, fields);
      const { source, reference } = await jobInputs(id, files, opts.voice);
      const task: Task = {
        kind: 'ab', id, source, reference, output: store.resultRel(id, ''), model: {},
        a: opts.a, b: opts.b, diffusionSteps: opts.diffusion_steps, lengthAdjust: opts.length_adjust, inferenceCfgRate: opts.inference_cfg_rate, seed: opts.seed,
      };
      return await enqueue(task, opts, reply, '/v1/ab');
    } catch (e) {
      await store.removeUploads(id);
      throw e;
    }
  });

  // ---- jobs ----
  const job = (kind: 'conversion' | 'ab', id: string): JobRecord => {
    const rec = ID_PATTERN.test(id) ? registry.get(id) : undefined;
    if (!rec || rec.task.kind !== kind) throw notFound(`no ${kind === 'ab' ? 'A/B job' : 'conversion'} '${id}' (finished jobs expire after ${o.resultTtlSeconds} s)`);
    return rec;
  };
  app.get('/v1/conversions', async () => ({ conversions: registry.all().filter((r) => r.task.kind === 'conversion').map((r) => registry.toJson(r)) }));

  for (const [base, kind] of [['/v1/conversions', 'conversion'], ['/v1/ab', 'ab']] as const) {
    app.get<{ Params: { id: string } }>(`${base}/:id`, async (req) => registry.toJson(job(kind, req.params.id)));
    app.get<{ Params: { id: string } }>(`${base}/:id/events`, async (req, reply) => {
      const rec = job(kind, req.params.id);
      streamEvents(req, reply, rec, registry, corsHeaders(req));
    });
    app.delete<{ Params: { id: string } }>(`${base}/:id`, async (req, reply) => {
      const rec = job(kind, req.params.id);
      if (isFinal(rec.state)) {
        await registry.remove(rec.task.id);
        return reply.status(204).send();
      }
      await queue.cancel(rec.task.id);
      // A queued job is cancelled at once; a running one stops at its next diffusion step.
      await Promise.race([rec.ended, new Promise((r) => setTimeout(r, 5000))]);
      return registry.toJson(rec);
    });
  }

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/v1/conversions/:id/audio', async (req, reply) => {
    const rec = job('conversion', req.params.id);
    const q = parse(AudioQuery, req.query, 'query ');
    if (rec.state !== 'succeeded') throw new ApiError(409, 'conflict', `conversion ${rec.task.id} is ${rec.state}; audio exists once it has succeeded`);
    const raw = new Uint8Array(await readFile(store.abs(store.resultRel(rec.task.id))));
    let body: Uint8Array = raw;
    if (q.format === 'pcm16') {
      const w = readWav(raw, 'output.wav');
      body = encodeWav(toMono(w), w.sampleRate, { format: 'pcm16' });
    }
    if (q.download === '1') void reply.header('content-disposition', `attachment; filename="seed-vc-${rec.task.id}.wav"`);
    return sendRange(req, reply, body, 'audio/wav');
  });

  for (const file of [AB_FILES.html, AB_FILES.json, AB_FILES.a, AB_FILES.b, AB_FILES.source, AB_FILES.reference, AB_FILES.specA, AB_FILES.specB, AB_FILES.diff]) {
    app.get<{ Params: { id: string } }>(`/v1/ab/:id/${file}`, async (req, reply) => {
      const rec = job('ab', req.params.id);
      if (rec.state !== 'succeeded') throw new ApiError(409, 'conflict', `A/B job ${rec.task.id} is ${rec.state}; the report exists once it has succeeded`);
      const body = new Uint8Array(await readFile(store.abs(store.resultRel(rec.task.id, file))));
      const type = file.endsWith('.html') ? 'text/html; charset=utf-8' : file.endsWith('.json') ? 'application/json' : file.endsWith('.png') ? 'image/png' : 'audio/wav';
      return sendRange(req, reply, body, type);
    });
  }

  // ---- voices ----
  app.get('/v1/voices', async () => ({ voices: await store.voices() }));
  app.post('/v1/voices', async (req, reply) => {
    const { fields, files } = await readMultipart(req, ['audio'], types.voice);
    if (!files.audio) throw new ApiError(400, 'missing_field', "missing field 'audio': upload the reference clip");
    const meta = parse(VoiceUpload.omit({ audio: true }), fields);
    const voice = await store.saveVoice(meta.name, await checked(files.audio, 'audio', o.limits.maxReferenceSeconds));
    return reply.status(201).header('location', `/v1/voices/${voice.id}`).send(voice);
  });
  const voiceOr404 = async (id: string) => {
    const v = await store.voice(id);
    if (!v) throw notFound(`no saved voice '${id}'`);
    return v;
  };
  app.get<{ Params: { id: string } }>('/v1/voices/:id', async (req) => {
    const { file: _f, ...v } = await voiceOr404(req.params.id);
    return v;
  });
  app.get<{ Params: { id: string } }>('/v1/voices/:id/audio', async (req, reply) => {
    const v = await voiceOr404(req.params.id);
    const body = new Uint8Array(await readFile(store.abs(store.voiceAudioRel(v))));
    const type = v.container === 'wav' ? 'audio/wav' : v.container === 'mp3' ? 'audio/mpeg' : v.container === 'flac' ? 'audio/flac' : 'audio/ogg';
    return sendRange(req, reply, body, type);
  });
  app.delete<{ Params: { id: string } }>('/v1/voices/:id', async (req, reply) => {
    if (!(await store.deleteVoice(req.params.id))) throw notFound(`no saved voice '${req.params.id}'`);
    return reply.status(204).send();
  });

  let closing: Promise<void> | undefined;
  // live conversion over a WebSocket (one worker thread per stream)
  const streams = registerStreamRoute(app, { load: o.load, store, maxStreams: Math.max(1, o.workers), log });

  const close = () => (closing ??= (async () => {
    await streams.close();
    registry.close();
    await queue.close();
    // Give the SSE streams their final events, then stop listening.
    await app.close();
    for (const rec of registry.all()) await store.removeUploads(rec.task.id);
  })());
  return { app, queue, registry, store, close };
}

// ---- helpers ----

function authorized(req: FastifyRequest, token: string): boolean {
  const h = req.headers.authorization;
  let given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : undefined;
  if (given === undefined) {
    const q = req.query as Record<string, unknown> | undefined;
    if (typeof q?.access_token === 'string') given = q.access_token;
  }
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parse<T extends z.ZodType>(schema: T, data: unknown, where = ''): z.infer<T> {
  const query = where === 'query ' && data && typeof data === 'object' ? Object.fromEntries(Object.entries(data).filter(([k]) => k !== 'access_token')) : data;
  const r = schema.safeParse(query);
  if (!r.success) throw badOption(zodMessage(r.error, where));
  return r.data;
}

/** A multipart text field as the type its schema declares. */
function typedField(name: string, value: string, kind: string | undefined): unknown {
  const v = value.trim();
  if (kind === 'integer' || kind === 'number') {
    const n = Number(v);
    if (v === '' || !Number.isFinite(n)) throw badOption(`${name}: expected ${kind === 'integer' ? 'an integer' : 'a number'}, got '${value.slice(0, 40)}'`);
    return n;
  }
  if (kind === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(v)) return true;
    if (/^(false|0|no|off)$/i.test(v)) return false;
    throw badOption(`${name}: expected true or false, got '${value.slice(0, 40)}'`);
  }
  return value;
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Sends bytes with HTTP Range support (one range; 416 when unsatisfiable). */
function sendRange(req: FastifyRequest, reply: FastifyReply, body: Uint8Array, type: string) {
  void reply.type(type).header('accept-ranges', 'bytes');
  const range = req.headers.range;
  if (!range) return reply.header('content-length', body.length).send(Buffer.from(body.buffer, body.byteOffset, body.length));
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  const size = body.length;
  let start: number;
  let end: number;
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new ApiError(416, 'range_not_satisfiable', `unsupported Range '${range}' (one range: bytes=START-END)`, { 'content-range': `bytes */${size}` });
  }
  if (m[1] === '') { start = Math.max(0, size - Number(m[2])); end = size - 1; } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) {
    throw new ApiError(416, 'range_not_satisfiable', `range ${range} is outside the ${size} bytes`, { 'content-range': `bytes */${size}` });
  }
  const part = body.subarray(start, end + 1);
  return reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', part.length)
    .send(Buffer.from(part.buffer, part.byteOffset, part.length));
}

/** Server-Sent Events of one job: the job now, then its events, until it ends or the client leaves. */
function streamEvents(req: FastifyRequest, reply: FastifyReply, rec: JobRecord, registry: JobRegistry, cors: Record<string, string>): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no', ...cors });
  const write = (m: StreamMessage) => res.write(`event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
  write({ event: 'state', data: registry.toJson(rec) });
  if (isFinal(rec.state)) {
    write({ event: 'end', data: registry.toJson(rec) });
    res.end();
    return;
  }
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const listener = (m: StreamMessage) => {
    write(m);
    if (m.event === 'end') { cleanup(); res.end(); }
  };
  const cleanup = () => { clearInterval(heartbeat); rec.listeners.delete(listener); };
  rec.listeners.add(listener);
  req.raw.on('close', cleanup);
}

/** Reads and drops what is left of a request body (at most `maxBytes`, `maxMs`). */
function drain(req: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  return new Promise((done) => {
    let n = 0;
    const finish = () => { clearTimeout(timer); req.off('data', onData); done(); };
    const onData = (chunk: Buffer) => { n += chunk.length; if (n > maxBytes) { req.destroy(); finish(); } };
    const timer = setTimeout(() => { req.destroy(); finish(); }, maxMs);
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.resume();
  });
}

/** Worker threads get plain data: the load options without their callbacks. */
function stripFunctions(o: LoadOptions): LoadOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v !== 'function' && v !== undefined)) as LoadOptions;
}

/** Default data directory: beside the model cache. */
export function defaultDataDir(cacheDir: string): string {
  return join(cacheDir, 'serve');
}

/**
 * The API's routes as data, and the OpenAPI 3.1 document made from them and from the zod schemas that
 * validate requests (schemas.ts) — so the document cannot drift from what the server accepts. A
 * readable HTML page of the same document is served at /docs.
 */
import { z } from 'zod';
import {
  AbUpload, Accepted, AudioQuery, ConversionOptions, ConversionUpload, ErrorBody, Health, Job, Models, Voice, VoiceList, VoiceUpload,
} from './schemas.ts';

export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  description?: string;
  auth: boolean;
  body?: { type: 'multipart/form-data' | 'application/json'; schema: z.ZodType }[];
  query?: z.ZodObject;
  /** Status -> [description, JSON schema or a media type with a description]. */
  responses: Record<number, [string, z.ZodType | { media: string }]>;
}

const err = (d: string): [string, z.ZodType] => [d, ErrorBody];
const COMMON_ERRORS = { 401: err('missing or wrong Bearer token (when the server has --token)') };
const JOB_ERRORS = { ...COMMON_ERRORS, 404: err('no such job (unknown id, or expired after the result TTL)') };
const UPLOAD_ERRORS = {
  ...COMMON_ERRORS,
  400: err('a bad or unknown option, or a missing field (the message names it and what is accepted)'),
  404: err('unknown voice id'),
  413: err('an upload larger than the byte limit'),
  415: err('not multipart/form-data or JSON, or audio in a format that cannot be read (sniffed from the bytes)'),
  422: err('audio too long, too short, silent or with NaN samples'),
  429: err('the queue is full; the Retry-After header says when to try again'),
};

export const ROUTES: RouteDoc[] = [
  {
    method: 'post', path: '/v1/conversions', summary: 'Start a voice conversion', auth: true,
    description: 'Converts `source` to the voice of `reference` (or of a saved `voice`). Options are Seed-VC\'s, with its defaults. Answers at once with the job id; follow it with GET /v1/conversions/{id}/events.',
    body: [{ type: 'multipart/form-data', schema: ConversionUpload }, { type: 'application/json', schema: ConversionOptions.extend({ source_voice: z.string().describe('id of a saved voice used as the source') }) }],
    responses: { 202: ['queued', Accepted], ...UPLOAD_ERRORS },
  },
  { method: 'get', path: '/v1/conversions', summary: 'List this server\'s conversions', auth: true, responses: { 200: ['jobs', z.object({ conversions: z.array(Job) })], ...COMMON_ERRORS } },
  { method: 'get', path: '/v1/conversions/{id}', summary: 'State, progress, timings, RTF, fp16 guard events, result or error', auth: true, responses: { 200: ['the job', Job], ...JOB_ERRORS } },
  {
    method: 'get', path: '/v1/conversions/{id}/events', summary: 'Progress as Server-Sent Events', auth: true,
    description: 'Events: `state` (first the whole job, then each state change), `progress` (the library\'s typed events: stage start/done with ms, content window, diffusion window/step, guard, model load, plus `fraction`), `end` (the final job, then the stream closes). Browsers\' EventSource cannot send headers: pass the token as `?access_token=`.',
    responses: { 200: ['text/event-stream', { media: 'text/event-stream' }], ...JOB_ERRORS },
  },
  {
    method: 'get', path: '/v1/conversions/{id}/audio', summary: 'The converted audio as WAV (HTTP Range supported)', auth: true, query: AudioQuery,
    responses: { 200: ['WAV', { media: 'audio/wav' }], 206: ['a byte range of the WAV', { media: 'audio/wav' }], 409: err('the job has not succeeded (yet)'), 416: err('unsatisfiable range'), ...JOB_ERRORS },
  },
  { method: 'delete', path: '/v1/conversions/{id}', summary: 'Cancel a queued or running conversion, or delete a finished one', auth: true, responses: { 200: ['the job after cancelling', Job], 204: ['a finished job was deleted', { media: 'none' }], ...JOB_ERRORS } },
  {
    method: 'post', path: '/v1/ab', summary: 'Start an A/B comparison (fp32 vs fp16 by default)', auth: true,
    description: 'Converts once per side with the same initial noise and reports log-mel L1, MCD, SNR, speaker cosine, F0 agreement, RTF and memory (as `seed-vc ab`). The HTML report and its JSON are served when done.',
    body: [{ type: 'multipart/form-data', schema: AbUpload }],
    responses: { 202: ['queued', Accepted], ...UPLOAD_ERRORS },
  },
  { method: 'get', path: '/v1/ab/{id}', summary: 'State of an A/B job', auth: true, responses: { 200: ['the job', Job], ...JOB_ERRORS } },
  { method: 'get', path: '/v1/ab/{id}/events', summary: 'Progress of an A/B job as Server-Sent Events', auth: true, responses: { 200: ['text/event-stream', { media: 'text/event-stream' }], ...JOB_ERRORS } },
  { method: 'get', path: '/v1/ab/{id}/report.html', summary: 'The A/B report page (its figures and clips are served beside it)', auth: true, responses: { 200: ['HTML', { media: 'text/html' }], 409: err('not finished'), ...JOB_ERRORS } },
  { method: 'get', path: '/v1/ab/{id}/report.json', summary: 'The A/B report as JSON', auth: true, responses: { 200: ['report', { media: 'application/json' }], 409: err('not finished'), ...JOB_ERRORS } },
  { method: 'delete', path: '/v1/ab/{id}', summary: 'Cancel or delete an A/B job', auth: true, responses: { 200: ['the job', Job], 204: ['deleted', { media: 'none' }], ...JOB_ERRORS } },
  { method: 'get', path: '/v1/voices', summary: 'Saved voices', auth: true, responses: { 200: ['voices', VoiceList], ...COMMON_ERRORS } },
  {
    method: 'get', path: '/v1/stream', summary: 'Live conversion (WebSocket)', auth: true,
    description: 'Upgrade to a WebSocket. First message (text): {"voice": id, "format": "f32le"|"s16le", "rate": Hz, "settings": {block_time, crossfade_time, extra_time_ce, extra_time, extra_time_right, diffusion_steps, inference_cfg_rate, max_prompt_length}, "seed", "vad"}; the server answers {"type":"ready", latency_ms, block_samples, ...}. Then binary mono PCM frames both ways (one converted block per message), {"type":"stats"} now and then; send {"type":"end"} to convert the last partial block and get {"type":"done"}. Errors arrive as {"type":"error", code, message} before the close (1003 bad message or frame, 1008 bad settings, unknown voice or backlog, 1009 a frame over 1 MiB, 1013 busy).',
    responses: { 101: ['switching to the WebSocket protocol', { media: 'websocket' }], ...COMMON_ERRORS },
  },
  {
    method: 'post', path: '/v1/voices', summary: 'Save a reference voice', auth: true,
    body: [{ type: 'multipart/form-data', schema: VoiceUpload }],
    responses: { 201: ['saved', Voice], 400: UPLOAD_ERRORS[400], 413: UPLOAD_ERRORS[413], 415: UPLOAD_ERRORS[415], 422: UPLOAD_ERRORS[422], ...COMMON_ERRORS },
  },
  { method: 'get', path: '/v1/voices/{id}', summary: 'One saved voice', auth: true, responses: { 200: ['voice', Voice], ...JOB_ERRORS } },
  { method: 'get', path: '/v1/voices/{id}/audio', summary: 'The saved clip as uploaded', auth: true, responses: { 200: ['audio', { media: 'audio/*' }], ...JOB_ERRORS } },
  { method: 'delete', path: '/v1/voices/{id}', summary: 'Delete a saved voice', auth: true, responses: { 204: ['deleted', { media: 'none' }], ...JOB_ERRORS } },
  { method: 'get', path: '/v1/models', summary: 'Model sets, defaults and limits of this server', auth: true, responses: { 200: ['models', Models], ...COMMON_ERRORS } },
  { method: 'get', path: '/v1/doctor', summary: 'Devices, their capabilities and the precision each stage would run in, with reasons', auth: true, responses: { 200: ['report', { media: 'application/json' }], ...COMMON_ERRORS } },
  { method: 'get', path: '/healthz', summary: 'Liveness and queue depth (no auth)', auth: false, responses: { 200: ['ok', Health] } },
];

const json = (s: z.ZodType) => {
  const { $schema: _s, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

export function openApiDocument(info: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params: unknown[] = [];
    for (const m of r.path.matchAll(/\{(\w+)\}/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    if (r.query) {
      const q = json(r.query) as { properties: Record<string, { description?: string }> };
      for (const [name, schema] of Object.entries(q.properties)) params.push({ name, in: 'query', required: false, description: schema.description, schema });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, [description, s]] of Object.entries(r.responses)) {
      if ('media' in s) responses[status] = s.media === 'none' ? { description } : { description, content: { [s.media]: { schema: { type: 'string', format: 'binary' } } } };
      else responses[status] = { description, content: { 'application/json': { schema: json(s) } } };
    }
    if (responses[429]) (responses[429] as Record<string, unknown>).headers = { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } };
    paths[r.path] ??= {};
    paths[r.path][r.method] = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: Object.fromEntries(r.body.map((b) => [b.type, { schema: json(b.schema) }])) } } : {}),
      responses,
      ...(r.auth ? {} : { security: [] }),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'seed-vc',
      version: info.version,
      description: 'Zero-shot voice conversion (Seed-VC) on ONNX Runtime. Jobs run in worker threads (or on Redis-backed workers); every error is JSON {error: {code, message}}.',
      license: { name: 'GPL-3.0-only', identifier: 'GPL-3.0-only' },
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'only when the server runs with --token' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));

/** A readable page of the OpenAPI document: every route, its fields with types, defaults and meaning. */
export function docsHtml(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  const fieldRows = (schema: Record<string, unknown>) => {
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const required = new Set((schema.required ?? []) as string[]);
    return Object.entries(props).map(([name, p]) => {
      const type = p.enum ? (p.enum as unknown[]).join(' | ') : p.format === 'binary' ? 'file' : `${p.type ?? 'any'}${p.minimum !== undefined || p.maximum !== undefined ? ` ${p.minimum ?? p.exclusiveMinimum ?? ''}..${p.maximum ?? ''}` : ''}`;
      return `<tr><td><code>${esc(name)}</code>${required.has(name) && p.default === undefined ? ' <small>required</small>' : ''}</td><td>${esc(type)}</td><td>${p.default !== undefined ? `<code>${esc(JSON.stringify(p.default))}</code>` : ''}</td><td>${esc(p.description)}</td></tr>`;
    }).join('');
  };
  const sections = Object.entries(paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => {
    const body = op.requestBody as { content: Record<string, { schema: Record<string, unknown> }> } | undefined;
    const params = (op.parameters ?? []) as { name: string; in: string; description?: string; schema: Record<string, unknown> }[];
    const responses = op.responses as Record<string, { description: string }>;
    return `<section id="${esc(method + path)}"><h2><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h2>
<p>${esc(op.summary)}</p>${op.description ? `<p>${esc(op.description)}</p>` : ''}
${params.filter((p) => p.in === 'query').length ? `<h3>Query</h3><table><tr><th>name</th><th>type</th><th>default</th><th>meaning</th></tr>${fieldRows({ properties: Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, p.schema])) })}</table>` : ''}
${body ? Object.entries(body.content).map(([type, c]) => `<h3>Body: ${esc(type)}</h3><table><tr><th>field</th><th>type</th><th>default</th><th>meaning</th></tr>${fieldRows(c.schema)}</table>`).join('') : ''}
<h3>Responses</h3><ul>${Object.entries(responses).map(([s, r]) => `<li><b>${esc(s)}</b> ${esc(r.description)}</li>`).join('')}</ul></section>`;
  }));
  const info = doc.info as { title: string; version: string; description: string };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title)} API</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#222}
code{font:13px ui-monospace,monospace;background:#f3f3f3;padding:0 .2em}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
section{border-top:1px solid #ccc;margin-top:1.5rem}.m{font-size:12px;padding:.1rem .4rem;border-radius:3px;color:#fff}
.get{background:#2a7}.post{background:#27a}.delete{background:#a33}h2{font-size:1.1rem}h3{font-size:.95rem;margin-bottom:.2rem}
</style></head><body><h1>${esc(info.title)} HTTP API <small>${esc(info.version)}</small></h1><p>${esc(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). With <code>--token</code>, send <code>Authorization: Bearer TOKEN</code> on /v1 routes.</p>
<nav><ul>${Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `<li><a href="#${esc(m + p)}">${m.toUpperCase()} ${esc(p)}</a></li>`)).join('')}</ul></nav>
${sections.join('\n')}</body></html>`;
}

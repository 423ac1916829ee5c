/**
 * Where a conversion runs, seen from the web app: a backend takes the inputs and Seed-VC's options,
 * reports the library's progress events, and yields a WAV. `serverBackend` runs it on the seed-vc
 * server (POST /v1/conversions + Server-Sent Events); an in-browser backend can implement the same
 * interface and the UI does not change.
 */

/** Seed-VC's options with its names (see GET /v1/models for the server's defaults and limits). */
export interface ConversionOptions {
  /** Absent: the v1 models; 'v2': Seed-VC v2, which takes the v2 fields instead of the v1-only ones. */
  model?: 'v2';
  diffusion_steps: number;
  length_adjust: number;
  inference_cfg_rate?: number;
  f0_condition?: boolean;
  auto_f0_adjust?: boolean;
  semi_tone_shift?: number;
  intelligibility_cfg_rate?: number;
  similarity_cfg_rate?: number;
  convert_style?: boolean;
  precision: 'auto' | 'fp32' | 'fp16' | 'int8';
  seed?: number;
}

export interface ConversionInputs {
  source: Blob;
  /** The reference voice: a clip, or the id of a voice saved on the server. */
  reference?: Blob;
  voice?: string;
}

/** Progress: the library's ConvertEvent union (stage, content, diffusion, guard), model loading, and an overall fraction. */
export type ProgressEvent =
  | { type: 'stage'; stage: string; status: 'start' | 'done'; ms?: number; fraction?: number }
  | { type: 'content'; window: number; windows: number; fraction?: number }
  | { type: 'diffusion'; window: number; windows: number; step: number; steps: number; fraction?: number }
  | { type: 'guard'; stage: string; window: number; reason: string; fraction?: number }
  | { type: 'load'; status: 'start' | 'done'; fraction?: number }
  | { type: 'queued'; position: number | null; fraction?: number }
  | { type: string; fraction?: number; [k: string]: unknown };

export interface ConversionResult {
  wav: Blob;
  sampleRate: number;
  seconds: number;
  seed: number | null;
  rtf: number | null;
  timings: Record<string, number> | null;
  /** Server job id, when it ran on a server. */
  id?: string;
}

export interface ConversionRun {
  result: Promise<ConversionResult>;
  cancel(): void;
}

export interface ConversionBackend {
  readonly name: string;
  convert(inputs: ConversionInputs, options: ConversionOptions, onProgress: (e: ProgressEvent) => void): ConversionRun;
}

/** An error from the API: its code and message ({error: {code, message}}). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The API client: the token (when the server has one) goes in a header, or in the query for EventSource and media. */
export class Api {
  constructor(public token: string | null = null) {}

  headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** A URL for elements that cannot send headers (EventSource, <audio>, <a download>, <iframe>). */
  url(path: string): string {
    if (!this.token) return path;
    return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(this.token)}`;
  }

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(path, { ...init, headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) } });
    if (res.status === 204) return undefined as T;
    const body = res.headers.get('content-type')?.includes('json') ? await res.json() : null;
    if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `HTTP ${res.status}`);
    return body as T;
  }
}

/** Follows a job's Server-Sent Events until it ends; resolves with the final job JSON. */
export function followJob(api: Api, eventsPath: string, onProgress: (e: ProgressEvent) => void): { done: Promise<Record<string, any>>; close(): void } {
  const es = new EventSource(api.url(eventsPath));
  const done = new Promise<Record<string, any>>((resolve, reject) => {
    es.addEventListener('state', (m) => {
      const d = JSON.parse((m as MessageEvent).data);
      if (d.state === 'queued') onProgress({ type: 'queued', position: d.queue_position ?? null });
    });
    es.addEventListener('progress', (m) => onProgress(JSON.parse((m as MessageEvent).data)));
    es.addEventListener('end', (m) => { es.close(); resolve(JSON.parse((m as MessageEvent).data)); });
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) reject(new Error('lost the connection to the server')); };
  });
  return { done, close: () => es.close() };
}

export function serverBackend(api: Api): ConversionBackend {
  return {
    name: 'server',
    convert(inputs, options, onProgress) {
      let jobId: string | null = null;
      let follower: { close(): void } | null = null;
      let cancelled = false;
      const result = (async (): Promise<ConversionResult> => {
        const form = new FormData();
        for (const [k, v] of Object.entries(options)) if (v !== undefined && v !== null && !Number.isNaN(v)) form.append(k, String(v));
        form.append('source', inputs.source, 'source');
        if (inputs.voice) form.append('voice', inputs.voice);
        else if (inputs.reference) form.append('reference', inputs.reference, 'reference');
        const accepted = await api.request<{ id: string; links: { events: string } }>('/v1/conversions', { method: 'POST', body: form });
        jobId = accepted.id;
        if (cancelled) void api.request(`/v1/conversions/${jobId}`, { method: 'DELETE' }).catch(() => {});
        const f = followJob(api, accepted.links.events, onProgress);
        follower = f;
        const job = await f.done;
        if (job.state !== 'succeeded') {
          throw new ApiError(0, job.error?.code ?? job.state, job.state === 'cancelled' ? 'cancelled' : job.error?.message ?? job.state);
        }
        const res = await fetch(api.url(job.links.audio), { headers: api.headers() });
        if (!res.ok) throw new ApiError(res.status, 'audio', `could not fetch the result (HTTP ${res.status})`);
        return {
          wav: await res.blob(), sampleRate: job.result.sample_rate, seconds: job.result.seconds,
          seed: job.seed, rtf: job.rtf, timings: job.timings_ms, id: job.id,
        };
      })();
      return {
        result,
        cancel() {
          cancelled = true;
          if (jobId) void api.request(`/v1/conversions/${jobId}`, { method: 'DELETE' }).catch(() => {});
          else follower?.close();
        },
      };
    },
  };
}

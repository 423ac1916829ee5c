/** Shared pieces of the server tests: a server on a loopback port, uploads, an SSE reader, WAV helpers. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav, readWav, toMono } from '../../src/core/audio/index.ts';
import { type ServeOptions, type SeedVcServer, createServer } from '../../src/server/app.ts';
import { GOLDEN, HUB } from '../helpers/golden.ts';

export const CASE_DIR = join(GOLDEN, 'e2e', 'e2e_full_short');
export const SOURCE = join(CASE_DIR, 'source.wav');
export const REFERENCE = join(CASE_DIR, 'reference.wav');

export interface TestServer {
  url: string;
  server: SeedVcServer;
  dir: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 with the tiny models of the golden hub mirror, offline, on the CPU in fp32. */
export async function startServer(over: Partial<ServeOptions> = {}, cacheDir?: string): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'seed-vc-serve-'));
  const server = await createServer({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), workers: 1, queueSize: 4, resultTtlSeconds: 600,
    limits: { maxUploadBytes: 4 << 20, maxSourceSeconds: 30, maxReferenceSeconds: 60 },
    load: { mirror: HUB, offline: true, cacheDir: cacheDir ?? join(dir, 'cache'), device: 'cpu', precision: 'fp32' },
    ...over,
  });
  const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address, server, dir,
    close: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export function fileBlob(path: string): Blob {
  return new Blob([readFileSync(path)]);
}

export function wavBlob(samples: Float32Array, rate: number, format: 'float32' | 'pcm16' = 'float32'): Blob {
  return new Blob([encodeWav(samples, rate, { format }) as Uint8Array<ArrayBuffer>]);
}

/** A test tone with some harmonics (audible, finite). */
export function tone(seconds: number, rate = 22050): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) out[i] = 0.3 * Math.sin((2 * Math.PI * 220 * i) / rate) + 0.1 * Math.sin((2 * Math.PI * 660 * i) / rate);
  return out;
}

export function form(files: Record<string, Blob>, fields: Record<string, string | number | boolean> = {}): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, String(v));
  for (const [k, v] of Object.entries(files)) f.append(k, v, `${k}.bin`);
  return f;
}

export async function json(res: Response): Promise<any> {
  const text = await res.text();
  try { return JSON.parse(text); } catch { throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`); }
}

export interface SseEvent { event: string; data: any }

/** Reads a job's SSE stream until its `end` event (or `stopAfter` says stop); returns every event. */
export async function readEvents(url: string, init: RequestInit = {}, stopAfter?: (e: SseEvent) => boolean): Promise<SseEvent[]> {
  const res = await fetch(url, init);
  if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const events: SseEvent[] = [];
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!ev || data === undefined) continue;
      const e = { event: ev, data: JSON.parse(data) };
      events.push(e);
      if (e.event === 'end' || stopAfter?.(e)) { await reader.cancel(); return events; }
    }
  }
  return events;
}

export function decodeWav(bytes: ArrayBuffer | Uint8Array): { samples: Float32Array; sampleRate: number; bits: number } {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const w = readWav(u8, 'response.wav');
  const bits = new DataView(u8.buffer, u8.byteOffset).getUint16(34, true);
  return { samples: toMono(w), sampleRate: w.sampleRate, bits };
}

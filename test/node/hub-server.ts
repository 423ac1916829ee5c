/**
 * A loopback hub for the download tests, shaped like Hugging Face: small git files (.json, .yml) are served
 * by the hub itself (ETag = a git sha1, no sha256), large (LFS) files through a 302 whose X-Linked-Etag and
 * X-Linked-Size carry the sha256 and the size, with a Location on another origin (a second server on
 * another port, an S3-like store with its own non-sha256 ETag). Both honour Range. Scripted faults make
 * either side lie.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** Send this many body bytes, then destroy the connection. */
  cutAfter?: number;
  /** Send headers, then stall (no body). */
  stall?: boolean;
  /** Advertise this sha256 instead of the real one. */
  wrongEtag?: boolean;
  /** Ignore Range headers (answer 200 with the whole file). */
  ignoreRange?: boolean;
  /** The hub answers 200 itself with this body and no sha256 or size headers (an HTML error page, a short file). */
  body?: string | Uint8Array;
  /** No X-Linked-Etag / X-Linked-Size on the 302 (a mirror that drops them). */
  noHubHeaders?: boolean;
  /** The body never ends (no Content-Length, 64 KiB chunks as fast as the client reads). */
  endless?: boolean;
  /** One byte every this many ms, no Content-Length. */
  trickleMs?: number;
  /** The hub redirects to itself. */
  redirectLoop?: boolean;
  /** The hub redirects to this Location instead of the store. */
  location?: string;
  /** The hub announces this X-Linked-Size instead of the real one. */
  linkedSize?: number;
}

export interface HubServer {
  url: string;
  /** The LFS store's origin (another port). */
  storeUrl: string;
  /** Every request seen by either server: which one, path and Range header. */
  requests: { server: 'hub' | 'store'; path: string; range?: string }[];
  /** Faults for the next hub requests, consumed one per hub request (carried across its redirect). */
  faults: Fault[];
  close(): Promise<void>;
}

const isLfs = (file: string) => !/\.(json|ya?ml|txt|md)$/.test(file);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Serves `files` (keyed 'org/repo/file') at /<org>/<repo>/resolve/main/<file>. */
export async function startHubServer(files: Record<string, Uint8Array>): Promise<HubServer> {
  const state: HubServer = { url: '', storeUrl: '', requests: [], faults: [], close: async () => {} };
  const bySha = new Map<string, Uint8Array>();
  for (const b of Object.values(files)) bySha.set(sha256(b), b);
  const pending = new Map<string, Fault>(); // faults travelling with a redirect, by token
  let tokens = 0;
  const sockets = new Set<import('node:net').Socket>();

  const hub: Server = createServer((req, res) => {
    state.requests.push({ server: 'hub', path: req.url ?? '', range: req.headers.range });
    const fault = state.faults.shift() ?? {};
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/([^?]+)$/.exec(req.url ?? '');
    const body = m ? files[`${m[1]}/${m[2]}`] : undefined;
    if (fault.redirectLoop) { res.writeHead(302, { location: req.url }).end(); return; }
    if (fault.location) { res.writeHead(302, { location: fault.location }).end(); return; }
    if (fault.body !== undefined) {
      const b = typeof fault.body === 'string' ? Buffer.from(fault.body) : fault.body;
      res.writeHead(200, { 'content-type': typeof fault.body === 'string' ? 'text/html' : 'application/octet-stream', 'content-length': b.length }).end(b);
      return;
    }
    if (!body) { res.writeHead(404).end('not found'); return; }
    const sha = fault.wrongEtag ? '0'.repeat(64) : sha256(body);
    if (isLfs(m![2])) {
      const token = String(++tokens);
      pending.set(token, fault);
      const headers: Record<string, string | number> = { location: `${state.storeUrl}/lfs/${sha256(body)}?t=${token}` };
      if (!fault.noHubHeaders) {
        headers['x-linked-etag'] = `"${sha}"`;
        headers['x-linked-size'] = fault.linkedSize ?? body.length;
      }
      res.writeHead(302, headers).end();
      return;
    }
    // a small git file: a sha1 ETag, as the hub gives
    serve(req, res, body, fault, { etag: `"${createHash('sha1').update(body).digest('hex')}"` });
  });

  const store: Server = createServer((req, res) => {
    state.requests.push({ server: 'store', path: req.url ?? '', range: req.headers.range });
    const m = /^\/lfs\/([0-9a-f]{64})\?t=(\d+)$/.exec(req.url ?? '');
    const body = m ? bySha.get(m[1]) : undefined;
    if (!body) { res.writeHead(403).end('<Error>AccessDenied</Error>'); return; }
    const fault = pending.get(m![2]) ?? {};
    pending.delete(m![2]);
    serve(req, res, body, fault, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
  });

  await Promise.all([hub, store].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  for (const s of [hub, store]) s.on('connection', (c) => { sockets.add(c); c.on('close', () => sockets.delete(c)); });
  state.url = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  state.storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
  state.close = async () => {
    for (const c of sockets) c.destroy();
    await Promise.all([hub, store].map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  };
  return state;
}

function serve(req: IncomingMessage, res: ServerResponse, body: Uint8Array, fault: Fault, extra: Record<string, string>): void {
  if (fault.endless) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(65536, 7);
    const pump = () => { while (!res.destroyed && res.write(chunk)); };
    res.on('drain', pump);
    pump();
    return;
  }
  if (fault.trickleMs !== undefined) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    let i = 0;
    const timer = setInterval(() => { if (res.destroyed) clearInterval(timer); else res.write(body.subarray(i, ++i)); }, fault.trickleMs);
    res.on('close', () => clearInterval(timer));
    return;
  }
  let start = 0;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const headers: Record<string, string | number> = { ...extra, 'accept-ranges': 'bytes' };
  if (range && !fault.ignoreRange) {
    start = Number(range[1]);
    if (start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end(); return; }
    headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(206, { ...headers, 'content-length': body.length - start });
  } else {
    res.writeHead(200, { ...headers, 'content-length': body.length });
  }
  if (fault.stall) { res.flushHeaders(); return; }
  const part = body.subarray(start);
  if (fault.cutAfter !== undefined) {
    res.write(part.subarray(0, fault.cutAfter), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  res.end(part);
}

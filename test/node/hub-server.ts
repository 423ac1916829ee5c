/** A loopback file server for hub tests: Range requests, sha256 ETags, and scripted faults. */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
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
}

export interface HubServer {
  url: string;
  /** Every request seen: path and Range header. */
  requests: { path: string; range?: string }[];
  /** Faults for the next requests, consumed one per request. */
  faults: Fault[];
  close(): Promise<void>;
}

/** Serves `files` (keyed 'org/repo/file') at /<org>/<repo>/resolve/main/<file>. */
export async function startHubServer(files: Record<string, Uint8Array>): Promise<HubServer> {
  const state: HubServer = { url: '', requests: [], faults: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    state.requests.push({ path: req.url ?? '', range: req.headers.range });
    const fault = state.faults.shift() ?? {};
    const body = m ? files[`${m[1]}/${m[2]}`] : undefined;
    if (!body) { res.writeHead(404).end('not found'); return; }
    const sha = fault.wrongEtag ? '0'.repeat(64) : createHash('sha256').update(body).digest('hex');
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const headers: Record<string, string | number> = { 'x-linked-etag': `"${sha}"`, 'accept-ranges': 'bytes' };
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
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}

/**
 * A loopback static server for the browser tests: the built web app at /, a folder laid out like the hub
 * at /hub/, cross-origin isolation (COOP/COEP) and CORS headers on every response, Range requests, cut responses, a log of every request, and a
 * /broken-hub/ route that answers 500 (a failing model download).
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.map': 'application/json', '.yml': 'text/yaml',
};

export interface StaticServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/**
 * `isolate: false` leaves out COOP/COEP (the page is then not cross-origin isolated: one WASM thread).
 * `cuts`: route prefixes whose responses are cut after half their bytes — 'once' (the first request of each
 * file; later ones, e.g. a Range resume, complete) or 'always'. Range requests (`bytes=N-`) are honoured.
 * `slow`: route prefixes whose files trickle out at 64 KB per 100 ms (a download long enough to cancel).
 */
export async function startStaticServer(routes: Record<string, string>, { isolate = true, cuts = {} as Record<string, 'once' | 'always'>, slow = [] as string[] } = {}): Promise<StaticServer> {
  const state: StaticServer = { url: '', requests: [], close: async () => {} };
  const cutDone = new Set<string>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    state.requests.push(req.headers.range ? `${path} ${req.headers.range}` : path);
    // COOP/COEP: cross-origin isolation (WASM threads); CORS: pages of other origins (seed-vc serve) may fetch models.
    const headers = {
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store',
      'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin',
    };
    if (!isolate) for (const h of ['cross-origin-opener-policy', 'cross-origin-embedder-policy'] as const) delete (headers as Record<string, string>)[h];
    if (path.startsWith('/broken-hub/')) { res.writeHead(500, headers).end('internal error'); return; }
    const prefix = Object.keys(routes).filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
    if (prefix === undefined) { res.writeHead(404, headers).end(); return; }
    const base = resolve(routes[prefix]);
    let file = normalize(join(base, path.slice(prefix.length)));
    if (file !== base && !file.startsWith(base + sep)) { res.writeHead(403, headers).end(); return; }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) { res.writeHead(404, headers).end('not found'); return; }
    const size = statSync(file).size;
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > 0 && start >= size) { res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end(); return; }
    if (range) res.writeHead(206, { ...headers, 'content-type': type, 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    else res.writeHead(200, { ...headers, 'content-type': type, 'content-length': size });
    const cut = cuts[prefix];
    if (cut && (cut === 'always' || !cutDone.has(path)) && size - start > 1) {
      cutDone.add(path);
      const body = readFileSync(file).subarray(start, start + Math.floor((size - start) / 2));
      res.write(body, () => setTimeout(() => res.destroy(), 20));
      return;
    }
    if (slow.includes(prefix)) {
      const body = readFileSync(file).subarray(start);
      let at = 0;
      const timer = setInterval(() => {
        if (at >= body.length) { clearInterval(timer); res.end(); return; }
        res.write(body.subarray(at, at + 65536));
        at += 65536;
      }, 100);
      res.on('close', () => clearInterval(timer));
      return;
    }
    createReadStream(file, { start }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}

/**
 * Model files by hub name (`org/repo` + file), Hugging Face layout. Resolution order:
 *   1. a local mirror folder laid out as <mirror>/<org>/<repo>/<file> (--hub-mirror, SEED_VC_HUB_MIRROR);
 *   2. the cache (<cache>/hub/<org>/<repo>/<file>), complete files only, checked against their record;
 *   3. a download from <baseUrl>/<org>/<repo>/resolve/<revision>/<file> (SEED_VC_HUB_URL, HF_ENDPOINT).
 * The hub serves large (LFS) files through a redirect to another origin whose response carries the sha256
 * and size (X-Linked-Etag, X-Linked-Size) only on the hub's own 302, so redirects are followed by hand.
 * Downloads go to `<file>.incomplete` next to their destination, resume with a Range request after a cut,
 * are bounded (a size cap, an idle timeout and an overall deadline), and are checked — sha256 when the hub
 * or the caller names one, else the announced length and a sniff of the content the file name implies
 * (safetensors / torch zip / JSON / YAML) — before the rename into place, so the cache never holds a
 * partial or foreign file under a final name. `<file>.record.json` keeps the verified sha256, size and
 * mtime: a cached file whose size or mtime moved is hashed again, and deleted and fetched again when it no
 * longer matches. A lock file keeps two processes from writing the same file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SeedVcError } from '../core/errors.ts';

export class HubError extends SeedVcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'HUB', options);
  }
}

export type DownloadEvent =
  | { type: 'resolve'; repo: string; file: string; source: 'mirror' | 'cache' | 'download'; path: string }
  | { type: 'download'; repo: string; file: string; loaded: number; total: number | null }
  | { type: 'done'; repo: string; file: string; path: string; bytes: number };

export interface HubOptions {
  /** Local folder laid out like the hub (<mirror>/<org>/<repo>/<file>), consulted before anything else. */
  mirror?: string;
  /** Hub base URL (default https://huggingface.co). */
  baseUrl?: string;
  revision?: string;
  /** Cache root (default $SEED_VC_CACHE or ~/.cache/seed-vc). */
  cacheDir?: string;
  /** Never download. */
  offline?: boolean;
  /** Abort a download when no data arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Abort a download that has not finished after this long (default 2 h); the partial file stays for a resume. */
  deadlineMs?: number;
  /** Largest file accepted, in bytes (default 4 GiB; the largest official file is about 1.3 GB). */
  maxBytes?: number;
  onProgress?: (e: DownloadEvent) => void;
  /** Notes for the user: a corrupt cache entry deleted, a download restarted. */
  log?: (line: string) => void;
}

export interface FileRequest {
  /** Expected sha256 (hex); verified after download and when the cached file is opened. */
  sha256?: string;
}

export const HUB_DEFAULTS = { idleTimeoutMs: 30_000, deadlineMs: 2 * 3600_000, maxBytes: 4 * 2 ** 30, maxRedirects: 10 } as const;

export function defaultCacheDir(): string {
  return process.env.SEED_VC_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'seed-vc');
}

export function hubOptionsFromEnv(o: HubOptions = {}): HubOptions {
  return {
    ...o,
    mirror: o.mirror ?? process.env.SEED_VC_HUB_MIRROR,
    baseUrl: o.baseUrl ?? process.env.SEED_VC_HUB_URL ?? process.env.HF_ENDPOINT,
    cacheDir: o.cacheDir ?? defaultCacheDir(),
  };
}

const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

function checkName(repo: string, file: string): void {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => SAFE_PART.test(p))) {
    throw new HubError(`invalid hub repository '${repo}' (expected 'org/name')`);
  }
  if (!file.split('/').every((p) => SAFE_PART.test(p) && p !== '..')) throw new HubError(`invalid file name '${file}' in ${repo}`);
}

function checkLimits(o: HubOptions): void {
  for (const key of ['idleTimeoutMs', 'deadlineMs', 'maxBytes'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new HubError(`hub option ${key} must be a positive number, got ${v}`);
  }
}

/** Local path of `repo/file`, downloading it if needed. */
export async function resolveHubFile(repo: string, file: string, options: HubOptions = {}, req: FileRequest = {}): Promise<string> {
  checkName(repo, file);
  checkLimits(options);
  if (req.sha256 !== undefined && !SHA256.test(req.sha256.toLowerCase())) throw new HubError(`expected sha256 of ${repo}/${file} must be 64 hex digits, got '${req.sha256}'`);
  const o = hubOptionsFromEnv(options);
  const emit = o.onProgress ?? (() => {});
  if (o.mirror) {
    const p = resolve(o.mirror, repo, file);
    if (existsSync(p)) {
      emit({ type: 'resolve', repo, file, source: 'mirror', path: p });
      return p;
    }
  }
  const dest = join(o.cacheDir!, 'hub', repo, file);
  if (existsSync(dest) && await cachedFileIsSound(dest, repo, file, o, req)) {
    emit({ type: 'resolve', repo, file, source: 'cache', path: dest });
    return dest;
  }
  if (o.offline) {
    const where = o.mirror ? `the mirror ${o.mirror} or ` : '';
    throw new HubError(`${repo}/${file} is not in ${where}the cache ${o.cacheDir} and downloads are off`);
  }
  emit({ type: 'resolve', repo, file, source: 'download', path: dest });
  const deadlineMs = o.deadlineMs ?? HUB_DEFAULTS.deadlineMs;
  await withLock(`${dest}.lock`, async () => {
    if (existsSync(dest)) return; // another process finished it while we waited
    await download(repo, file, dest, o, req);
  }, { maxWaitMs: deadlineMs, what: `${repo}/${file}` });
  return dest;
}

/** What the cache keeps beside each file: the verified content hash and the file facts it was verified at. */
interface CacheRecord {
  sha256: string;
  size: number;
  mtimeMs: number;
  /** Where the hash came from: the hub's header, the caller, or computed from a sniffed download. */
  origin: 'hub' | 'caller' | 'computed';
}

const recordPath = (dest: string) => `${dest}.record.json`;

async function readRecord(dest: string): Promise<CacheRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(recordPath(dest), 'utf8')) as CacheRecord;
    return typeof r.sha256 === 'string' && SHA256.test(r.sha256) && Number.isFinite(r.size) && Number.isFinite(r.mtimeMs) ? r : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(dest: string, sha256: string, origin: CacheRecord['origin']): Promise<void> {
  const st = await stat(dest);
  const rec: CacheRecord = { sha256, size: st.size, mtimeMs: st.mtimeMs, origin };
  const tmp = `${recordPath(dest)}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(rec)}\n`);
  await rename(tmp, recordPath(dest));
}

/**
 * True when the cached file still holds what was verified: the record's size and mtime match (no read),
 * or its sha256 does (one read, then the record is refreshed). A file without a record (an older cache)
 * must pass the content sniff. A corrupt file is deleted, with a note, so that it is fetched again.
 */
async function cachedFileIsSound(dest: string, repo: string, file: string, o: HubOptions, req: FileRequest): Promise<boolean> {
  const st = await stat(dest);
  const rec = await readRecord(dest);
  const wanted = req.sha256?.toLowerCase();
  if (rec && rec.size === st.size && rec.mtimeMs === st.mtimeMs && (!wanted || wanted === rec.sha256)) return true;
  let problem: string | null = null;
  const maxBytes = o.maxBytes ?? HUB_DEFAULTS.maxBytes;
  if (!st.isFile()) problem = 'not a regular file';
  else if (st.size > maxBytes) problem = `${st.size} bytes, over the ${maxBytes}-byte cap`;
  let digest = '';
  if (!problem) {
    digest = await sha256File(dest);
    const expected = wanted ?? rec?.sha256;
    if (expected && digest !== expected) problem = `sha256 ${digest} does not match the recorded ${expected}`;
    else if (!expected) problem = await sniffFile(dest, file);
  }
  if (problem) {
    (o.log ?? (() => {}))(`cached ${repo}/${file} is corrupt (${problem}); deleted it${o.offline ? '' : ', downloading it again'}`);
    await rm(dest, { force: true });
    await rm(recordPath(dest), { force: true });
    return false;
  }
  await writeRecord(dest, digest, wanted ? 'caller' : rec?.origin ?? 'computed').catch(() => {});
  return true;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** What the hub said about a file on its own responses, before any redirect to another origin. */
interface HubFacts {
  sha256?: string;
  size?: number;
}

/** A failed hop: the message, and whether the partial file must go (its bytes cannot be trusted). */
class DownloadFailure extends Error {
  constructor(message: string, readonly discardPartial: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

async function download(repo: string, file: string, dest: string, o: HubOptions, req: FileRequest, restarted = false): Promise<void> {
  const base = (o.baseUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  const url = `${base}/${repo}/resolve/${encodeURIComponent(o.revision ?? 'main')}/${file}`;
  const what = `${repo}/${file}`;
  const partial = `${dest}.incomplete`;
  await mkdir(dirname(dest), { recursive: true });
  let have = existsSync(partial) ? (await stat(partial)).size : 0;
  const idle = o.idleTimeoutMs ?? HUB_DEFAULTS.idleTimeoutMs;
  const deadline = o.deadlineMs ?? HUB_DEFAULTS.deadlineMs;
  const maxBytes = o.maxBytes ?? HUB_DEFAULTS.maxBytes;
  const controller = new AbortController();
  let stopped: string | undefined; // why we aborted, for the message
  const stop = (why: string) => { stopped ??= why; controller.abort(); };
  const deadlineTimer = setTimeout(() => stop(`not finished within the ${seconds(deadline)} deadline`), deadline);
  let idleTimer = setTimeout(() => stop(`no response within ${seconds(idle)}`), idle);
  const kick = () => { clearTimeout(idleTimer); idleTimer = setTimeout(() => stop(`no data for ${seconds(idle)}`), idle); };
  const clearTimers = () => { clearTimeout(idleTimer); clearTimeout(deadlineTimer); };
  const log = o.log ?? (() => {});

  let loaded = have;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const { res, finalUrl, facts } = await fetchFollowingRedirects(what, url, have > 0 ? { Range: `bytes=${have}-` } : {}, controller.signal, () => stopped);
    kick();
    if (res.status === 404 || res.status === 401 || res.status === 403) {
      throw new DownloadFailure(`${what} was not found at ${url} (HTTP ${res.status})`, false);
    }
    if (res.status === 416 && have > 0) {
      // Our partial file is longer than the remote one: it cannot be a prefix of it. Start over, once.
      await res.body?.cancel();
      clearTimers();
      await rm(partial, { force: true });
      if (restarted) throw new DownloadFailure(`download of ${what} from ${finalUrl}: the server refuses the range request twice`, true);
      log(`${what}: the partial download does not fit the remote file; starting over`);
      return await download(repo, file, dest, o, req, true);
    }
    if (res.status !== 200 && res.status !== 206) {
      throw new DownloadFailure(`download of ${what} from ${finalUrl} failed: HTTP ${res.status} ${res.statusText}`, false);
    }
    if (res.status === 200) have = 0; // the server ignored the range: restart
    else {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        throw new DownloadFailure(`download of ${what}: the server resumed at the wrong offset (${res.headers.get('content-range')}); the partial file was discarded, try again`, true);
      }
    }
    loaded = have;
    const length = Number(res.headers.get('content-length') ?? NaN);
    const served = Number.isFinite(length) ? have + length : null;
    if (facts.size !== undefined && served !== null && facts.size !== served) {
      throw new DownloadFailure(`download of ${what}: the hub announces ${facts.size} bytes but ${finalUrl} sends ${served}`, true);
    }
    const total = facts.size ?? served;
    if (total !== null && total > maxBytes) {
      throw new DownloadFailure(`${what} is ${total} bytes, over the ${maxBytes}-byte cap (maxBytes)`, true);
    }
    const expectedSha = req.sha256?.toLowerCase() ?? facts.sha256;
    const hash = createHash('sha256');
    if (have > 0) {
      for await (const chunk of createReadStream(partial)) hash.update(chunk as Buffer);
    }
    fh = await open(partial, have > 0 ? 'a' : 'w');
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        kick();
        loaded += value.length;
        if (loaded > maxBytes) { stop('cap'); throw new DownloadFailure(`download of ${what} passed the ${maxBytes}-byte cap (maxBytes); discarded`, true); }
        if (total !== null && loaded > total) { stop('long'); throw new DownloadFailure(`download of ${what} sends more than the announced ${total} bytes; discarded`, true); }
        hash.update(value);
        await fh.write(value);
        o.onProgress?.({ type: 'download', repo, file, loaded, total });
      }
    } catch (e) {
      if (e instanceof DownloadFailure) throw e;
      const why = stopped ?? describeNetworkError(e, finalUrl);
      throw new DownloadFailure(`download of ${what} was cut after ${loaded} bytes (${why}); run again to resume`, false, { cause: e });
    }
    await fh.close();
    fh = undefined;
    clearTimers();
    if (total !== null && loaded !== total) {
      throw new DownloadFailure(`download of ${what} ended after ${loaded} of ${total} bytes; run again to resume`, false);
    }
    const digest = hash.digest('hex');
    if (expectedSha && digest !== expectedSha) {
      throw new DownloadFailure(`${what}: sha256 ${digest} does not match the expected ${expectedSha}; the file was discarded`, true);
    }
    if (!expectedSha) {
      const problem = await sniffFile(partial, file);
      if (problem) throw new DownloadFailure(`${what} from ${finalUrl} was refused: ${problem}; the file was discarded`, true);
    }
    await rename(partial, dest);
    await writeRecord(dest, digest, req.sha256 ? 'caller' : facts.sha256 ? 'hub' : 'computed').catch(() => {});
    o.onProgress?.({ type: 'done', repo, file, path: dest, bytes: loaded });
  } catch (e) {
    clearTimers();
    await fh?.close().catch(() => {});
    if (e instanceof DownloadFailure) {
      if (e.discardPartial) await rm(partial, { force: true });
      throw new HubError(e.message, { cause: e.cause });
    }
    if (e instanceof HubError) throw e;
    const why = stopped ?? describeNetworkError(e, url);
    throw new HubError(`download of ${what} from ${url} failed: ${why}`, { cause: e });
  }
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/**
 * GET `url`, following redirects by hand (at most HUB_DEFAULTS.maxRedirects, http(s) only, never from
 * https down to http, no loops), and collecting the hub's X-Linked-Etag / X-Linked-Size (and a sha256
 * ETag) from the responses on the hub's own origin.
 */
async function fetchFollowingRedirects(what: string, url: string, headers: Record<string, string>, signal: AbortSignal, stopped: () => string | undefined): Promise<{ res: Response; finalUrl: string; facts: HubFacts }> {
  const facts: HubFacts = {};
  const origin = new URL(url).origin;
  const seen = new Set<string>();
  let current = url;
  for (let hop = 0; ; hop++) {
    seen.add(current);
    let res: Response;
    try {
      res = await fetch(current, { headers, signal, redirect: 'manual' });
    } catch (e) {
      throw new DownloadFailure(`download of ${what} from ${current} failed: ${stopped() ?? describeNetworkError(e, current)}`, false, { cause: e });
    }
    if (new URL(current).origin === origin) {
      const linked = etagSha(res.headers.get('x-linked-etag')) ?? (hop === 0 && !isRedirect(res.status) ? etagSha(res.headers.get('etag')) : undefined);
      if (linked) facts.sha256 = linked;
      const size = Number(res.headers.get('x-linked-size') ?? NaN);
      if (Number.isSafeInteger(size) && size >= 0) facts.size = size;
    }
    if (!isRedirect(res.status)) return { res, finalUrl: current, facts };
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (!location) throw new DownloadFailure(`download of ${what}: ${current} answered HTTP ${res.status} without a Location`, false);
    let next: URL;
    try { next = new URL(location, current); } catch { throw new DownloadFailure(`download of ${what}: ${current} redirects to an invalid Location '${location}'`, false); }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new DownloadFailure(`download of ${what}: ${current} redirects to '${next.href}': only http(s) is followed`, false);
    if (new URL(current).protocol === 'https:' && next.protocol === 'http:') throw new DownloadFailure(`download of ${what}: ${current} redirects from https down to http (${next.href}); refused`, false);
    if (seen.has(next.href)) throw new DownloadFailure(`download of ${what}: redirect loop: ${current} redirects back to ${next.href}`, false);
    if (hop + 1 >= HUB_DEFAULTS.maxRedirects) throw new DownloadFailure(`download of ${what}: too many redirects (${HUB_DEFAULTS.maxRedirects}) starting at ${url}`, false);
    current = next.href;
  }
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/** The sha256 of an (X-Linked-)ETag, if it is one (the hub's ETags of small git files are sha1s). */
function etagSha(v: string | null): string | undefined {
  const s = v?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return s && SHA256.test(s) ? s : undefined;
}

/** A network error's cause in words: fetch's own message ("fetch failed") says nothing. */
export function describeNetworkError(e: unknown, url: string): string {
  let host = url;
  try { host = new URL(url).host; } catch { /* keep the url */ }
  const chain: { code?: string; message?: string }[] = [];
  for (let c: unknown = e; c && typeof c === 'object' && chain.length < 8; c = (c as { cause?: unknown }).cause) chain.push(c as { code?: string; message?: string });
  for (const c of chain) {
    const code = typeof c.code === 'string' ? c.code : undefined;
    if (!code) continue;
    if (code === 'ECONNREFUSED') return `connection refused by ${host} (ECONNREFUSED)`;
    if (code === 'ENOTFOUND') return `DNS lookup of ${host} failed (ENOTFOUND)`;
    if (code === 'EAI_AGAIN') return `DNS lookup of ${host} failed for now (EAI_AGAIN)`;
    if (code === 'ECONNRESET') return `connection reset by ${host} (ECONNRESET)`;
    if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `connection to ${host} timed out (${code})`;
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${host} is unreachable (${code})`;
    if (code === 'UND_ERR_SOCKET') return `${host} closed the connection (${code})`;
    if (/^(ERR_SSL|ERR_TLS|ERR_OSSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/.test(code)) {
      return `TLS error with ${host}: ${(c.message ?? '').split('\n')[0].replace(/^[0-9A-F]+:error:[0-9A-F]+:/, '')} (${code})`;
    }
    return `${c.message ?? 'network error'} (${code})`;
  }
  const last = chain.at(-1);
  return last?.message ?? String(e);
}

/** The content a hub file's name promises, for a download that came without a sha256. */
function expectedContent(file: string): 'safetensors' | 'torch zip' | 'JSON' | 'YAML' | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'safetensors') return 'safetensors';
  if (ext === 'pth' || ext === 'pt' || ext === 'bin' || ext === 'ckpt') return 'torch zip';
  if (ext === 'json') return 'JSON';
  if (ext === 'yml' || ext === 'yaml') return 'YAML';
  return undefined;
}

const SNIFF_TEXT_MAX = 64 * 2 ** 20;

/** null when `path` looks like the kind of file `file` names; otherwise what is wrong with it. */
export async function sniffFile(path: string, file: string): Promise<string | null> {
  const kind = expectedContent(file);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const read = async (pos: number, n: number) => {
      const b = Buffer.alloc(Math.max(0, Math.min(n, size - pos)));
      await fh.read(b, 0, b.length, pos);
      return b;
    };
    const head = await read(0, 512);
    const text = head.toString('latin1').trimStart().toLowerCase();
    if (text.startsWith('<!doctype html') || text.startsWith('<html') || (text.startsWith('<') && text.includes('<body'))) {
      return `it is an HTML page, not ${kind ?? 'the file'} (${size} bytes)`;
    }
    if (size === 0) return 'it is empty';
    if (kind === 'safetensors') {
      if (size < 8) return `a safetensors file needs at least 8 bytes, got ${size}`;
      const n = Number(head.readBigUInt64LE(0));
      if (n < 2 || n > size - 8 || n > SNIFF_TEXT_MAX) return `the safetensors header length ${n} does not fit the ${size}-byte file`;
      let header: Record<string, { data_offsets?: [number, number] }>;
      try { header = JSON.parse((await read(8, n)).toString('utf8')); } catch { return 'the safetensors header is not JSON'; }
      let end = 0;
      for (const [k, v] of Object.entries(header ?? {})) if (k !== '__metadata__' && Array.isArray(v?.data_offsets)) end = Math.max(end, Number(v.data_offsets[1]));
      if (8 + n + end !== size) return `the safetensors header describes ${8 + n + end} bytes, the file has ${size} (truncated or padded)`;
      return null;
    }
    if (kind === 'torch zip') {
      if (head.readUInt32LE(0) !== 0x04034b50) return `not a zip archive (torch.save); it starts with ${JSON.stringify(head.subarray(0, 8).toString('latin1'))}`;
      const tailLen = Math.min(size, 22 + 0xffff);
      const tail = await read(size - tailLen, tailLen);
      for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) return null;
      return 'the zip archive has no end record (truncated?)';
    }
    if (kind === 'JSON' || kind === 'YAML') {
      if (size > SNIFF_TEXT_MAX) return `${size} bytes is too large for a ${kind} file`;
      let doc: unknown;
      try {
        const s = new TextDecoder('utf-8', { fatal: true }).decode(await read(0, size));
        doc = kind === 'JSON' ? JSON.parse(s) : parseYaml(s);
      } catch (e) {
        return `not valid ${kind} (${(e as Error).message.split('\n')[0]})`;
      }
      if (typeof doc !== 'object' || doc === null) return `not a ${kind} ${kind === 'JSON' ? 'object' : 'mapping'}`;
      return null;
    }
    return null;
  } finally {
    await fh.close();
  }
}

const LOCK_STALE_MS = 60_000;

/**
 * Runs `fn` holding an exclusive lock file; waits for (or breaks a stale) lock held by another process,
 * for at most `maxWaitMs` (default: forever).
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: { maxWaitMs?: number; what?: string } = {}): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const t0 = Date.now();
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await lockIsStale(lockPath)) { await rm(lockPath, { force: true }); continue; }
      if (opts.maxWaitMs !== undefined && Date.now() - t0 > opts.maxWaitMs) {
        const holder = await readFile(lockPath, 'utf8').catch(() => '?');
        throw new HubError(`gave up after ${seconds(opts.maxWaitMs)} waiting for process ${holder} to finish ${opts.what ?? lockPath} (lock ${lockPath})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const heartbeat = setInterval(() => { const t = new Date(); utimes(lockPath, t, t).catch(() => {}); }, LOCK_STALE_MS / 4);
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await rm(lockPath, { force: true });
  }
}

async function lockIsStale(lockPath: string): Promise<boolean> {
  try {
    const [st, pidText] = await Promise.all([stat(lockPath), readFile(lockPath, 'utf8')]);
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try { process.kill(pid, 0); } catch { return true; } // holder is gone
    }
    return Date.now() - st.mtimeMs > LOCK_STALE_MS;
  } catch {
    return false; // vanished between calls: retry the open
  }
}

/** The first of several alternatives that resolves (e.g. model.safetensors, then pytorch_model.bin). */
export async function firstAvailable(tries: (() => Promise<string>)[]): Promise<string> {
  let last: unknown;
  for (const t of tries) {
    try { return await t(); } catch (e) {
      if (!(e instanceof HubError)) throw e;
      last = e;
    }
  }
  throw last;
}

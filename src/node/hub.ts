/**
 * Model files by hub name (`org/repo` + file), Hugging Face layout. Resolution order:
 *   1. a local mirror folder laid out as <mirror>/<org>/<repo>/<file> (--hub-mirror, SEED_VC_HUB_MIRROR);
 *   2. the cache (<cache>/hub/<org>/<repo>/<file>), complete files only;
 *   3. a download from <baseUrl>/<org>/<repo>/resolve/<revision>/<file> (SEED_VC_HUB_URL, HF_ENDPOINT).
 * Downloads go to `<file>.incomplete` next to their destination, resume with a Range request after a cut,
 * are checked (length, and sha256 when the server or the caller names one) and only then renamed into
 * place, so the cache never holds a partial or corrupt file under a final name. A lock file keeps two
 * processes from writing the same file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
  onProgress?: (e: DownloadEvent) => void;
}

export interface FileRequest {
  /** Expected sha256 (hex); verified after download. */
  sha256?: string;
}

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

function checkName(repo: string, file: string): void {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => SAFE_PART.test(p))) {
    throw new HubError(`invalid hub repository '${repo}' (expected 'org/name')`);
  }
  if (!file.split('/').every((p) => SAFE_PART.test(p) && p !== '..')) throw new HubError(`invalid file name '${file}' in ${repo}`);
}

/** Local path of `repo/file`, downloading it if needed. */
export async function resolveHubFile(repo: string, file: string, options: HubOptions = {}, req: FileRequest = {}): Promise<string> {
  checkName(repo, file);
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
  if (existsSync(dest)) {
    emit({ type: 'resolve', repo, file, source: 'cache', path: dest });
    return dest;
  }
  if (o.offline) {
    const where = o.mirror ? `the mirror ${o.mirror} or ` : '';
    throw new HubError(`${repo}/${file} is not in ${where}the cache ${o.cacheDir} and downloads are off`);
  }
  emit({ type: 'resolve', repo, file, source: 'download', path: dest });
  await withLock(`${dest}.lock`, async () => {
    if (existsSync(dest)) return; // another process finished it while we waited
    await download(repo, file, dest, o, req);
  });
  return dest;
}

async function download(repo: string, file: string, dest: string, o: HubOptions, req: FileRequest): Promise<void> {
  const base = (o.baseUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  const url = `${base}/${repo}/resolve/${encodeURIComponent(o.revision ?? 'main')}/${file}`;
  const partial = `${dest}.incomplete`;
  await mkdir(dirname(dest), { recursive: true });
  let have = existsSync(partial) ? (await stat(partial)).size : 0;
  const idle = o.idleTimeoutMs ?? 30_000;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), idle);
  const kick = () => { clearTimeout(timer); timer = setTimeout(() => controller.abort(), idle); };
  let res: Response;
  try {
    res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: controller.signal, redirect: 'follow' });
  } catch (e) {
    clearTimeout(timer);
    const why = controller.signal.aborted ? `no response within ${idle / 1000} s` : (e as Error).message;
    throw new HubError(`download of ${repo}/${file} from ${url} failed: ${why}`, { cause: e });
  }
  if (res.status === 404 || res.status === 401 || res.status === 403) {
    clearTimeout(timer);
    throw new HubError(`${repo}/${file} was not found at ${url} (HTTP ${res.status})`);
  }
  if (res.status === 416 && have > 0) {
    // Our partial file is longer than the remote one: it cannot be a prefix of it. Start over.
    clearTimeout(timer);
    await rm(partial, { force: true });
    return download(repo, file, dest, o, req);
  }
  if (res.status !== 200 && res.status !== 206) {
    clearTimeout(timer);
    throw new HubError(`download of ${repo}/${file} from ${url} failed: HTTP ${res.status} ${res.statusText}`);
  }
  if (res.status === 200) have = 0; // the server ignored the range: restart
  else {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      clearTimeout(timer);
      await rm(partial, { force: true });
      throw new HubError(`download of ${repo}/${file}: the server resumed at the wrong offset (${res.headers.get('content-range')}); the partial file was discarded, try again`);
    }
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? have + length : null;
  const expectedSha = req.sha256?.toLowerCase() ?? shaFromEtag(res);
  const hash = createHash('sha256');
  if (have > 0) {
    for await (const chunk of createReadStream(partial)) hash.update(chunk as Buffer);
  }
  const fh = await open(partial, have > 0 ? 'a' : 'w');
  let loaded = have;
  try {
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      kick();
      hash.update(value);
      await fh.write(value);
      loaded += value.length;
      o.onProgress?.({ type: 'download', repo, file, loaded, total });
    }
  } catch (e) {
    const why = controller.signal.aborted ? `no data for ${idle / 1000} s` : (e as Error).message;
    throw new HubError(`download of ${repo}/${file} was cut after ${loaded} bytes (${why}); run again to resume`, { cause: e });
  } finally {
    clearTimeout(timer);
    await fh.close();
  }
  if (total !== null && loaded !== total) {
    throw new HubError(`download of ${repo}/${file} ended after ${loaded} of ${total} bytes; run again to resume`);
  }
  const digest = hash.digest('hex');
  if (expectedSha && digest !== expectedSha) {
    await rm(partial, { force: true });
    throw new HubError(`${repo}/${file}: sha256 ${digest} does not match the expected ${expectedSha}; the file was discarded`);
  }
  await rename(partial, dest);
  await writeFile(`${dest}.sha256`, `${digest}\n`).catch(() => {});
  o.onProgress?.({ type: 'done', repo, file, path: dest, bytes: loaded });
}

/** Hugging Face serves LFS files with the sha256 as (X-Linked-)ETag. */
function shaFromEtag(res: Response): string | undefined {
  for (const h of ['x-linked-etag', 'etag']) {
    const v = res.headers.get(h)?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    if (v && /^[0-9a-f]{64}$/.test(v)) return v;
  }
  return undefined;
}

const LOCK_STALE_MS = 60_000;

/** Runs `fn` holding an exclusive lock file; waits for (or breaks a stale) lock held by another process. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await lockIsStale(lockPath)) { await rm(lockPath, { force: true }); continue; }
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

/**
 * Model files in the browser: fetched from a base URL (the hub, a mirror, any static host), checked
 * (length, sha256) and kept in Cache Storage, keyed by hub name so a reload — or another mirror — does not
 * fetch them again. A download is held in memory until it is complete and verified, and only then put
 * into the cache in one step: a cut download never leaves an entry. Within one load a cut is resumed with
 * a Range request (a server that ignores ranges restarts from zero).
 */
import { SeedVcError } from '../core/errors.ts';
import { Sha256 } from '../core/hash/sha256.ts';

export class DownloadError extends SeedVcError {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, 'HUB', options);
  }
}

export type DownloadEvent =
  | { type: 'resolve'; repo: string; file: string; source: 'cache' | 'download'; url: string }
  | { type: 'download'; repo: string; file: string; loaded: number; total: number | null }
  | { type: 'done'; repo: string; file: string; bytes: number; sha256: string; source: 'cache' | 'download'; notStored?: string };

export interface ModelStoreOptions {
  /** Where files come from (default https://huggingface.co). */
  baseUrl?: string;
  /** 'hub': <base>/<org>/<repo>/resolve/<revision>/<file> (Hugging Face); 'mirror': <base>/<org>/<repo>/<file> (a static copy). */
  layout?: 'hub' | 'mirror';
  revision?: string;
  /** Cache Storage name (default 'seed-vc-models-v1'). */
  cacheName?: string;
  /** Known sha256 (hex) per 'org/repo/file'; otherwise the server's (X-Linked-)ETag when it is one. */
  sha256?: Record<string, string>;
  /** Resume attempts after a cut (default 3). */
  retries?: number;
  /** Abort when no data arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Counted for tests and diagnostics. */
  fetch?: typeof fetch;
}

/** Cache keys are stable names, independent of the base URL the file came from. */
const KEY_ORIGIN = 'https://seed-vc.cache';
const SHA_HEADER = 'x-seed-vc-sha256';

export interface StoredFile {
  bytes: Uint8Array;
  sha256: string;
  source: 'cache' | 'download';
  /** False when Cache Storage is missing or refused the entry (quota: e.g. a private window): the bytes are only in memory. */
  stored: boolean;
}

export class ModelStore {
  readonly baseUrl: string;
  private readonly o: ModelStoreOptions;

  constructor(options: ModelStoreOptions = {}) {
    this.o = options;
    this.baseUrl = (options.baseUrl ?? 'https://huggingface.co').replace(/\/+$/, '');
  }

  url(repo: string, file: string): string {
    if (this.o.layout === 'mirror') return `${this.baseUrl}/${repo}/${file}`;
    return `${this.baseUrl}/${repo}/resolve/${encodeURIComponent(this.o.revision ?? 'main')}/${file}`;
  }

  private async cache(): Promise<Cache | undefined> {
    if (typeof caches === 'undefined') return undefined; // non-secure context: no Cache Storage
    return caches.open(this.o.cacheName ?? 'seed-vc-models-v1');
  }

  /** The file's bytes: from the cache when a verified copy is there, else downloaded, verified and stored. */
  async get(repo: string, file: string, emit: (e: DownloadEvent) => void = () => {}, signal?: AbortSignal): Promise<StoredFile> {
    checkName(repo, file);
    const key = `${KEY_ORIGIN}/${repo}/${file}`;
    const cache = await this.cache();
    const hit = await cache?.match(key);
    if (hit) {
      const sha = hit.headers.get(SHA_HEADER) ?? '';
      const bytes = new Uint8Array(await hit.arrayBuffer());
      // An entry is complete by construction; the hash is checked again to catch storage corruption.
      if (/^[0-9a-f]{64}$/.test(sha) && (await sha256(bytes)) === sha) {
        emit({ type: 'resolve', repo, file, source: 'cache', url: key });
        emit({ type: 'done', repo, file, bytes: bytes.length, sha256: sha, source: 'cache' });
        return { bytes, sha256: sha, source: 'cache', stored: true };
      }
      await cache!.delete(key);
    }
    const url = this.url(repo, file);
    emit({ type: 'resolve', repo, file, source: 'download', url });
    const { bytes, expected } = await this.download(url, repo, file, emit, signal);
    const digest = await sha256(bytes);
    if (expected && digest !== expected) {
      throw new DownloadError(`${repo}/${file}: sha256 ${digest} does not match the expected ${expected}; the download was discarded`);
    }
    let notStored: string | undefined = cache ? undefined : 'no Cache Storage in this context';
    try {
      await cache?.put(key, new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), [SHA_HEADER]: digest },
      }));
    } catch (e) {
      // A verified download is still usable: a full quota (private windows keep storage in memory, with a small
      // quota) only means the next load downloads it again.
      notStored = `Cache Storage refused it (${(e as Error).message}); it will be downloaded again next time`;
      await cache?.delete(key).catch(() => {});
    }
    emit({ type: 'done', repo, file, bytes: bytes.length, sha256: digest, source: 'download', ...(notStored ? { notStored } : {}) });
    return { bytes, sha256: digest, source: 'download', stored: !notStored };
  }

  /**
   * The sha256 and length of a cached copy, from its entry's headers, without reading its body (a warm
   * load needs only the hashes: they key the cached graphs). `get` checks the bytes when they are read.
   */
  async lookup(repo: string, file: string, emit: (e: DownloadEvent) => void = () => {}): Promise<{ sha256: string; bytes: number } | undefined> {
    checkName(repo, file);
    const key = `${KEY_ORIGIN}/${repo}/${file}`;
    const hit = await (await this.cache())?.match(key);
    const sha = hit?.headers.get(SHA_HEADER) ?? '';
    const bytes = Number(hit?.headers.get('content-length') ?? NaN);
    await hit?.body?.cancel();
    if (!hit || !/^[0-9a-f]{64}$/.test(sha) || !Number.isFinite(bytes)) return undefined;
    emit({ type: 'resolve', repo, file, source: 'cache', url: key });
    emit({ type: 'done', repo, file, bytes, sha256: sha, source: 'cache' });
    return { sha256: sha, bytes };
  }

  /** Deletes every cached model file. */
  async clear(): Promise<void> {
    if (typeof caches !== 'undefined') await caches.delete(this.o.cacheName ?? 'seed-vc-models-v1');
  }

  /** An aborted `signal` cuts the transfer and rejects with its reason; nothing is stored. */
  private async download(url: string, repo: string, file: string, emit: (e: DownloadEvent) => void, signal?: AbortSignal): Promise<{ bytes: Uint8Array; expected?: string }> {
    const doFetch = this.o.fetch ?? fetch;
    const idle = this.o.idleTimeoutMs ?? 30_000;
    const retries = this.o.retries ?? 3;
    const chunks: Uint8Array[] = [];
    let have = 0;
    let total: number | null = null;
    let expected = this.o.sha256?.[`${repo}/${file}`]?.toLowerCase();
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const controller = new AbortController();
      const cancel = () => controller.abort();
      signal?.addEventListener('abort', cancel, { once: true });
      let timer = setTimeout(() => controller.abort(), idle);
      const kick = () => { clearTimeout(timer); timer = setTimeout(() => controller.abort(), idle); };
      try {
        let res: Response;
        try {
          res = await doFetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: controller.signal });
        } catch (e) {
          signal?.throwIfAborted();
          const why = controller.signal.aborted ? `no response within ${idle / 1000} s` : (e as Error).message;
          throw new DownloadError(`could not download ${repo}/${file} from ${url}: ${why} (is the server reachable, and does it send CORS headers?)`, undefined, { cause: e });
        }
        if (res.status === 404 || res.status === 401 || res.status === 403) {
          throw new DownloadError(`${repo}/${file} was not found at ${url} (HTTP ${res.status})`, res.status);
        }
        if (res.status !== 200 && res.status !== 206) {
          throw new DownloadError(`could not download ${repo}/${file} from ${url}: HTTP ${res.status} ${res.statusText}`, res.status);
        }
        if (res.status === 200 && have > 0) { chunks.length = 0; have = 0; } // range ignored: restart
        if (res.status === 206) {
          const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
          if (!m || Number(m[1]) !== have) { chunks.length = 0; have = 0; throw new Error(`resumed at the wrong offset (${res.headers.get('content-range')})`); }
        }
        const length = Number(res.headers.get('content-length') ?? NaN);
        if (Number.isFinite(length)) total = have + length;
        expected ??= shaFromEtag(res);
        const reader = res.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          kick();
          chunks.push(value);
          have += value.length;
          emit({ type: 'download', repo, file, loaded: have, total });
        }
        if (total !== null && have !== total) throw new Error(`ended after ${have} of ${total} bytes`);
        break;
      } catch (e) {
        signal?.throwIfAborted();
        if (e instanceof DownloadError) throw e;
        const why = controller.signal.aborted ? `no data for ${idle / 1000} s` : (e as Error).message;
        if (attempt >= retries) throw new DownloadError(`download of ${repo}/${file} from ${url} was cut after ${have} bytes (${why}); nothing was stored, load again to retry`, undefined, { cause: e });
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', cancel);
      }
    }
    const bytes = new Uint8Array(have);
    let off = 0;
    for (const c of chunks) { bytes.set(c, off); off += c.length; }
    return { bytes, expected };
  }
}

/** sha256 (hex): WebCrypto where the context offers it (native speed), else the core's incremental hash. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    const d = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
  }
  return new Sha256().update(bytes).hex();
}

/** Hugging Face serves LFS files with the sha256 as (X-Linked-)ETag; other ETags are not content hashes. */
function shaFromEtag(res: Response): string | undefined {
  for (const h of ['x-linked-etag', 'etag']) {
    const v = res.headers.get(h)?.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
    if (v && /^[0-9a-f]{64}$/.test(v)) return v;
  }
  return undefined;
}

const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkName(repo: string, file: string): void {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every((p) => SAFE_PART.test(p))) throw new DownloadError(`invalid hub repository '${repo}' (expected 'org/name')`);
  if (!file.split('/').every((p) => SAFE_PART.test(p) && p !== '..')) throw new DownloadError(`invalid file name '${file}' in ${repo}`);
}

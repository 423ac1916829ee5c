/**
 * The ONNX graphs built from checkpoints are cached on disk under a content hash of everything that
 * determines them: the sha256 of each source file, the network name, the precision, and the builders
 * themselves — the package version and BUILDER_FINGERPRINT, the sha256 of the builders' sources, which
 * scripts/graph-fingerprint.mjs regenerates (prepare), so the key moves by itself when a builder changes
 * (test/onnx/graph-fingerprint.test.ts holds the graphs each fingerprint builds). Writes are atomic (temp file + rename), so a crash or a concurrent process never leaves a
 * truncated model under a final name. File hashes are memoised by (path, size, mtime) so a warm start
 * does not re-read hundreds of megabytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type GraphKey, graphHash } from '../core/models/graph-key.ts';

export { GRAPH_BUILDER_KEY, type GraphKey, graphHash } from '../core/models/graph-key.ts';

/** sha256 (hex) of a file, memoised in <cacheDir>/file-hashes.json by path, size and mtime. */
export async function fileSha256(path: string, cacheDir?: string): Promise<string> {
  const abs = resolve(path);
  const st = await stat(abs);
  const key = `${abs}|${st.size}|${st.mtimeMs}`;
  const indexPath = cacheDir ? join(cacheDir, 'file-hashes.json') : undefined;
  let index: Record<string, string> = {};
  if (indexPath && existsSync(indexPath)) {
    try { index = JSON.parse(await readFile(indexPath, 'utf8')); } catch { index = {}; }
    if (index[key]) return index[key];
  }
  const h = createHash('sha256');
  for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
  const digest = h.digest('hex');
  if (indexPath) {
    index[key] = digest;
    await atomicWrite(indexPath, JSON.stringify(index));
  }
  return digest;
}

/**
 * The serialized graph for `key`: read from <cacheDir>/onnx/<hash>/<network>.onnx, or built with
 * `build()` and stored atomically. `cacheDir` undefined disables caching.
 */
export async function cachedGraph(cacheDir: string | undefined, key: GraphKey, build: () => Uint8Array): Promise<{ bytes: Uint8Array; cached: boolean; path?: string }> {
  if (!cacheDir) return { bytes: build(), cached: false };
  const path = join(cacheDir, 'onnx', graphHash(key), `${key.network}.onnx`);
  // The Buffer itself (a Uint8Array): copying it would hold the graph twice while the session opens.
  if (existsSync(path)) return { bytes: await readFile(path), cached: true, path };
  const bytes = build();
  await atomicWrite(path, bytes);
  return { bytes, cached: false, path };
}

/** Writes `data` to `path` through a unique temp file and a rename. */
export async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

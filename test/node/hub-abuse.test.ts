/**
 * Lying and broken download servers against resolveHubFile: each ends in a HubError that names the cause,
 * within a bounded time (small deadlines and caps here), and leaves nothing under a final name in the
 * cache and nothing at all outside it.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { writeSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { tensor } from '../../src/core/tensor.ts';
import { HubError, resolveHubFile, type HubOptions } from '../../src/node/hub.ts';
import { type HubServer, startHubServer } from './hub-server.ts';

const REPO = 'org/repo';
const weights = writeSafetensors({ w: tensor('float32', [64, 64], new Float32Array(4096).map((_, i) => Math.sin(i))) });
const archive = zipSync({ 'archive/data.pkl': new Uint8Array(3000).fill(1), 'archive/data/0': new Uint8Array(20_000).fill(2) }, { level: 0 });
const yaml = new TextEncoder().encode('model_params:\n  DiT:\n    depth: 13\n');
const html = '<!DOCTYPE html>\n<html><head><title>Hugging Face – Not Found</title></head><body>404</body></html>';
let server: HubServer;
let root: string; // holds only the cache: anything else appearing here was written outside it
let cache: string;

before(async () => {
  server = await startHubServer({
    [`${REPO}/model.safetensors`]: weights, [`${REPO}/model.pth`]: archive, [`${REPO}/config.yml`]: yaml,
  });
});
const roots: string[] = [];
after(async () => {
  await server.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'seed-vc-hub-abuse-'));
  roots.push(root);
  cache = join(root, 'cache');
  server.requests.length = 0;
  server.faults.length = 0;
});

/** Every path under the root, relative to it. */
const tree = () => readdirSync(root, { recursive: true }).map(String).sort();

/** Asserts a HubError matching `re`, within `ms`, with no final file, and nothing outside the cache. */
async function refused(file: string, o: HubOptions, re: RegExp, ms = 10_000): Promise<string> {
  const t0 = performance.now();
  let message = '';
  await assert.rejects(resolveHubFile(REPO, file, { baseUrl: server.url, cacheDir: cache, ...o }), (e: unknown) => {
    assert.ok(e instanceof HubError, `a HubError, got ${(e as Error).name}: ${(e as Error).message}`);
    message = e.message;
    assert.match(e.message, re);
    return true;
  });
  assert.ok(performance.now() - t0 < ms, `gave up within ${ms} ms`);
  const dest = join(cache, 'hub', REPO, file);
  assert.equal(existsSync(dest), false, 'nothing under the final name');
  assert.equal(existsSync(`${dest}.lock`), false, 'the lock is released');
  assert.ok(tree().every((p) => p === 'cache' || p.startsWith(`cache/`)), `nothing outside the cache: ${tree()}`);
  return message;
}

test('well-behaved hub first: each kind of file arrives intact (the sniffs accept real files)', async () => {
  for (const [file, bytes] of [['model.safetensors', weights], ['model.pth', archive], ['config.yml', yaml]] as const) {
    const p = await resolveHubFile(REPO, file, { baseUrl: server.url, cacheDir: cache });
    assert.deepEqual(new Uint8Array(readFileSync(p)), bytes);
  }
  // a mirror that drops the hub's headers: no hash, so the size and the content sniff decide
  server.faults.push({ noHubHeaders: true });
  rmSync(cache, { recursive: true });
  const p = await resolveHubFile(REPO, 'model.pth', { baseUrl: server.url, cacheDir: cache });
  assert.deepEqual(new Uint8Array(readFileSync(p)), archive);
  assert.equal(JSON.parse(readFileSync(`${p}.record.json`, 'utf8')).origin, 'computed');
});

test('an HTML page served with 200 instead of the file is refused', async () => {
  for (const file of ['model.safetensors', 'model.pth', 'config.yml']) {
    server.faults.push({ body: html });
    await refused(file, {}, new RegExp(`org/repo/${file.replace('.', '\\.')} from .* was refused: it is an HTML page`));
  }
});

test('a short body without a hash is refused by the content sniff', async () => {
  server.faults.push({ body: weights.subarray(0, weights.length - 100) });
  await refused('model.safetensors', {}, /safetensors header describes \d+ bytes, the file has \d+/);
  server.faults.push({ body: archive.subarray(0, 10_000) });
  await refused('model.pth', {}, /zip archive has no end record/);
  server.faults.push({ body: new TextEncoder().encode('model_params:\n  DiT: [1, 2') });
  await refused('config.yml', {}, /not valid YAML/);
});

test('a store that sends less or other than the hub announced is refused', async () => {
  server.faults.push({ linkedSize: archive.length + 1 });
  await refused('model.pth', {}, /the hub announces \d+ bytes but .* sends \d+/);
  server.faults.push({ wrongEtag: true });
  await refused('model.pth', {}, /sha256 [0-9a-f]{64} does not match the expected 0{64}; the file was discarded/);
  assert.deepEqual(tree().filter((p) => /\.(incomplete|lock|record\.json)$|model\.pth$/.test(p)), [], 'no partial, lock, record or file');
});

test('an endless body stops at the size cap; a file announced over the cap is not fetched at all', async () => {
  server.faults.push({ endless: true, noHubHeaders: true });
  await refused('model.pth', { maxBytes: 2_000_000 }, /passed the 2000000-byte cap \(maxBytes\); discarded/);
  server.faults.push({});
  await refused('model.pth', { maxBytes: 1000 }, /org\/repo\/model\.pth is 23\d+ bytes, over the 1000-byte cap/);
});

test('a trickling server (one byte at a time) hits the overall deadline', async () => {
  server.faults.push({ trickleMs: 50, noHubHeaders: true });
  await refused('model.pth', { deadlineMs: 700, idleTimeoutMs: 5000 }, /cut after \d+ bytes \(not finished within the 0\.7 s deadline\); run again to resume/, 5000);
});

test('redirect loops, foreign schemes and downgrades are refused', async () => {
  server.faults.push({ redirectLoop: true });
  await refused('model.pth', {}, /redirect loop: .* redirects back to/);
  server.faults.push({ location: 'file:///etc/passwd' });
  await refused('model.pth', {}, /redirects to 'file:\/\/\/etc\/passwd': only http\(s\) is followed/);
});

test('network failures keep their cause: connection refused, TLS', async () => {
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
  await refused('model.pth', { baseUrl: `http://127.0.0.1:${port}` }, /download of org\/repo\/model\.pth from .* failed: connection refused by 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  // https against a plain-HTTP port: the TLS handshake fails
  await refused('model.pth', { baseUrl: server.url.replace('http:', 'https:') }, /failed: TLS error with 127\.0\.0\.1:\d+: .*\(ERR_SSL_WRONG_VERSION_NUMBER\)/);
});

test('a lock held by a live process is waited for only up to the deadline', async () => {
  const dir = join(cache, 'hub', REPO);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.pth.lock'), String(process.pid));
  await assert.rejects(resolveHubFile(REPO, 'model.pth', { baseUrl: server.url, cacheDir: cache, deadlineMs: 300 }),
    (e: unknown) => e instanceof HubError && /gave up after 0\.3 s waiting for process \d+ to finish org\/repo\/model\.pth/.test(e.message));
  assert.equal(server.requests.length, 0);
});

test('peak memory stays bounded while an endless body streams to the cap (child process)', async (t) => {
  server.faults.push({ endless: true, noHubHeaders: true });
  const cap = 512 * 2 ** 20;
  // async: the servers live in this process and must keep serving while the child runs
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hub-child.ts'), server.url, cache, REPO, 'model.pth', JSON.stringify({ maxBytes: cap })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill(), 60_000);
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as { error: { name: string; message: string } | null; rssBeforeBytes: number; maxRssBytes: number };
  assert.equal(out.error?.name, 'HubError');
  assert.match(out.error!.message, new RegExp(`passed the ${cap}-byte cap`));
  const growth = out.maxRssBytes - out.rssBeforeBytes;
  t.diagnostic(`peak RSS ${(out.maxRssBytes / 2 ** 20).toFixed(0)} MiB, ${(growth / 2 ** 20).toFixed(0)} MiB over the start, for ${cap / 2 ** 20} MiB streamed`);
  assert.ok(growth < cap / 4, `peak RSS grew ${(growth / 2 ** 20).toFixed(0)} MiB while ${cap / 2 ** 20} MiB streamed through`);
  assert.deepEqual(tree(), ['cache', 'cache/hub', 'cache/hub/org', 'cache/hub/org/repo'], 'the discarded partial is gone');
});

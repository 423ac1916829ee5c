import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubError, resolveHubFile } from '../../src/node/hub.ts';
import { type HubServer, startHubServer } from './hub-server.ts';

const REPO = 'org/repo';
const big = new Uint8Array(3_000_000).map((_, i) => (i * 2654435761) >>> 24);
const small = new TextEncoder().encode('{"hello": "world"}');
let server: HubServer;
let cache: string;

before(async () => { server = await startHubServer({ [`${REPO}/model.bin`]: big, [`${REPO}/config.json`]: small }); });
after(async () => { await server.close(); });
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'seed-vc-hub-'));
  server.requests.length = 0;
  server.faults.length = 0;
});

const leftovers = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.incomplete|\.lock|\.tmp-/.test(f));
const record = (p: string) => JSON.parse(readFileSync(`${p}.record.json`, 'utf8')) as { sha256: string; size: number; mtimeMs: number; origin: string };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('downloads with progress, then serves from the cache without a request', async () => {
  const events: string[] = [];
  const p = await resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache, onProgress: (e) => events.push(e.type) });
  assert.deepEqual(new Uint8Array(readFileSync(p)), big);
  assert.ok(events.includes('download') && events.at(-1) === 'done');
  assert.deepEqual(leftovers(cache), []);
  // as on the real hub: the hub answers 302 with the sha256 and size, the bytes come from another origin
  assert.deepEqual(server.requests.map((r) => r.server), ['hub', 'store']);
  assert.equal(record(p).sha256, sha(big));
  assert.equal(record(p).origin, 'hub', 'the sha256 came from the 302, before the redirect was followed');
  assert.equal(record(p).size, big.length);
  const n = server.requests.length;
  const again = await resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache });
  assert.equal(again, p);
  assert.equal(server.requests.length, n, 'no request for a cached file');
});

test('a cut download leaves no final file and resumes with a Range request', async () => {
  server.faults.push({ cutAfter: 1_000_000 });
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache }), (e: unknown) => e instanceof HubError && /cut|ended/.test((e as Error).message));
  const dest = join(cache, 'hub', REPO, 'model.bin');
  assert.equal(existsSync(dest), false, 'no partial file under the final name');
  assert.ok(existsSync(`${dest}.incomplete`));
  const p = await resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache });
  assert.match(server.requests.at(-1)!.range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(server.requests.at(-1)!.range!)![0]) > 0, 'resumed from a non-zero offset');
  assert.deepEqual(new Uint8Array(readFileSync(p)), big);
  assert.deepEqual(leftovers(cache), []);
});

test('a server that ignores Range restarts from zero and still ends correct', async () => {
  server.faults.push({ cutAfter: 500_000 }, { ignoreRange: true });
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache }), HubError);
  const p = await resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache });
  assert.deepEqual(new Uint8Array(readFileSync(p)), big);
});

test('a wrong sha256 is refused and nothing is cached', async () => {
  server.faults.push({ wrongEtag: true });
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache }), /sha256 .* does not match/);
  assert.equal(existsSync(join(cache, 'hub', REPO, 'model.bin')), false);
  assert.deepEqual(leftovers(cache), []);
  await assert.rejects(resolveHubFile(REPO, 'config.json', { baseUrl: server.url, cacheDir: cache }, { sha256: 'f'.repeat(64) }), /does not match/);
});

test('404 and timeouts are clear errors', async () => {
  await assert.rejects(resolveHubFile(REPO, 'missing.bin', { baseUrl: server.url, cacheDir: cache }), /org\/repo\/missing\.bin was not found at .* \(HTTP 404\)/);
  server.faults.push({ stall: true });
  const t0 = Date.now();
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { baseUrl: server.url, cacheDir: cache, idleTimeoutMs: 300 }), /no data for 0\.3 s|no response within/);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(existsSync(join(cache, 'hub', REPO, 'model.bin')), false);
});

test('offline mode and the mirror: the mirror wins and nothing is fetched', async () => {
  const mirror = join(cache, 'mirror');
  mkdirSync(join(mirror, REPO), { recursive: true });
  writeFileSync(join(mirror, REPO, 'config.json'), 'mirrored');
  const p = await resolveHubFile(REPO, 'config.json', { baseUrl: server.url, cacheDir: cache, mirror });
  assert.equal(readFileSync(p, 'utf8'), 'mirrored');
  assert.equal(server.requests.length, 0);
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { cacheDir: cache, mirror, offline: true }), /not in the mirror .* or the cache .* and downloads are off/);
  await assert.rejects(resolveHubFile('../etc', 'passwd', { cacheDir: cache }), /invalid hub repository/);
});

test('concurrent processes share one download and never corrupt the cache', async () => {
  const child = () => new Promise<string>((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hub-child.ts'), server.url, cache, REPO, 'model.bin'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(err))));
  });
  const paths = await Promise.all([child(), child(), child()]);
  assert.equal(new Set(paths).size, 1);
  assert.deepEqual(new Uint8Array(readFileSync(paths[0])), big);
  const gets = server.requests.filter((r) => r.path.endsWith('model.bin')).length;
  assert.equal(gets, 1, 'one download for three processes');
  assert.deepEqual(leftovers(cache), []);
  rmSync(cache, { recursive: true, force: true });
});

test('a cached file is checked against its record: memoised by size and mtime, a corrupt one deleted and fetched again', async () => {
  const lines: string[] = [];
  const o = { baseUrl: server.url, cacheDir: cache, log: (l: string) => lines.push(l) };
  const p = await resolveHubFile(REPO, 'model.bin', o);
  const n = server.requests.length;
  // same size and mtime as recorded: trusted without reading (a record whose hash no longer matches the
  // bytes is not even noticed, which shows that no hashing happened)
  const rec = record(p);
  writeFileSync(`${p}.record.json`, JSON.stringify({ ...rec, sha256: 'e'.repeat(64) }));
  assert.equal(await resolveHubFile(REPO, 'model.bin', o), p);
  assert.equal(server.requests.length, n);
  writeFileSync(`${p}.record.json`, JSON.stringify(rec));
  // touched but intact: hashed once, the record refreshed, nothing fetched
  const later = new Date(Date.now() + 5000);
  utimesSync(p, later, later);
  assert.equal(await resolveHubFile(REPO, 'model.bin', o), p);
  assert.equal(server.requests.length, n);
  assert.equal(record(p).mtimeMs, statSync(p).mtimeMs);
  assert.deepEqual(lines, []);
  // one flipped byte: deleted with a message, fetched again, correct
  const bytes = readFileSync(p);
  bytes[123_456] ^= 1;
  writeFileSync(p, bytes);
  assert.equal(await resolveHubFile(REPO, 'model.bin', o), p);
  assert.deepEqual(new Uint8Array(readFileSync(p)), big);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^cached org\/repo\/model\.bin is corrupt \(sha256 [0-9a-f]{64} does not match the recorded [0-9a-f]{64}\); deleted it, downloading it again$/);
  assert.ok(server.requests.length > n);
  // offline, a corrupt entry is deleted and reported, never served
  writeFileSync(p, bytes);
  await assert.rejects(resolveHubFile(REPO, 'model.bin', { ...o, offline: true }), /not in the cache .* downloads are off/);
  assert.equal(existsSync(p), false);
  assert.match(lines[1], /is corrupt .*; deleted it$/);
});

test('a cache entry without a record (an older cache) must pass the content sniff', async () => {
  const lines: string[] = [];
  const o = { baseUrl: server.url, cacheDir: cache, log: (l: string) => lines.push(l) };
  const dir = join(cache, 'hub', REPO);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{"kept": true}');
  assert.equal(readFileSync(await resolveHubFile(REPO, 'config.json', o), 'utf8'), '{"kept": true}');
  assert.equal(record(join(dir, 'config.json')).origin, 'computed');
  assert.equal(server.requests.length, 0);
  // an HTML error page left under the final name by an older version: replaced
  rmSync(join(dir, 'config.json.record.json'));
  writeFileSync(join(dir, 'config.json'), '<!DOCTYPE html><html><body>502 Bad Gateway</body></html>');
  const p = await resolveHubFile(REPO, 'config.json', o);
  assert.deepEqual(new Uint8Array(readFileSync(p)), small);
  assert.match(lines[0], /cached org\/repo\/config\.json is corrupt \(it is an HTML page, not JSON/);
});

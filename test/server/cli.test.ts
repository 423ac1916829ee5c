/** `seed-vc serve` as a command: refuses an exposed bind without a token; prints its URL; SIGTERM exits 0 and cleans up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HUB, PROJECT_ROOT } from '../helpers/golden.ts';

const BIN = join(PROJECT_ROOT, 'bin', 'seed-vc.js');

test('a non-loopback --host without --token is refused with a clear message', () => {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', env: { ...process.env, SEED_VC_TOKEN: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--host 0\.0\.0\.0 makes the server reachable from other machines; give --token/);
  const bad = spawnSync(process.execPath, [BIN, 'serve', '--workers', '0'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--workers must be in 1\.\.64/);
});

test('seed-vc serve prints its URL, answers, and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seed-vc-serve-cli-'));
  try {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', join(dir, 'data'), '--hub-mirror', HUB, '--offline', '--cache-dir', join(dir, 'cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const m = /seed-vc serve: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const h = await (await fetch(`${url}/healthz`)).json();
    assert.equal(h.status, 'ok');
    const page = await (await fetch(`${url}/`)).text();
    assert.match(page, /^<!doctype html>/i);
    const code = await new Promise<number | null>((resolve) => { child.on('exit', resolve); child.kill('SIGTERM'); });
    assert.equal(code, 0, out);
    assert.match(out, /SIGTERM, shutting down/);
    assert.deepEqual(readdirSync(join(dir, 'data', 'uploads')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

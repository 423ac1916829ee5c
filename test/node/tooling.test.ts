/**
 * Quiet tooling: npm commands in the project print no config warnings (npm 11 warns on every command about
 * an unknown project .npmrc key such as onnxruntime-node-install), and onnxruntime-node's install script —
 * which would fetch CUDA libraries from NuGet — is denied through package.json's allowScripts, which npm
 * ≥ 11.16 honours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../helpers/golden.ts';

test('npm exec in the project prints no warnings, and onnxruntime-node\'s install script is denied', (t) => {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_config_/i.test(k) || k === 'ONNXRUNTIME_NODE_INSTALL') delete env[k];
  const r = spawnSync('npm', ['exec', '--offline', '--', 'node', '-e', 'process.stdout.write("ran")'], { cwd: PROJECT_ROOT, encoding: 'utf8', env, timeout: 60_000 });
  const version = spawnSync('npm', ['--version'], { cwd: PROJECT_ROOT, encoding: 'utf8', env }).stdout.trim();
  t.diagnostic(`npm ${version}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ran');
  assert.doesNotMatch(r.stderr, /npm warn/i, `npm ${version} printed: ${r.stderr}`);
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  if (existsSync(join(PROJECT_ROOT, '.npmrc'))) {
    assert.doesNotMatch(readFileSync(join(PROJECT_ROOT, '.npmrc'), 'utf8'), /onnxruntime-node-install/);
  }
});

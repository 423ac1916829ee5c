/**
 * Bad CLI input: one line on stderr naming the problem, a non-zero exit, nothing written or overwritten.
 * Long inputs (> 30 s and > 60 s) go through both window mechanisms.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav, readWav, toMono } from '../../src/core/audio/index.ts';
import { contentWindows, ditWindows } from '../../src/core/pipeline/windows.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, PROJECT_ROOT } from '../helpers/golden.ts';

const CASE = join(GOLDEN, 'e2e', 'e2e_full_short');
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'seed-vc-cli-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'seed-vc.js'), ...args], { encoding: 'utf8', cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const base = (source: string, target = join(CASE, 'reference.wav'), out = join(dir, 'out.wav')) =>
  ['convert', '--source', source, '--target', target, '--output', out, '--hub-mirror', HUB, '--offline', '--cache-dir', join(dir, 'cache'), '--device', 'cpu', '--diffusion-steps', '2', '-q'];

function wavFile(name: string, samples: Float32Array, rate = 22050): string {
  const p = join(dir, name);
  writeFileSync(p, encodeWav(samples, rate, { format: 'float32' }));
  return p;
}
function oneLineError(r: { status: number | null; stderr: string }, re: RegExp): void {
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], /^seed-vc: error: /);
  assert.match(lines[0], re);
}

test('a missing input file is a one-line error', () => {
  oneLineError(cli(base(join(dir, 'nope.wav'))), /file not found: .*nope\.wav/);
});

test('unreadable audio is a one-line error naming the file', () => {
  const p = join(dir, 'text.wav');
  writeFileSync(p, 'this is not audio at all, just some text that is long enough');
  oneLineError(cli(base(p)), /text\.wav: .*(RIFF|format|recognised|accepted)/i);
});

test('silent, 0.1 s and NaN inputs are one-line errors', () => {
  oneLineError(cli(base(wavFile('silent.wav', new Float32Array(22050 * 2)))), /source audio is silent/);
  const short = new Float32Array(2205).map((_, i) => Math.sin(i / 10) * 0.5);
  oneLineError(cli(base(wavFile('short.wav', short))), /source audio is 0\.10 s long; at least 0\.5 s/);
  // A float WAV holding NaN: written by hand (our encoder refuses NaN).
  const nanWav = encodeWav(new Float32Array(22050).fill(0.1), 22050, { format: 'float32' });
  new DataView(nanWav.buffer).setFloat32(nanWav.length - 40, NaN, true);
  const p = join(dir, 'nan.wav');
  writeFileSync(p, nanWav);
  oneLineError(cli(base(join(CASE, 'source.wav'), p)), /nan\.wav: .*(NaN|non-finite)/i);
});

test('bad option values are one-line errors with exit code 2', () => {
  const r = cli([...base(join(CASE, 'source.wav')), '--diffusion-steps', 'many']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /expected an integer, got 'many'/);
  oneLineError(cli([...base(join(CASE, 'source.wav')), '--length-adjust', '0']), /length adjust must be in \(0, 10\]/);
  oneLineError(cli([...base(join(CASE, 'source.wav')), '--checkpoint', join(dir, 'x.pth')]), /--checkpoint and --config go together/);
});

test('an existing output is not overwritten without --force, and an input never is', () => {
  const out = join(dir, 'exists.wav');
  writeFileSync(out, 'keep me');
  oneLineError(cli(base(join(CASE, 'source.wav'), undefined, out)), /output exists: .*exists\.wav \(use --force to overwrite\)/);
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
  const src = wavFile('src-copy.wav', toMono(readWav(new Uint8Array(readFileSync(join(CASE, 'source.wav'))), 'source.wav')));
  const before = statSync(src).mtimeMs;
  oneLineError(cli([...base(src, undefined, src), '--force']), /refusing to write the output over an input file/);
  assert.equal(statSync(src).mtimeMs, before);
});

test('the 30 s Whisper windows and the 30 s DiT windows schedule long inputs like inference.py', () => {
  // 32 s (e2e_full_long) and 65 s at 16 kHz.
  assert.deepEqual(contentWindows(512000).map((w) => [w.start, w.end, w.dropHeadFrames]), [[0, 480000, 0], [400000, 512000, 250]]);
  assert.deepEqual(contentWindows(1040000).map((w) => [w.start, w.end]), [[0, 480000], [400000, 880000], [800000, 1040000]]);
  assert.deepEqual(ditWindows(2756, 258, 2580).map((w) => [w.start, w.end, w.isLast]), [[0, 2322, false], [2306, 2756, true]]);
});

test('a 65 s source converts through 3 Whisper windows and 3 DiT windows with crossfades', async () => {
  const a = readWav(new Uint8Array(readFileSync(join(CASE, 'source.wav'))), 'source.wav');
  const mono = toMono(a);
  const n = 65 * 22050;
  const long = new Float32Array(n);
  for (let i = 0; i < n; i += mono.length) long.set(mono.subarray(0, Math.min(mono.length, n - i)), i);
  const ref = toMono(readWav(new Uint8Array(readFileSync(join(CASE, 'reference.wav'))), 'reference.wav'));
  const model = await SeedVc.load({ mirror: HUB, offline: true, cacheDir: join(dir, 'cache'), device: 'cpu', precision: 'fp32' });
  try {
    const events: string[] = [];
    const r = await model.convert({ samples: long, sampleRate: 22050 }, { samples: ref, sampleRate: 22050 }, {
      diffusionSteps: 2, seed: 1, onProgress: (e) => { if (e.type === 'content') events.push(`content ${e.window}/${e.windows}`); },
    });
    const frames = Math.floor(n / 256);
    const windows = ditWindows(frames, r.intermediates.prompt.shape[2], 2580);
    assert.equal(windows.length, 3);
    assert.equal(r.intermediates.vcTargets.length, 3);
    assert.ok(events.includes('content 3/3'), events.join(', '));
    // Windows overlap by 16 frames and each overlap is crossfaded into one: frames * hop samples in all.
    assert.equal(r.audio.length, frames * 256);
    // Whisper keeps min(samples // 320 + 1, 1500) frames per window and drops 250 from windows 2 and 3.
    assert.equal(r.intermediates.sAlt.shape[1], 1500 + (1500 - 250) + (Math.floor(240000 / 320) + 1 - 250));
    assert.ok(r.audio.every(Number.isFinite));
    assert.equal(existsSync(join(dir, 'out.wav')), false, 'failed CLI runs above wrote nothing');
  } finally {
    await model.dispose();
  }
});

test('seed-vc doctor reports the CPU and the per-stage precision with reasons', () => {
  const r = cli(['doctor', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const cpu = report.devices.find((d: { device: string }) => d.device === 'cpu');
  assert.equal(cpu.available, true);
  assert.equal(cpu.plans.auto.mode, 'fp32');
  assert.match(cpu.plans.auto.reason, /CPU/);
  assert.match(cpu.plans.fp16.stages.dit, /^fp16/);
  assert.match(cpu.plans.fp16.stages.vocoder, /^fp32/);
  for (const d of report.devices) if (!d.available) assert.ok(d.error.length > 0, `${d.device} says why it is unavailable`);
});

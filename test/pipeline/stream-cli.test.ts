/**
 * `seed-vc stream`: each golden stream case's command line (case.json -> cli.command, run in the case folder)
 * plus --output reproduces the case's output; the same stream through stdin/stdout as raw PCM; the printed
 * statistics; the Silero VAD gate on real speech with silence around it; bad input refused before any work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav, readWav, toMono } from '../../src/core/audio/index.ts';
import { resampleSoxr } from '../../src/core/dsp/soxr.ts';
import { BlockFramer, PcmDecoder, StreamStats, decodePcm, encodePcm } from '../../src/core/pipeline/stream-io.ts';
import { SileroVad, VoiceActivityGate } from '../../src/core/pipeline/vad.ts';
import { nodeBackend } from '../../src/node/backend.ts';
import { createVadGate, sileroVadModelPath } from '../../src/node/vad.ts';
import { toFloat32 } from '../../src/core/tensor.ts';
import { AUDIO, GOLDEN, PROJECT_ROOT, goldenTensors, relErr } from '../helpers/golden.ts';

const STREAM = join(GOLDEN, 'stream');
const BIN = join(PROJECT_ROOT, 'bin', 'seed-vc.js');
let dir: string;
let env: NodeJS.ProcessEnv;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'seed-vc-stream-cli-'));
  env = { ...process.env, SEED_VC_CACHE: join(dir, 'cache') };
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** case.json's command line as argv (it has no quoting: plain words). */
function caseArgs(id: string): string[] {
  const c = JSON.parse(readFileSync(join(STREAM, id, 'case.json'), 'utf8')) as { cli: { command: string } };
  const words = c.cli.command.split(/\s+/);
  assert.equal(words[0], 'seed-vc');
  assert.equal(words[1], 'stream');
  return words.slice(1);
}
const golden = (id: string) => goldenTensors(join('stream', id, 'expected.safetensors'));
const tolOutput = (id: string) => (JSON.parse(readFileSync(join(STREAM, id, 'case.json'), 'utf8')) as { compare: { tensor: string; tol: number }[] })
  .compare.find((c) => c.tensor === 'output')!.tol;

for (const id of ['rt_readme_0p18', 'rt_block0p3_nocfg']) {
  test(`${id}: the case's command line plus --output reproduces the output`, (t) => {
    const out = join(dir, `${id}.wav`);
    const r = spawnSync(process.execPath, [BIN, ...caseArgs(id), '--output', out, '--json'], { cwd: join(STREAM, id), env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const y = toMono(readWav(new Uint8Array(readFileSync(out)), out));
    const g = toFloat32(golden(id).get('output')!).data;
    assert.equal(y.length, g.length);
    const err = relErr(y, g);
    assert.ok(err <= tolOutput(id), `output err ${err} > ${tolOutput(id)}`);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.blocks, g.length / Math.round(summary.blockSeconds * 22050));
    assert.equal(summary.vad, false);
    for (const line of [/algorithmic latency \d+ ms/, /compute per block: p50 \d+ ms, p95 \d+ ms, max \d+ ms/, /deadline misses: [\d.]+% of blocks/, /VAD: off/]) {
      assert.match(r.stderr, line);
    }
    t.diagnostic(`err ${err.toExponential(2)} (tol ${tolOutput(id)}); compute p50 ${summary.computeMs.p50.toFixed(0)} ms, p95 ${summary.computeMs.p95.toFixed(0)} ms`);
  });
}

test('rt_block0p3_nocfg through stdin/stdout as raw f32le PCM equals the file run', async () => {
  const id = 'rt_block0p3_nocfg';
  const src = toMono(readWav(new Uint8Array(readFileSync(join(STREAM, id, 'source.wav'))), 'source.wav'));
  const raw = join(dir, 'source.f32');
  writeFileSync(raw, encodePcm(src, 'f32le'));
  const args = caseArgs(id).map((w) => (w === 'source.wav' ? '-' : w));
  const child = spawn(process.execPath, [BIN, ...args, '--output', '-', '--format', 'f32le', '-q'], { cwd: join(STREAM, id), env });
  // odd-sized writes: the framing must not care
  const input = createReadStream(raw, { highWaterMark: 1001 });
  input.pipe(child.stdin);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => chunks.push(b));
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b; });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, stderr);
  const y = decodePcm(new Uint8Array(Buffer.concat(chunks)), 'f32le');
  const g = toFloat32(golden(id).get('output')!).data;
  assert.equal(y.length, g.length);
  assert.ok(relErr(y, g) <= tolOutput(id));
  assert.match(stderr, /compute per block: p50/);
});

test('raw s16le PCM at 16 kHz in and out: resampled to the model rate and back, as long as the input', async () => {
  const id = 'rt_block0p3_nocfg';
  const src = toMono(readWav(new Uint8Array(readFileSync(join(STREAM, id, 'source.wav'))), 'source.wav'));
  const x16 = resampleSoxr(src, 22050, 16000);
  const args = caseArgs(id).map((w) => (w === 'source.wav' ? '-' : w));
  const r = spawnSync(process.execPath, [BIN, ...args, '--format', 's16le', '--rate', '16000', '-q'],
    { cwd: join(STREAM, id), env, input: Buffer.from(encodePcm(x16, 's16le')), maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, String(r.stderr));
  const y = decodePcm(new Uint8Array(r.stdout), 's16le');
  // whole blocks at 22050 Hz, back at 16 kHz: at least the input, at most one block more
  assert.ok(y.length >= x16.length && y.length <= x16.length + 0.3 * 16000 + 2, `${y.length} samples for ${x16.length}`);
  let peak = 0;
  for (const v of y) peak = Math.max(peak, Math.abs(v));
  assert.ok(peak > 1e-3, 'converted audio, not silence');
  // the same conversion as the 22050 Hz run, within the resamplers' and s16's effect: compare the envelopes
  const g = toFloat32(golden(id).get('output')!).data;
  const g16 = resampleSoxr(g, 22050, 16000);
  const energy = (a: Float32Array, i: number) => { let e = 0; for (let j = i; j < i + 1600; j++) e += a[j] * a[j]; return e; };
  let num = 0, da = 0, db = 0;
  for (let i = 0; i + 1600 <= g16.length; i += 1600) { const a = energy(y, i), b = energy(g16, i); num += a * b; da += a * a; db += b * b; }
  assert.ok(num / Math.sqrt(da * db) > 0.9, `envelope correlation ${num / Math.sqrt(da * db)}`);
});

test('stream CLI: bad input is one line and exit 1, before the model loads', () => {
  const ref = join(STREAM, 'rt_readme_0p18', 'reference.wav');
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'stream', '-t', ref, ...args], { cwd: dir, env, encoding: 'utf8', input: '' });
  let r = run(['--source', ref]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--output is needed with a file source/);
  r = run(['--rate', '100']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--rate must be in 8000\.\.192000/);
  r = run(['--source', join(dir, 'missing.wav'), '--output', join(dir, 'x.wav')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing\.wav/);
  r = run(['--format', 'u8']);
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n')[0].startsWith('error: option'), true);
});

test('PCM framing: blocks from any chunking, s16 round trip, partial last block zero-padded', () => {
  const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 7) * 0.9);
  const s16 = encodePcm(x, 's16le');
  const back = decodePcm(s16, 's16le');
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) < 2 / 32767, `sample ${i}`);
  const framer = new BlockFramer(300, 'f32le');
  const bytes = encodePcm(x, 'f32le');
  const blocks: Float32Array[] = [];
  for (let o = 0; o < bytes.length; o += 333) blocks.push(...framer.push(bytes.subarray(o, o + 333)));
  assert.equal(blocks.length, 3);
  assert.deepEqual([...blocks[2]], [...x.subarray(600, 900)]);
  const last = framer.flush()!;
  assert.equal(last.samples, 100);
  assert.deepEqual([...last.block.subarray(0, 100)], [...x.subarray(900)]);
  assert.ok(last.block.subarray(100).every((v) => v === 0));
  const dec = new PcmDecoder('s16le');
  const a = dec.push(s16.subarray(0, 5));
  const b = dec.push(s16.subarray(5));
  assert.equal(a.length + b.length, 1000);
  assert.equal(dec.leftover, 0);
  assert.throws(() => decodePcm(new Uint8Array(3), 'f32le'), /multiple of 4/);
  const stats = new StreamStats(0.18);
  for (const ms of [100, 120, 200, 90, 170]) stats.add(ms, ms === 90);
  const s = stats.summary();
  assert.equal(s.computeMs.p50, 120);
  assert.equal(s.computeMs.max, 200);
  assert.equal(s.deadlineMissShare, 0.2);
  assert.equal(s.vadSkippedShare, 0.2);
});

test('Silero VAD gate: silence is skipped, speech converted, the hangover keeps word ends', async (t) => {
  const a = readWav(new Uint8Array(readFileSync(join(AUDIO, 'source_s1.wav'))), 'source_s1.wav');
  const speech = resampleSoxr(toMono(a), a.sampleRate, 22050).subarray(0, 22050 * 3);
  const x = new Float32Array(speech.length + 2 * 22050);
  x.set(speech, 22050); // 1 s silence, 3 s speech, 1 s silence
  const gate = await createVadGate({ sampleRate: 22050, hangoverSeconds: 0.3 });
  const B = 3969;
  const decisions: boolean[] = [];
  try {
    for (let k = 0; k + B <= x.length; k += B) decisions.push(await gate.speech(x.subarray(k, k + B)));
  } finally {
    await gate.dispose();
  }
  const blockOf = (s: number) => Math.floor(s / B);
  // the leading second of silence is skipped, the middle of the speech converted
  for (let k = 0; k < blockOf(22050) - 1; k++) assert.equal(decisions[k], false, `block ${k} (silence)`);
  assert.equal(decisions[blockOf(22050 + 22050)], true, 'speech block');
  // trailing silence: skipped after the hangover, not before
  const lastSpeech = decisions.lastIndexOf(true);
  assert.ok(lastSpeech < decisions.length - 2, 'trailing silence skipped');
  assert.ok(decisions.filter((d) => !d).length >= 8);
  t.diagnostic(decisions.map((d) => (d ? 'S' : '.')).join(''));
  // the package's model file is what the gate runs, and its interface is Silero v5's
  const s = await nodeBackend.createSession(new Uint8Array(readFileSync(sileroVadModelPath())), { device: 'cpu', threads: 1 });
  try {
    assert.deepEqual([...s.inputNames].sort(), ['input', 'sr', 'state']);
    const vad = new SileroVad(s);
    assert.deepEqual(await vad.probabilities(new Float32Array(100)), []); // less than one 512-sample chunk
    const p = await vad.probabilities(new Float32Array(1000));
    assert.equal(p.length, 2);
    assert.ok(p.every((v) => v < 0.2), `silence probabilities ${p}`);
    assert.throws(() => new VoiceActivityGate(vad, { sampleRate: 16000, threshold: 2 }), RangeError);
  } finally {
    await s.release();
  }
});

test('seed-vc stream --vad true skips the silent blocks of a file and reports the share', (t) => {
  const a = readWav(new Uint8Array(readFileSync(join(AUDIO, 'source_s1.wav'))), 'source_s1.wav');
  const speech = resampleSoxr(toMono(a), a.sampleRate, 22050).subarray(0, 22050 * 2);
  const x = new Float32Array(speech.length + 22050 * 2);
  x.set(speech, 22050 * 2); // 2 s of silence first
  const src = join(dir, 'silence-then-speech.wav');
  writeFileSync(src, encodeWav(x, 22050, { format: 'float32' }));
  const out = join(dir, 'vad.wav');
  const r = spawnSync(process.execPath, [BIN, 'stream', '--source', src, '--target', join(STREAM, 'rt_readme_0p18', 'reference.wav'),
    '--output', out, '--hub-mirror', join(GOLDEN, 'hub'), '--hift-config', join(STREAM, 'configs', 'hifigan.yml'),
    '--diffusion-steps', '2', '--vad', 'true', '--json', '-q'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.vad, true);
  assert.ok(s.vadSkippedShare > 0.3 && s.vadSkippedShare < 0.7, `skipped ${s.vadSkippedShare}`);
  assert.match(r.stderr, /VAD: [\d.]+% of blocks skipped/);
  const y = toMono(readWav(new Uint8Array(readFileSync(out)), out));
  assert.equal(y.length, x.length);
  assert.ok(y.subarray(0, 22050).every((v) => v === 0), 'skipped blocks are silent');
  t.diagnostic(`VAD skipped ${(100 * s.vadSkippedShare).toFixed(0)}% of ${s.blocks} blocks`);
});

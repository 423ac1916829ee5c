/**
 * Validate before work: every option range, the output path and the inputs are judged before a model
 * file is resolved, so a bad command costs neither a download nor a conversion. The hub here is a
 * loopback server that counts requests (and has no files): only the one valid command may reach it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav } from '../../src/core/audio/index.ts';
import { main } from '../../src/cli/main.ts';

let dir: string;
let server: Server;
let hubUrl: string;
const requests: string[] = [];

before(async () => {
  for (const k of ['SEED_VC_CACHE', 'SEED_VC_HUB_MIRROR', 'SEED_VC_HUB_URL', 'HF_ENDPOINT']) delete process.env[k];
  dir = mkdtempSync(join(tmpdir(), 'seed-vc-validate-'));
  server = createServer((req, res) => { requests.push(req.url ?? ''); res.statusCode = 404; res.end('not here'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hubUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI's main() in this process (one spawn per command would cost seconds each), capturing
 * stderr; the hub server keeps answering because main() is asynchronous.
 */
async function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { status: await main(['node', 'seed-vc', ...args]), stderr };
  } finally {
    process.stderr.write = write;
  }
}

function wav(name: string, seconds: number, amplitude = 0.3, rate = 16000): string {
  const p = join(dir, name);
  writeFileSync(p, encodeWav(new Float32Array(Math.round(seconds * rate)).map((_, i) => amplitude * Math.sin(i / 7)), rate, { format: 'float32' }));
  return p;
}

let caseNo = 0;
/** A convert command against the counting hub with a fresh, empty (not yet existing) cache folder. */
function convert(extra: string[], source?: string, output = join(dir, 'out.wav')) {
  const cache = join(dir, `cache-${caseNo++}`);
  const args = ['convert', '-s', source ?? join(dir, 'src.wav'), '-t', join(dir, 'ref.wav'), '-o', output,
    '--hub-url', hubUrl, '--cache-dir', cache, '--device', 'cpu', '-q', ...extra];
  return { args, cache };
}

async function refused(extra: string[], re: RegExp, opts: { source?: string; output?: string } = {}): Promise<void> {
  const { args, cache } = convert(extra, opts.source, opts.output);
  const before = requests.length;
  const r = await cli(args);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.trim(), re);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(requests.length, before, `no download attempt for ${extra.join(' ')}: ${requests.slice(before).join(', ')}`);
  assert.ok(!existsSync(cache), 'the cache folder is not created');
}

test('bad options, outputs and inputs fail before any hub request, writing nothing', { timeout: 120_000 }, async () => {
  wav('src.wav', 1.5);
  wav('ref.wav', 1.5);
  const cpus = availableParallelism();
  await refused(['--diffusion-steps', '0'], /^seed-vc: error: diffusion steps must be an integer in 1\.\.1000, got 0$/);
  await refused(['--inference-cfg-rate', '11'], /inference CFG rate must be in \[0, 10\], got 11/);
  await refused(['--semi-tone-shift', '99'], /semitone shift must be within ±48, got 99/);
  await refused(['--threads', String(cpus + 1)], new RegExp(`--threads must be an integer in 1\\.\\.${cpus} \\(the CPUs this machine offers\\), got ${cpus + 1}`));
  await refused(['--threads', '0'], /--threads must be an integer in 1\.\./);
  await refused(['--max-duration', '1'], /src\.wav: the data chunk holds 1\.5 s of audio, more than the limit of 1 s/);
  await refused(['--max-duration', '0'], /--max-duration must be a positive number of seconds, got 0/);
  await refused([], /source audio is silent/, { source: wav('silent.wav', 1.5, 0) });
  await refused([], /source audio is 0\.20 s long; at least 0\.5 s is needed/, { source: wav('short.wav', 0.2) });
  // an unusable cache folder: a file where the folder should be
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  const { args } = convert([]);
  const i = args.indexOf('--cache-dir');
  args[i + 1] = join(dir, 'not-a-dir');
  const before = requests.length;
  const r = await cli(args);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--cache-dir .*not-a-dir is not a directory/);
  assert.equal(requests.length, before);
  args[i + 1] = join(dir, 'not-a-dir', 'sub');
  assert.match((await cli(args)).stderr, /--cache-dir .*sub cannot be created: .*not-a-dir is a file, not a directory/);
  assert.equal(requests.length, before);
});

test('-o with an unsupported extension is an error (no folder is made); an unwritable output fails before the load', { timeout: 60_000 }, async () => {
  wav('src.wav', 1.5);
  wav('ref.wav', 1.5);
  await refused([], /--output .*out\.mp3: '\.mp3' files are not written; give a \.wav file or a folder/, { output: join(dir, 'out.mp3') });
  assert.ok(!existsSync(join(dir, 'out.mp3')));
  writeFileSync(join(dir, 'plain-file'), 'x');
  await refused([], /output .*plain-file\/x\.wav cannot be created: .*plain-file is a file, not a directory/, { output: join(dir, 'plain-file', 'x.wav') });
  mkdirSync(join(dir, 'a-dir.wav'));
  await refused(['--force'], /output .*a-dir\.wav is a directory, not a file/, { output: join(dir, 'a-dir.wav') });
  // a folder (existing or not, with or without an extension-looking name) takes inference.py's file name
  mkdirSync(join(dir, 'v1.2'));
  const { args } = convert([], undefined, join(dir, 'v1.2'));
  const n = requests.length;
  const r = await cli(args);
  assert.equal(r.status, 1);
  assert.ok(requests.length > n, 'a valid command does reach the hub (which has nothing)');
  assert.deepEqual(readdirSync(join(dir, 'v1.2')), [], 'nothing written when the load fails');
});

test('seed-vc ab checks its options, inputs and report folder before any hub request', { timeout: 60_000 }, async () => {
  wav('src.wav', 1.5);
  wav('ref.wav', 1.5);
  const ab = async (extra: string[], re: RegExp) => {
    const cache = join(dir, `cache-${caseNo++}`);
    const before = requests.length;
    const r = await cli(['ab', '-s', join(dir, 'src.wav'), '-t', join(dir, 'ref.wav'), '-o', join(dir, 'report'),
      '--hub-url', hubUrl, '--cache-dir', cache, '--device', 'cpu', '-q', ...extra]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
    assert.equal(requests.length, before, `no download attempt for ab ${extra.join(' ')}`);
    assert.ok(!existsSync(cache) && !existsSync(join(dir, 'report')), 'nothing created');
  };
  await ab(['--diffusion-steps', '0'], /diffusion steps must be an integer in 1\.\.1000, got 0/);
  await ab(['--b', 'inference-cfg-rate=11'], /inference-cfg-rate|inference CFG rate/);
  await ab(['--length-adjust', '0'], /length adjust must be in \(0, 10\]/);
  await ab(['--max-duration', '1'], /src\.wav: the data chunk holds 1\.5 s of audio, more than the limit of 1 s/);
  await ab(['--threads', '0'], /--threads must be an integer in 1\.\./);
  writeFileSync(join(dir, 'silent-ref.wav'), encodeWav(new Float32Array(24000), 16000));
  await ab(['-t', join(dir, 'silent-ref.wav')], /reference audio is silent/);
});

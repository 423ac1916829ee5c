/**
 * Child side of the abuse suite (abuse.test.ts): builds one hostile input, feeds it to the reader (or
 * the CLI) under test, and prints one JSON line: the error it ended in, the wall time, and the process's
 * peak resident memory. Run as `node --import tsx test/abuse/run-case.ts <case> <scratch dir>`.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAudio } from '../../src/core/audio/decode.ts';
import { loadStateDict } from '../../src/core/checkpoint/state-dict.ts';
import { readSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { deflateBombCheckpoint, memoDagCheckpoint, overlappingSafetensors } from './hostile-checkpoints.ts';
import { flacDurationBomb, flipBit, opusDurationBomb, vorbisDurationBomb, wavAtRate } from './hostile-audio.ts';

const [name, scratch] = process.argv.slice(2);

/** Each case returns the operation to measure; building the input is not part of it. */
const CASES: Record<string, () => Promise<() => Promise<unknown>>> = {
  'opus-hour': async () => { const b = opusDurationBomb(3600); return () => decodeAudio(b, 'hour.opus'); },
  'opus-3-hours': async () => { const b = opusDurationBomb(3 * 3600); return () => decodeAudio(b, 'three-hours.opus'); },
  'vorbis-hour': async () => { const b = vorbisDurationBomb(3600); return () => decodeAudio(b, 'hour.ogg'); },
  'flac-hour': async () => { const b = flacDurationBomb(3600); return () => decodeAudio(b, 'hour.flac'); },
  'wav-1hz': async () => { const b = wavAtRate(1); return () => decodeAudio(b, 'one-hz.wav'); },
  'flac-flipped-bit': async () => {
    const { readFileSync } = await import('node:fs');
    const b = flipBit(new Uint8Array(readFileSync(new URL('../fixtures/audio/sine440_16k_stereo.flac', import.meta.url))), 4000);
    return () => decodeAudio(b, 'flipped.flac');
  },
  'pickle-dag-40': async () => { const b = memoDagCheckpoint(40, false); return async () => loadStateDict(b, 'dag40.pth'); },
  'pickle-dag-40-tensors': async () => { const b = memoDagCheckpoint(40, true); return async () => loadStateDict(b, 'dag40-tensors.pth'); },
  'zip-deflate-4x1GiB': async () => { const b = deflateBombCheckpoint(4, 2 ** 30); return async () => loadStateDict(b, 'bomb.pth'); },
  'safetensors-overlap-20k': async () => { const b = overlappingSafetensors(20_000, 1 << 16); return async () => readSafetensors(b, 'overlap.safetensors'); },
  // The CLI end to end: hostile inputs must stop before any model is resolved, writing nothing.
  'cli-wav-1hz': async () => cli('one-hz.wav', wavAtRate(1)),
  'cli-opus-hour': async () => cli('hour.opus', opusDurationBomb(3600)),
  'cli-symlinked-input': async () => {
    const real = join(scratch, 'real');
    mkdirSync(real);
    writeFileSync(join(real, 'src.wav'), wavAtRate(16000, 16000));
    writeFileSync(join(scratch, 'ref.wav'), wavAtRate(16000, 16000));
    symlinkSync(real, join(scratch, 'link'));
    return () => runCli(['-s', join(scratch, 'link', 'src.wav'), '-o', join(real, 'src.wav'), '--force']);
  },
};

/** Writes the hostile file into the scratch folder and returns a CLI run that converts it. */
function cli(file: string, bytes: Uint8Array): () => Promise<unknown> {
  writeFileSync(join(scratch, file), bytes);
  writeFileSync(join(scratch, 'ref.wav'), wavAtRate(16000, 16000));
  return () => runCli(['-s', join(scratch, file), '-o', join(scratch, 'out', 'converted.wav')]);
}

/** `seed-vc convert` in this process, against a hub URL nothing listens on; the error line is the result. */
async function runCli(args: string[]): Promise<unknown> {
  const { main } = await import('../../src/cli/main.ts');
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => { stderr += chunk; return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['node', 'seed-vc', 'convert', '-t', join(scratch, 'ref.wav'), ...args,
      '--hub-url', 'http://127.0.0.1:9', '--cache-dir', join(scratch, 'cache'), '--device', 'cpu', '-q']);
  } finally {
    process.stderr.write = write;
  }
  if (code === 0) return 'converted';
  throw Object.assign(new Error(stderr.trim()), { name: `exit ${code}` });
}

const build = CASES[name];
if (!build) throw new Error(`unknown case '${name}' (known: ${Object.keys(CASES).join(', ')})`);
const op = await build();
const rssBeforeKb = process.resourceUsage().maxRSS;
const t0 = performance.now();
let error: { name: string; code?: string; message: string } | null = null;
let result: unknown = null;
try {
  const r = await op();
  result = r instanceof Map ? `${r.size} tensors` : typeof r === 'string' ? r : 'value';
} catch (e) {
  const err = e as Error & { code?: string };
  error = { name: err.name, code: err.code, message: err.message };
}
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ case: name, error, result, ms, rssBeforeKb, maxRssKb: process.resourceUsage().maxRSS })}\n`);

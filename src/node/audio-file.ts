/** Audio files on disk: decode any supported format to mono, and write WAV without clobbering anything. */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type DecodeLimits, type MonoAudio, decodeAudioMono, encodeWav } from '../core/audio/index.ts';
import { InvalidInputError } from '../core/errors.ts';
import { checkWritableFile, sameFile } from './fs-checks.ts';
import { atomicWrite } from './graph-cache.ts';

/** Largest input file read into memory (a 1 GB WAV is ~3 h of 44.1 kHz stereo). */
const MAX_INPUT_BYTES = 1 << 30;

/**
 * Decodes an audio file to mono. `limits.maxSeconds` bounds the decoded duration (default 30 min);
 * codec complaints about damaged frames come back as `warnings`.
 */
export async function readAudioFile(path: string, limits?: DecodeLimits): Promise<MonoAudio> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new InvalidInputError(`file not found: ${path}`);
  }
  if (!st.isFile()) throw new InvalidInputError(`not a file: ${path}`);
  if (st.size > MAX_INPUT_BYTES) throw new InvalidInputError(`${path} is ${(st.size / 1e9).toFixed(1)} GB; inputs up to ${MAX_INPUT_BYTES / 2 ** 30} GiB are accepted`);
  const bytes = new Uint8Array(await readFile(path));
  return decodeAudioMono(bytes, path, limits);
}

export interface WriteOptions {
  format?: 'float32' | 'pcm16';
  /** Overwrite an existing file (never one of `protect`). */
  force?: boolean;
  /** Paths that must never be written (the inputs). */
  protect?: readonly string[];
  /** Only check that the write would be allowed (and possible: a writable file or folder). */
  dryRun?: boolean;
}

/**
 * Writes a WAV atomically; refuses to overwrite without `force`, and never overwrites a protected path,
 * however it is reached (symlinked folders and hard links count: files are compared by device and inode).
 */
export async function writeWavFile(path: string, samples: Float32Array, sampleRate: number, opts: WriteOptions = {}): Promise<void> {
  const target = resolve(path);
  if ((opts.protect ?? []).some((p) => sameFile(p, target))) {
    throw new InvalidInputError(`refusing to write the output over an input file: ${path}`);
  }
  if (existsSync(target) && !opts.force) throw new InvalidInputError(`output exists: ${path} (use --force to overwrite)`);
  checkWritableFile(target, 'output');
  if (opts.dryRun) return;
  await atomicWrite(target, encodeWav(samples, sampleRate, { format: opts.format ?? 'float32' }));
}

/**
 * The data directory: uploads, results and saved voices. Every path is made here from ids the server
 * generates — never from a name or path a client sent.
 *
 *   DATA/uploads/<job>/source.<ext>, reference.<ext>   inputs of a job (removed when it ends)
 *   DATA/results/<job>/output.wav                        a conversion's result (removed after the TTL)
 *   DATA/results/<job>/report.html, report.json, ...     an A/B report
 *   DATA/voices/<voice>/audio.<ext> + voice.json         saved reference voices
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeAudioMono, sniffAudio } from '../core/audio/index.ts';
import type { AudioContainer } from '../core/audio/types.ts';
import { AudioFormatError, AudioLimitError, InvalidInputError } from '../core/errors.ts';
import { MIN_SECONDS } from '../core/pipeline/convert.ts';
import { atomicWrite } from '../node/graph-cache.ts';
import { ApiError } from './errors.ts';
import type { Voice } from './schemas.ts';

export interface Limits {
  maxUploadBytes: number;
  maxSourceSeconds: number;
  maxReferenceSeconds: number;
}

const EXT: Record<AudioContainer, string> = { wav: 'wav', flac: 'flac', 'ogg-vorbis': 'ogg', 'ogg-opus': 'opus', 'ogg-flac': 'oga', mp3: 'mp3' };

/** A random id: 16 lowercase hex digits (ids are path components, so nothing else is ever allowed). */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export const ID_PATTERN = /^[0-9a-f]{16}$/;

export interface CheckedAudio {
  bytes: Uint8Array;
  container: AudioContainer;
  sampleRate: number;
  seconds: number;
}

/**
 * Checks an uploaded clip before any job is queued: container sniffed from the bytes (415 when not
 * audio we read), decodable, decoded length within `maxSeconds`, long enough, not silent, finite
 * samples (422 otherwise).
 */
export async function checkAudio(bytes: Uint8Array, label: string, maxSeconds: number): Promise<CheckedAudio> {
  const { container } = sniffAudio(bytes, label);
  let audio;
  try {
    // The decoders check the decoded duration from headers and frame counts before decoding, so a
    // small compressed file that would expand to hours is refused without the work.
    audio = await decodeAudioMono(bytes, label, { maxSeconds });
  } catch (e) {
    if (e instanceof AudioLimitError) {
      throw new ApiError(422, 'unprocessable_audio', e.limit === 'duration' ? `${e.message} (this server accepts up to ${maxSeconds} s)` : e.message);
    }
    // A float WAV with NaN/inf samples is readable audio with unusable content: 422, not 415.
    if (e instanceof AudioFormatError && /must be finite/.test(e.message)) throw new InvalidInputError(`${label} contains NaN or infinite samples`);
    throw e;
  }
  const seconds = audio.samples.length / audio.sampleRate;
  if (seconds > maxSeconds) {
    throw new ApiError(422, 'unprocessable_audio', `${label} is ${seconds.toFixed(1)} s long; this server accepts up to ${maxSeconds} s`);
  }
  if (seconds < MIN_SECONDS) throw new InvalidInputError(`${label} is ${seconds.toFixed(2)} s long; at least ${MIN_SECONDS} s is needed`);
  let peak = 0;
  for (const v of audio.samples) {
    if (!Number.isFinite(v)) throw new InvalidInputError(`${label} contains NaN or infinite samples`);
    const a = Math.abs(v);
    if (a > peak) peak = a;
  }
  if (peak < 1e-4) throw new InvalidInputError(`${label} is silent (peak ${peak.toExponential(1)}); it needs audible speech`);
  return { bytes, container, sampleRate: audio.sampleRate, seconds };
}

export class DataStore {
  constructor(readonly root: string) {}

  async init(): Promise<void> {
    for (const d of ['uploads', 'results', 'voices']) await mkdir(join(this.root, d), { recursive: true });
  }

  /** Stores a job's input; returns its path relative to the data directory. */
  async saveUpload(job: string, role: 'source' | 'reference', audio: CheckedAudio): Promise<string> {
    const rel = join('uploads', job, `${role}.${EXT[audio.container]}`);
    await mkdir(join(this.root, 'uploads', job), { recursive: true });
    await writeFile(join(this.root, rel), audio.bytes);
    return rel;
  }

  resultRel(job: string, file = 'output.wav'): string {
    return join('results', job, file);
  }

  abs(rel: string): string {
    return join(this.root, rel);
  }

  async removeUploads(job: string): Promise<void> {
    await rm(join(this.root, 'uploads', job), { recursive: true, force: true });
  }

  async removeResults(job: string): Promise<void> {
    await rm(join(this.root, 'results', job), { recursive: true, force: true });
  }

  // ---- voices ----

  async saveVoice(name: string, audio: CheckedAudio): Promise<Voice> {
    const id = newId();
    const dir = join(this.root, 'voices', id);
    await mkdir(dir, { recursive: true });
    const file = `audio.${EXT[audio.container]}`;
    await writeFile(join(dir, file), audio.bytes);
    const voice: Voice = {
      id, name, created_at: new Date().toISOString(), sample_rate: audio.sampleRate,
      seconds: audio.seconds, bytes: audio.bytes.length, container: audio.container,
    };
    await atomicWrite(join(dir, 'voice.json'), JSON.stringify({ ...voice, file }));
    return voice;
  }

  async voice(id: string): Promise<(Voice & { file: string }) | null> {
    if (!ID_PATTERN.test(id)) return null;
    try {
      return JSON.parse(await readFile(join(this.root, 'voices', id, 'voice.json'), 'utf8'));
    } catch {
      return null;
    }
  }

  /** Path of a voice's audio relative to the data directory. */
  voiceAudioRel(v: { id: string; file: string }): string {
    return join('voices', v.id, v.file);
  }

  async voices(): Promise<Voice[]> {
    const ids = await readdir(join(this.root, 'voices')).catch(() => [] as string[]);
    const out: Voice[] = [];
    for (const id of ids) {
      const v = await this.voice(id);
      if (v) { const { file: _f, ...rest } = v; out.push(rest); }
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async deleteVoice(id: string): Promise<boolean> {
    if (!(await this.voice(id))) return false;
    await rm(join(this.root, 'voices', id), { recursive: true, force: true });
    return true;
  }
}

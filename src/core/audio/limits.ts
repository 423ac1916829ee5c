/**
 * Bounds on what a decode may produce. A few hundred bytes of Opus or Vorbis can describe hours of
 * audio and a WAV header can declare 1 Hz (resampled later into days of samples), so every reader
 * checks the sample rate and the decoded duration from headers and frame counts before it decodes,
 * and stops as soon as the limit is crossed when it cannot know in advance.
 */
import { AudioLimitError, InvalidInputError } from '../errors.ts';

/** Default limit on the decoded duration of one file: 30 minutes. */
export const DEFAULT_MAX_DECODED_SECONDS = 30 * 60;
/** Lowest accepted sample rate (telephone audio is 8 kHz; below this nothing is speech). */
export const MIN_SAMPLE_RATE = 4000;
/** Highest accepted sample rate (the highest rate studio formats use). */
export const MAX_SAMPLE_RATE = 384000;

export interface DecodeLimits {
  /** Longest decoded duration accepted, in seconds (default 30 min). */
  maxSeconds?: number;
}

/** The effective duration limit, validated. */
export function maxSecondsOf(limits: DecodeLimits | undefined): number {
  const s = limits?.maxSeconds ?? DEFAULT_MAX_DECODED_SECONDS;
  if (!(s > 0) || !Number.isFinite(s)) throw new InvalidInputError(`the decoded-duration limit must be a positive number of seconds, got ${s}`);
  return s;
}

/** Refuses a sample rate outside [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]. */
export function checkSampleRate(file: string, rate: number, source: string): void {
  if (rate >= MIN_SAMPLE_RATE && rate <= MAX_SAMPLE_RATE) return;
  throw new AudioLimitError(file, `${source} a sample rate of ${rate} Hz; accepted: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`, 'sample-rate');
}

/** Refuses `frames` samples per channel at `rate` when they last longer than `maxSeconds`. */
export function checkDuration(file: string, frames: number, rate: number, maxSeconds: number, source: string): void {
  const seconds = frames / rate;
  if (seconds <= maxSeconds) return;
  throw new AudioLimitError(file, `${source} ${formatSeconds(seconds)} of audio, more than the limit of ${formatSeconds(maxSeconds)} (maxSeconds / --max-duration)`, 'duration');
}

function formatSeconds(s: number): string {
  if (s < 120) return `${+s.toFixed(2)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return `${h ? `${h} h ` : ''}${m} min${sec ? ` ${sec} s` : ''} (${Math.round(s)} s)`;
}

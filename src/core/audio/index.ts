/**
 * Audio I/O of the runtime-free core: decode WAV / FLAC / Ogg Vorbis / Ogg Opus / MP3 bytes to float32
 * channels, downmix to mono, and write WAV.
 */
export { decodeAudio, decodeAudioMono } from './decode.ts';
export { sniffAudio, type SniffResult } from './sniff.ts';
export { DEFAULT_MAX_DECODED_SECONDS, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, type DecodeLimits } from './limits.ts';
export { readWav, isWav, toMono, encodeWav, type EncodeWavOptions, type WavEncoding } from './wav.ts';
export { ACCEPTED_CONTAINERS, type AudioContainer, type DecodedAudio, type MonoAudio } from './types.ts';

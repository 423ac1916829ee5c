/**
 * One entry point for every audio file the library accepts: the container is sniffed from the magic
 * bytes and the matching reader runs. Resampling is not done here (see the DSP module).
 */
import { decodeFlac, decodeMp3, decodeOggOpus, decodeOggVorbis } from './codecs.ts';
import type { DecodeLimits } from './limits.ts';
import { sniffAudio } from './sniff.ts';
import type { DecodedAudio, MonoAudio } from './types.ts';
import { readWav, toMono } from './wav.ts';

/**
 * Decodes WAV, FLAC, Ogg Vorbis/Opus/FLAC or MP3 bytes; `fileName` only labels errors. Sample rates
 * outside 4-384 kHz and audio longer than `limits.maxSeconds` (default 30 min) are refused with an
 * AudioLimitError, before decoding whenever the headers tell.
 */
export async function decodeAudio(bytes: Uint8Array, fileName: string, limits?: DecodeLimits): Promise<DecodedAudio> {
  const { container, offset } = sniffAudio(bytes, fileName);
  switch (container) {
    case 'wav': return readWav(bytes, fileName, limits);
    case 'flac': return decodeFlac(bytes.subarray(offset), fileName, limits);
    case 'ogg-flac': return decodeFlac(bytes, fileName, limits);
    case 'ogg-vorbis': return decodeOggVorbis(bytes, fileName, limits);
    case 'ogg-opus': return decodeOggOpus(bytes, fileName, limits);
    case 'mp3': return decodeMp3(bytes, fileName, offset, limits);
  }
}

/**
 * Decodes like `decodeAudio`, then averages the channels into one (as librosa.load(mono=True) does).
 * Problems a codec reported while still producing audio come along as `warnings`.
 */
export async function decodeAudioMono(bytes: Uint8Array, fileName: string, limits?: DecodeLimits): Promise<MonoAudio> {
  const audio = await decodeAudio(bytes, fileName, limits);
  const mono: MonoAudio = { sampleRate: audio.sampleRate, samples: toMono(audio) };
  return audio.warnings?.length ? { ...mono, warnings: audio.warnings } : mono;
}

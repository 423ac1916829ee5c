/**
 * One entry point for every audio file the library accepts: the container is sniffed from the magic
 * bytes and the matching reader runs. Resampling is not done here (see the DSP module).
 */
import { decodeFlac, decodeMp3, decodeOggOpus, decodeOggVorbis } from './codecs.ts';
import { sniffAudio } from './sniff.ts';
import type { DecodedAudio, MonoAudio } from './types.ts';
import { readWav, toMono } from './wav.ts';

/** Decodes WAV, FLAC, Ogg Vorbis/Opus/FLAC or MP3 bytes; `fileName` only labels errors. */
export async function decodeAudio(bytes: Uint8Array, fileName: string): Promise<DecodedAudio> {
  const { container, offset } = sniffAudio(bytes, fileName);
  switch (container) {
    case 'wav': return readWav(bytes, fileName);
    case 'flac': return decodeFlac(bytes.subarray(offset), fileName);
    case 'ogg-flac': return decodeFlac(bytes, fileName);
    case 'ogg-vorbis': return decodeOggVorbis(bytes, fileName);
    case 'ogg-opus': return decodeOggOpus(bytes, fileName);
    case 'mp3': return decodeMp3(bytes, fileName, offset);
  }
}

/** Decodes like `decodeAudio`, then averages the channels into one (as librosa.load(mono=True) does). */
export async function decodeAudioMono(bytes: Uint8Array, fileName: string): Promise<MonoAudio> {
  const audio = await decodeAudio(bytes, fileName);
  return { sampleRate: audio.sampleRate, samples: toMono(audio) };
}

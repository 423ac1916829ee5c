/**
 * Speaker embeddings for similarity scores, with the converter's own speaker stage: a waveform at any
 * rate -> 16 kHz -> Kaldi fbank (80 bins) -> per-bin mean normalisation -> CAMPPlus `feat` [1, frames, 80]
 * -> `embedding` [1, 192]. This is exactly how the pipeline embeds the reference voice.
 */
import { kaldiFbank, meanNormalize, resample } from '../dsp/index.ts';
import { InvalidInputError } from '../errors.ts';
import type { NetSession } from '../runtime.ts';
import { tensor, toFloat32 } from '../tensor.ts';

/** The rate CAMPPlus (and its fbank front end) expects. */
export const SPEAKER_SR = 16000;

export async function speakerEmbedding(speaker: NetSession, audio: { samples: Float32Array; sampleRate: number }): Promise<Float32Array> {
  const x = audio.sampleRate === SPEAKER_SR ? audio.samples : resample(audio.samples, audio.sampleRate, SPEAKER_SR);
  const fb = kaldiFbank(x);
  if (fb.frames < 1) throw new InvalidInputError(`speaker embedding: ${(x.length / SPEAKER_SR).toFixed(3)} s of audio is shorter than one 25 ms fbank frame`);
  const feat = meanNormalize(fb.data, fb.frames, fb.bins);
  const out = await speaker.run({ feat: tensor('float32', [1, fb.frames, fb.bins], feat) });
  const emb = out.embedding ?? out[speaker.outputNames[0]];
  if (!emb) throw new InvalidInputError(`speaker session ${speaker.label} returned no 'embedding' output`);
  return Float32Array.from(toFloat32(emb).data);
}

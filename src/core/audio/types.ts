/**
 * Shapes shared by the audio readers: decoded audio keeps one Float32Array per channel (planar),
 * with samples scaled to [-1, 1) the way scipy/librosa scale them.
 */

/** Decoded audio of any container: planar float32 channels of equal length. */
export interface DecodedAudio {
  /** Samples per second per channel. */
  readonly sampleRate: number;
  /** Number of channels (= channelData.length). */
  readonly channels: number;
  /** Samples per channel. */
  readonly frames: number;
  /** One array of `frames` samples per channel. */
  readonly channelData: Float32Array[];
  /** Problems a codec reported while still producing audio (damaged frames); absent when none. */
  readonly warnings?: readonly string[];
}

/** Mono audio: what the pipeline consumes after downmixing. */
export interface MonoAudio {
  /** Samples per second. */
  readonly sampleRate: number;
  /** The mono signal. */
  readonly samples: Float32Array;
  /** Problems the codec reported while still producing audio; absent when none. */
  readonly warnings?: readonly string[];
}

/** The containers `decodeAudio` recognizes by their magic bytes. */
export type AudioContainer = 'wav' | 'flac' | 'ogg-vorbis' | 'ogg-opus' | 'ogg-flac' | 'mp3';

/** What `decodeAudio` accepts, for error messages. */
export const ACCEPTED_CONTAINERS = 'WAV (RIFF/RF64: PCM 8/16/24/32-bit, float 32/64-bit), FLAC, Ogg Vorbis, Ogg Opus, Ogg FLAC, MP3';

/**
 * Typed errors. Every error the library throws on bad input is one of these, with a message that names
 * the thing at fault (file, key, option) and what would have been accepted.
 */

export class SeedVcError extends Error {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A file that is not audio we can read: bad magic, truncated, lying sizes, unsupported codec. */
export class AudioFormatError extends SeedVcError {
  constructor(readonly file: string, readonly problem: string, options?: { cause?: unknown }, code = 'AUDIO_FORMAT') {
    super(`${file}: ${problem}`, code, options);
  }
}

/**
 * Audio outside the accepted bounds: longer than the decoded-duration limit, or a sample rate outside
 * the accepted range. An AudioFormatError too, so callers that catch those keep working.
 */
export class AudioLimitError extends AudioFormatError {
  constructor(file: string, problem: string, readonly limit: 'duration' | 'sample-rate') {
    super(file, problem, undefined, 'AUDIO_LIMIT');
  }
}

/** A checkpoint (safetensors, torch zip, pickle) that is malformed or holds something we refuse to load. */
export class CheckpointError extends SeedVcError {
  constructor(readonly file: string, readonly problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, 'CHECKPOINT', options);
  }
}

/** Weights that do not fit the network described by the config: a missing key or a wrong shape. */
export class ModelMismatchError extends SeedVcError {
  constructor(message: string) {
    super(message, 'MODEL_MISMATCH');
  }
}

/** An option or an input value outside what is accepted. */
export class InvalidInputError extends SeedVcError {
  constructor(message: string) {
    super(message, 'INVALID_INPUT');
  }
}

/** Work stopped because its caller cancelled it (an AbortSignal, a Cancel button); the message says where. */
export class CancelledError extends SeedVcError {
  constructor(message = 'cancelled') {
    super(message, 'CANCELLED');
  }
}

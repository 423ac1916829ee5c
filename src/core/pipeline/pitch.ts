/** The singing model's pitch extractor: RMVPE (mel -> padded -> network -> salience decode). */
import { rmvpeF0 } from '../nets/rmvpe.ts';
import type { NetSession } from '../runtime.ts';
import type { PitchExtractor } from './convert.ts';

export class RmvpePitchExtractor implements PitchExtractor {
  constructor(private readonly session: NetSession, private readonly threshold = 0.03) {}

  f0(wave16k: Float32Array): Promise<Float64Array> {
    return rmvpeF0(async (mel) => (await this.session.run({ mel })).hidden, wave16k, this.threshold);
  }
}

/**
 * The singing model's pitch extractor: RMVPE (mel -> padded -> U-Net in windows -> BiGRU head -> salience
 * decode). The two sessions are the two parts of the E2E graph (buildRmvpe `part` 'unet' and 'fc'), so a
 * long input costs the U-Net activations of one window, not of the whole input.
 */
import { RMVPE_WINDOWING, type RmvpeWindowing, rmvpeF0, rmvpeHiddenWindowed } from '../nets/rmvpe.ts';
import type { NetSession } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import type { PitchExtractor } from './convert.ts';

export class RmvpePitchExtractor implements PitchExtractor {
  constructor(
    private readonly unet: NetSession,
    private readonly fc: NetSession,
    private readonly threshold = 0.03,
    private readonly windowing: RmvpeWindowing = RMVPE_WINDOWING,
  ) {}

  f0(wave16k: Float32Array): Promise<Float64Array> {
    return rmvpeF0((padded) => rmvpeHiddenWindowed(
      async (mel) => (await this.unet.run({ mel })).features,
      async (features: Tensor<'float32'>) => (await this.fc.run({ features })).hidden,
      padded, this.windowing), wave16k, this.threshold);
  }
}

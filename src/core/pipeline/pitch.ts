/**
 * The singing model's pitch extractor: RMVPE (mel -> padded -> U-Net in windows -> BiGRU head -> salience
 * decode). The two sessions are the two parts of the E2E graph (buildRmvpe `part` 'unet' and 'fc'), so a
 * long input costs the U-Net activations of one window, not of the whole input.
 */
import { InvalidInputError } from '../errors.ts';
import { RMVPE_CONTEXT_FRAMES, RMVPE_FRAME_MULTIPLE, rmvpeF0 } from '../nets/rmvpe.ts';
import type { NetSession } from '../runtime.ts';
import { type Tensor, sliceFrames, tensor } from '../tensor.ts';
import type { PitchExtractor } from './convert.ts';
import { contextWindows } from './windows.ts';

/** How rmvpeHiddenWindowed cuts a long input: frames kept per window, and frames of context on each side. */
export interface RmvpeWindowing {
  coreFrames: number;
  contextFrames: number;
}

/** 4096 frames (41 s) kept per window: inputs up to 4096 + 2 x 1600 frames (73 s) run in one piece. */
export const RMVPE_WINDOWING: RmvpeWindowing = { coreFrames: 4096, contextFrames: RMVPE_CONTEXT_FRAMES };

/**
 * The E2E salience of a padded mel [1, C, T] from the two graph parts: the U-Net over windows of
 * `coreFrames` with `contextFrames` of real input on each side (fewer at the ends, where the whole run has
 * its own padding too), the kept rows joined, then the BiGRU head over the whole sequence. With a context of
 * at least rmvpeContextFrames(cfg) this equals one whole run; window edges stay on the 32-frame pooling grid.
 */
export async function rmvpeHiddenWindowed(
  unet: (mel: Tensor<'float32'>) => Promise<Tensor>, fc: (features: Tensor<'float32'>) => Promise<Tensor>,
  padded: Tensor<'float32'>, windowing: RmvpeWindowing = RMVPE_WINDOWING,
): Promise<Tensor> {
  const [b, , t] = padded.shape;
  const { coreFrames: core, contextFrames: ctx } = windowing;
  const grid = RMVPE_FRAME_MULTIPLE;
  if (b !== 1 || t % grid !== 0) throw new InvalidInputError(`rmvpeHiddenWindowed: expected a padded mel [1, C, T] with T a multiple of ${grid}, got [${padded.shape.join(', ')}]`);
  if (core <= 0 || core % grid !== 0 || ctx < 0 || ctx % grid !== 0) {
    throw new InvalidInputError(`rmvpeHiddenWindowed: core and context frames must be multiples of ${grid} (core > 0), got ${core} and ${ctx}`);
  }
  const check = (f: Tensor, frames: number): Float32Array => {
    if (f.dtype !== 'float32' || f.shape.length !== 3 || f.shape[0] !== 1 || f.shape[1] !== frames) {
      throw new InvalidInputError(`rmvpeHiddenWindowed: the U-Net returned ${f.dtype} [${f.shape.join(', ')}], expected float32 [1, ${frames}, features]`);
    }
    return f.data as Float32Array;
  };
  if (t <= core + 2 * ctx) {
    const whole = await unet(padded);
    check(whole, t);
    return fc(whole as Tensor<'float32'>);
  }
  let features: Float32Array | undefined;
  let width = 0;
  for (const w of contextWindows(t, core, ctx)) {
    const out = check(await unet(sliceFrames(padded, w.from, w.to)), w.to - w.from);
    width ||= out.length / (w.to - w.from);
    features ??= new Float32Array(t * width);
    features.set(out.subarray((w.start - w.from) * width, (w.end - w.from) * width), w.start * width);
  }
  return fc(tensor('float32', [1, t, width], features!));
}

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
      async (features) => (await this.fc.run({ features })).hidden,
      padded, this.windowing), wave16k, this.threshold);
  }
}

/** Multiply-accumulate counts of the DiT estimator forward (matmuls, convs, attention), for GFLOP/s. */
import type { DitShapes } from '../src/core/nets/dit.ts';

/** FLOPs (2 x MACs) of one estimator call on a batch of B sequences of T frames. */
export function ditFlops(cfg: DitShapes, B: number, T: number): number {
  const d = cfg.dit;
  const H = d.hiddenDim, C = d.inChannels, F = d.intermediateSize;
  const L = T + Number(d.timeAsToken) + Number(d.styleAsToken);
  let perFrame = 0; // MACs per frame of the sequence
  perFrame += d.contentDim * H; // cond_projection
  perFrame += (2 * C + H) * H; // cond_x_merge_linear (the style part is per item, negligible)
  let attention = 0;
  for (let i = 0; i < d.depth; i++) {
    perFrame += 3 * H * H + H * H + 3 * H * F; // wqkv, wo, w1/w3/w2
    if (d.uvitSkipConnection && i > Math.floor(d.depth / 2)) perFrame += 2 * H * H; // skip_in_linear
    attention += 2 * L * L * H; // q k^T and probs v
  }
  let head = 0;
  if (d.longSkipConnection) head += (H + C) * H;
  if (d.finalLayerType === 'wavenet') {
    const wn = cfg.wavenet!;
    const WH = wn.hiddenDim;
    head += H * WH + H * WH; // conv1, res_projection
    for (let i = 0; i < wn.numLayers; i++) head += WH * 2 * WH * wn.kernelSize + WH * (i < wn.numLayers - 1 ? 2 * WH : WH);
    head += WH * WH + WH * C; // final_layer.linear, conv2
  } else {
    head += H * H + H * C;
  }
  const macs = B * (L * perFrame + attention + T * head);
  return 2 * macs;
}

/**
 * Seed-VC's InterpolateRegulator (modules/length_regulator.py) for continuous content: content_in_proj ->
 * nearest interpolation to the target mel length (+ the coarse-F0 embedding for the singing model) ->
 * model = n x [Conv1d k3 -> GroupNorm(1) -> Mish] -> Conv1d k1 -> mask.
 *
 * Graph inputs: x [B, T_in, in_channels], ylens [B] int64 (and f0_coarse [B, T_f0] int64 when
 * f0-conditioned: bins from dsp f0ToCoarse, computed in float64 outside the graph as the reference does);
 * output `cond` [B, max(ylens), channels] channels-last.
 */
import type { LengthRegulatorConfig } from '../models/config.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision } from '../onnx/nn.ts';
import type { Weights } from './weights.ts';

export function buildLengthRegulator(cfg: LengthRegulatorConfig, w: Weights, opts: { precision?: Precision } = {}): GraphBuilder {
  const g = new GraphBuilder('length_regulator');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const x = g.input('x', 'float32', ['batch', 'content_frames', cfg.inChannels]);
  const ylens = g.input('ylens', 'int64', ['batch']);
  const f0 = cfg.f0Condition ? g.input('f0_coarse', 'int64', ['batch', 'f0_frames']) : null;

  const proj = g.scope('content_in_proj', () => nn.linear(x, w.get('content_in_proj.weight'), w.get('content_in_proj.bias')));
  const tOut = nn.reduceMax(ylens, [0], true); // [1]
  let h = nn.transpose(proj, [0, 2, 1]); // [B, C, T_in]
  if (cfg.samplingRatios.length > 0) h = nearestInterpolate(nn, h, tOut);
  if (f0) {
    const table = nn.weight('f0_embedding.weight', w.get('f0_embedding.weight'));
    const clamped = nn.clip(f0, 0, cfg.nF0Bins - 1);
    const emb = nn.transpose(nn.gather(table, clamped, 0), [0, 2, 1]); // [B, C, T_f0]
    h = nn.add(h, nearestInterpolate(nn, emb, tOut));
  }
  g.scope('model', () => {
    let i = 0;
    for (let r = 0; r < cfg.samplingRatios.length; r++, i += 3) {
      h = g.scope(i, () => nn.conv(h, w.get(`model.${i}.weight`), w.get(`model.${i}.bias`), { padding: 1 }));
      h = g.scope(i + 1, () => nn.groupNorm(h, cfg.groups, 1e-5, w.get(`model.${i + 1}.weight`), w.get(`model.${i + 1}.bias`)));
      h = nn.mish(h);
    }
    h = g.scope(i, () => nn.conv(h, w.get(`model.${i}.weight`), w.get(`model.${i}.bias`)));
  });
  // out * sequence_mask(ylens), channels-last
  const positions = nn.range(g.constant([0], 'int64', []), nn.squeeze(tOut, [0]), g.constant([1], 'int64', []));
  const mask = nn.cast(nn.less(nn.unsqueeze(positions, [0]), nn.unsqueeze(ylens, [1])), 'float32'); // [B, T]
  const out = nn.mul(nn.transpose(h, [0, 2, 1]), nn.unsqueeze(mask, [2]));
  g.output(out, 'cond', ['batch', 'frames', cfg.channels]);
  return g;
}

/**
 * F.interpolate(mode='nearest') along the last axis to `size` ([1] int64): source index
 * min(floor(j * float32(T_in / T_out)), T_in - 1), all in float32 as PyTorch computes it.
 */
export function nearestInterpolate(nn: Nn, x: Value, size: Value): Value {
  const g = nn.g;
  const tIn = nn.dim(x, 2);
  const scale = nn.div(nn.cast(tIn, 'float32'), nn.cast(size, 'float32'));
  const j = nn.cast(nn.range(g.constant([0], 'int64', []), nn.squeeze(size, [0]), g.constant([1], 'int64', [])), 'float32');
  const src = nn.cast(nn.floor(nn.mul(j, scale)), 'int64');
  const idx = g.op('Min', [src, nn.sub(tIn, g.constant([1], 'int64', [1]))]);
  return nn.gather(x, idx, 2);
}

/** Parameter shapes the regulator reads. */
export function lengthRegulatorParamShapes(cfg: LengthRegulatorConfig): Map<string, number[]> {
  const C = cfg.channels;
  const m = new Map<string, number[]>([['content_in_proj.weight', [C, cfg.inChannels]], ['content_in_proj.bias', [C]]]);
  let i = 0;
  for (let r = 0; r < cfg.samplingRatios.length; r++, i += 3) {
    m.set(`model.${i}.weight`, [C, C, 3]); m.set(`model.${i}.bias`, [C]);
    m.set(`model.${i + 1}.weight`, [C]); m.set(`model.${i + 1}.bias`, [C]);
  }
  m.set(`model.${i}.weight`, [C, C, 1]); m.set(`model.${i}.bias`, [C]);
  if (cfg.f0Condition) m.set('f0_embedding.weight', [cfg.nF0Bins, C]);
  return m;
}

/**
 * Seed-VC v2's discrete InterpolateRegulator (modules/v2/length_regulator.py) as one ONNX graph:
 *
 *   embedding(tokens) -> nearest interpolation to max(ylens) over the whole batch
 *   -> model = n x [Conv1d k3 -> GroupNorm(groups) -> Mish] (+ Identity: out_channels = channels) -> * mask(ylens)
 *
 * With no sampling ratios (the AR's regulator) it is the embedding alone: no interpolation, no mask, no
 * `ylens` input. Graph inputs: `tokens` [B, T_in] int64 (ids < codebook_size), `ylens` [B] int64; output
 * `cond` [B, max(ylens), channels] channels-last (frames >= ylens[b] zero), or `embedding` [B, T_in,
 * channels] for the AR's regulator.
 */
import type { V2LengthRegulatorConfig } from '../../models/v2-config.ts';
import { GraphBuilder } from '../../onnx/graph.ts';
import { Nn, type Precision } from '../../onnx/nn.ts';
import { type Tensor, tensor } from '../../tensor.ts';
import { InvalidInputError } from '../../errors.ts';
import { nearestInterpolate } from '../length-regulator.ts';
import type { Weights } from '../weights.ts';

export interface V2LengthRegulatorBuildOptions {
  precision?: Precision;
  /** Also output `embedding` [B, T_in, C] and `model.{i}` [B, C, T] after each Mish (for parity bisecting). */
  debugOutputs?: boolean;
}

/** Parameter shapes the regulator reads (mask_token and f0 parts of the state dict are unused). */
export function v2LengthRegulatorParamShapes(cfg: V2LengthRegulatorConfig): Map<string, number[]> {
  const C = cfg.channels;
  const m = new Map<string, number[]>([['embedding.weight', [cfg.codebookSize, C]]]);
  cfg.samplingRatios.forEach((_, r) => {
    const i = 3 * r;
    m.set(`model.${i}.weight`, [C, C, 3]); m.set(`model.${i}.bias`, [C]);
    m.set(`model.${i + 1}.weight`, [C]); m.set(`model.${i + 1}.bias`, [C]);
  });
  return m;
}

export function buildV2LengthRegulator(cfg: V2LengthRegulatorConfig, w: Weights, opts: V2LengthRegulatorBuildOptions = {}): GraphBuilder {
  const interpolate = cfg.samplingRatios.length > 0;
  const g = new GraphBuilder(interpolate ? 'v2_length_regulator' : 'v2_ar_length_regulator');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const shapes = v2LengthRegulatorParamShapes(cfg);
  const get = (key: string) => w.get(key, shapes.get(key));
  const tokens = g.input('tokens', 'int64', ['batch', 'tokens']);
  const table = g.scope('embedding', () => nn.weight('weight', get('embedding.weight')));
  const emb = nn.gather(table, tokens, 0); // [B, T_in, C]
  if (!interpolate) {
    g.output(emb, 'embedding', ['batch', 'tokens', cfg.channels]);
    return g;
  }
  if (opts.debugOutputs) g.output(emb, 'embedding');
  const ylens = g.input('ylens', 'int64', ['batch']);
  const tOut = nn.reduceMax(ylens, [0], true); // [1]
  let h = nearestInterpolate(nn, nn.transpose(emb, [0, 2, 1]), tOut); // [B, C, T]
  g.scope('model', () => {
    cfg.samplingRatios.forEach((_, r) => {
      const i = 3 * r;
      h = g.scope(i, () => nn.conv(h, get(`model.${i}.weight`), get(`model.${i}.bias`), { padding: 1 }));
      h = g.scope(i + 1, () => nn.groupNorm(h, cfg.groups, 1e-5, get(`model.${i + 1}.weight`), get(`model.${i + 1}.bias`)));
      h = nn.mish(h);
      if (opts.debugOutputs) g.output(h, `model.${i + 2}`);
    });
  });
  const positions = nn.range(g.constant([0], 'int64', []), nn.squeeze(tOut, [0]), g.constant([1], 'int64', []));
  const mask = nn.cast(nn.less(nn.unsqueeze(positions, [0]), nn.unsqueeze(ylens, [1])), 'float32'); // [B, T]
  g.output(nn.mul(nn.transpose(h, [0, 2, 1]), nn.unsqueeze(mask, [2])), 'cond', ['batch', 'frames', cfg.channels]);
  return g;
}

/**
 * The AR regulator in TypeScript (it is a table lookup): rows of `embedding.weight` for `tokens`,
 * [1, N, channels]. Ids outside the table are an error.
 */
export function v2EmbedTokens(w: Weights, cfg: V2LengthRegulatorConfig, tokens: ArrayLike<number | bigint>): Tensor<'float32'> {
  const table = w.get('embedding.weight', [cfg.codebookSize, cfg.channels]).data;
  const C = cfg.channels;
  const out = new Float32Array(tokens.length * C);
  for (let i = 0; i < tokens.length; i++) {
    const id = Number(tokens[i]);
    if (!Number.isInteger(id) || id < 0 || id >= cfg.codebookSize) throw new InvalidInputError(`v2EmbedTokens: token ${i} = ${id} is outside [0, ${cfg.codebookSize})`);
    out.set(table.subarray(id * C, (id + 1) * C), i * C);
  }
  return tensor('float32', [1, tokens.length, C], out);
}

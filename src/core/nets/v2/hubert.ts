/**
 * The HuBERT content encoder of Seed-VC v2 (facebook/hubert-large-ll60k as the ASTRAL extractors run it):
 * Hugging Face `HubertModel` with the stable-layer-norm architecture, `encoder.layers` cut to the first
 * `ssl_output_layer` (18) and `encoder.layer_norm` replaced by an identity, so the output is the raw
 * residual stream after the last kept layer. The module tree and the checkpoint keys are those of the
 * wav2vec2 XLS-R encoder (same HF layout, unprefixed keys), so the graph is nets/wav2vec2.ts's builder with
 * `finalLayerNorm: false`; this module adds HuBERT's config parsing, its loader and the frame trim.
 *
 * Graph input `input_values` [B, samples] (normalised by normalizeHubertInput); outputs `hidden`
 * [B, min(frames, samples // 320), H] channels-last (AstralQuantizer's `last_hidden_state[:, :samples // 320]`)
 * and, with debugOutputs, the untrimmed `last_hidden_state` and the wav2vec2 builder's intermediates.
 * Batches: rows are assumed unpadded (the reference's attention mask is all ones for a batch of one).
 */
import { ModelMismatchError } from '../../errors.ts';
import { parseJsonObject } from '../../models/json.ts';
import { GraphBuilder } from '../../onnx/graph.ts';
import { Nn, type Precision } from '../../onnx/nn.ts';
import type { WeightStore } from '../../checkpoint/index.ts';
import {
  type Wav2vec2Config, loadWav2vec2Weights, normalizeWav2vec2Input, parseWav2vec2Config, wav2vec2Body,
  wav2vec2Frames, wav2vec2ParamShapes,
} from '../wav2vec2.ts';
import type { Weights } from '../weights.ts';

/** HuBERT's encoder configuration (wav2vec2's fields; finalLayerNorm is false for Seed-VC v2). */
export type HubertConfig = Wav2vec2Config;

/** Samples per HuBERT frame at 16 kHz (50 Hz): AstralQuantizer keeps `samples // 320` frames. */
export const HUBERT_HOP = 320;

/** Seed-VC v2's ssl_output_layer (configs/v2/vc_wrapper.yaml). */
export const V2_HUBERT_OUTPUT_LAYER = 18;

export interface HubertBuildOptions {
  precision?: Precision;
  /** Also output `last_hidden_state` (untrimmed) and the conv / projection / layer intermediates. */
  debugOutputs?: boolean;
}

/**
 * Reads a HuBERT `config.json` (text or parsed) for Seed-VC v2: keeps the first `outputLayer` layers
 * (default 18) and drops the final encoder norm. Only the large (stable layer norm) architecture with
 * the feature-projection LayerNorm is accepted.
 */
export function parseHubertConfig(configJson: string | Record<string, unknown>, outputLayer = V2_HUBERT_OUTPUT_LAYER): HubertConfig {
  const j = parseJsonObject(configJson, 'hubert config.json');
  if (j.model_type !== undefined && j.model_type !== 'hubert') {
    throw new ModelMismatchError(`hubert config.json: model_type '${String(j.model_type)}' is not 'hubert'`);
  }
  if (j.feat_proj_layer_norm === false) {
    throw new ModelMismatchError('hubert config.json: feat_proj_layer_norm = false is not supported (hubert-large uses the projection LayerNorm)');
  }
  let cfg: Wav2vec2Config;
  try {
    cfg = parseWav2vec2Config(j, outputLayer, 'hubert config.json');
  } catch (e) {
    if (e instanceof ModelMismatchError) throw new ModelMismatchError(e.message.replace(/^wav2vec2 /, 'hubert '));
    throw e;
  }
  return { ...cfg, finalLayerNorm: false };
}

/** Frames the conv stack yields for `samples` (HuBERT's own count, before the samples // 320 trim). */
export function hubertFrames(cfg: Pick<HubertConfig, 'convKernel' | 'convStride'>, samples: number): number {
  return wav2vec2Frames(cfg, samples);
}

/** Frames of the `hidden` output: min(conv frames, samples // 320). */
export function hubertOutputFrames(cfg: Pick<HubertConfig, 'convKernel' | 'convStride'>, samples: number): number {
  return Math.min(wav2vec2Frames(cfg, samples), Math.floor(samples / HUBERT_HOP));
}

/** Parameter shapes the encoder reads (the positional conv by its folded `.weight`). */
export function hubertParamShapes(cfg: HubertConfig): Map<string, number[]> {
  return wav2vec2ParamShapes(cfg);
}

/**
 * Loads `model.safetensors` of facebook/hubert-large-ll60k (unprefixed HubertModel keys; a `hubert.` or
 * `wav2vec2.`-style prefix is not expected). Layers past `outputLayer`, the final norm and
 * `masked_spec_embed` are ignored; the positional conv's weight norm folds over dim 2.
 */
export function loadHubertWeights(bytes: Uint8Array, file: string, cfg: HubertConfig): WeightStore {
  try {
    return loadWav2vec2Weights(bytes, file, cfg);
  } catch (e) {
    if (e instanceof ModelMismatchError) throw new ModelMismatchError(e.message.replace('not a wav2vec2 checkpoint', 'not a HuBERT checkpoint'));
    throw e;
  }
}

/** Wav2Vec2FeatureExtractor's per-utterance normalisation (x - mean) / sqrt(var + 1e-7), numpy float32. */
export function normalizeHubertInput(wave16k: Float32Array): Float32Array {
  return normalizeWav2vec2Input(wave16k);
}

/** Builds the HuBERT graph (see the module comment). */
export function buildHubert(cfg: HubertConfig, w: Weights, opts: HubertBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('hubert');
  const { input, hidden: all } = wav2vec2Body(g, { ...cfg, finalLayerNorm: cfg.finalLayerNorm ?? false }, w, opts);
  const nn = new Nn(g, opts.precision ?? 'fp32');
  if (opts.debugOutputs) g.output(all, 'last_hidden_state');
  // last_hidden_state[:, :samples // 320] (Slice clamps when HuBERT yields fewer frames).
  const keep = nn.div(nn.dim(input, 1), g.constant([HUBERT_HOP], 'int64', [1]));
  g.output(nn.slice(all, [0], keep, [1]), 'hidden', ['batch', 'frames', cfg.hiddenSize]);
  return g;
}

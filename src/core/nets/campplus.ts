/**
 * The CAMPPlus speaker encoder (3D-Speaker / FunASR `campplus_cn_common.bin`, modules/campplus/DTDNN.py) that
 * Seed-VC uses for its style vector, built as one ONNX graph. Module paths mirror the checkpoint keys:
 *
 *   head (FCM: conv1/bn1, layer1-2 of BasicResBlocks, conv2/bn2; 2-D convs over [B, 1, 80, T])
 *   -> xvector.tdnn (Conv1d k5 stride 2 + BN + ReLU)
 *   -> xvector.block{1,2,3}.tdnnd{i} (dense layers: BN-ReLU-Conv1x1-BN-ReLU, then the CAM layer) + transit{1,2,3}
 *   -> xvector.out_nonlinear -> stats ([mean, unbiased std] over time) -> dense (Conv1x1 + BN without affine)
 *
 * Eval-mode BatchNorm is folded at build time: into the weights and bias of the conv right before it where
 * one exists (head, tdnn, linear1 -> nonlinear2, dense), otherwise (pre-activation BNs) into a per-channel
 * scale and shift. The CAM context is constant within each 100-frame segment, so its two 1x1 convs run on
 * one column per segment and the resulting gate is gathered back to the frames.
 *
 * Graph input `feat` [B, frames, 80] (mean-normalised kaldi fbank, time-major); output `embedding` [B, 192].
 */
import { checkShapes } from '../checkpoint/state-dict.ts';
import { WeightStore, loadStateDict, renameKeys } from '../checkpoint/index.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision, reshapeTensor } from '../onnx/nn.ts';
import { type Tensor, tensor } from '../tensor.ts';
import type { Weights } from './weights.ts';

export interface CampplusBlockConfig {
  /** CAM dense layers in the block. */
  layers: number;
  kernelSize: number;
  dilation: number;
}

export interface CampplusConfig {
  featDim: number;
  embeddingSize: number;
  /** Channels each dense layer adds. */
  growthRate: number;
  /** Bottleneck width = bnSize * growthRate. */
  bnSize: number;
  /** Channels out of the TDNN layer. */
  initChannels: number;
  /** FCM head channels. */
  mChannels: number;
  /** BasicResBlocks in the head's layer1 and layer2. */
  headBlocks: readonly [number, number];
  blocks: readonly CampplusBlockConfig[];
  /** CAM segment length for the segment average pooling. */
  segLen: number;
  /** CAM bottleneck reduction of linear1. */
  camReduction: number;
  bnEps: number;
}

/** The official CAMPPlus(feat_dim=80, embedding_size=192) that Seed-VC loads. */
export const campplusConfig: CampplusConfig = {
  featDim: 80,
  embeddingSize: 192,
  growthRate: 32,
  bnSize: 4,
  initChannels: 128,
  mChannels: 32,
  headBlocks: [2, 2],
  blocks: [
    { layers: 12, kernelSize: 3, dilation: 1 },
    { layers: 24, kernelSize: 3, dilation: 2 },
    { layers: 16, kernelSize: 3, dilation: 2 },
  ],
  segLen: 100,
  camReduction: 2,
  bnEps: 1e-5,
};

export interface CampplusBuildOptions {
  precision?: Precision;
  /**
   * Also output the golden intermediates (full length): `intermediate.head` [B, C*F', T],
   * `intermediate.xvector.tdnn`, `intermediate.xvector.transit{1,2,3}`, `intermediate.xvector.out_nonlinear`
   * [B, C, T/2] and `intermediate.stats` [B, 2C].
   */
  debugOutputs?: boolean;
  /**
   * Seed-VC v2's compute_style: statistics pooling over the first `frames // 2` TDNN outputs only
   * (x_lens = fbank frames // 2; the last output is left out when frames is odd). v1 pools them all.
   */
  halfLengthPooling?: boolean;
}

const TDNN_KERNEL = 5;
const TDNN_STRIDE = 2;

/** Builds the CAMPPlus graph from `weights` with keys as in the checkpoint after the `xvector.dense.` -> `dense.` rename. */
export function buildCampplus(cfg: CampplusConfig, w: Weights, opts: CampplusBuildOptions = {}): GraphBuilder {
  const g = new GraphBuilder('campplus');
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const dims = campplusDims(cfg);
  const feat = g.input('feat', 'float32', ['batch', 'frames', cfg.featDim]);
  const debug = (v: Value, name: string, shape: (string | number)[]) => {
    if (opts.debugOutputs) g.output(v, `intermediate.${name}`, shape);
  };

  // [B, T, F] -> [B, 1, F, T]: the head sees the fbank as an image with height = frequency
  const image = nn.unsqueeze(nn.transpose(feat, [0, 2, 1]), [1]);
  let x = g.scope('head', () => fcmHead(nn, cfg, w, image));
  x = nn.reshape(x, [0, dims.headChannels, -1]); // [B, C, F', T] -> [B, C*F', T]
  debug(x, 'head', ['batch', dims.headChannels, 'frames']);

  g.scope('xvector', () => {
    x = g.scope('tdnn', () => {
      const conv = foldBnIntoConv(w, 'xvector.tdnn.linear.weight', 'xvector.tdnn.nonlinear.batchnorm.', cfg.bnEps);
      return nn.relu(nn.conv(x, conv.weight, conv.bias, { stride: TDNN_STRIDE, padding: (TDNN_KERNEL - 1) / 2 }, 'linear'));
    });
    debug(x, 'xvector.tdnn', ['batch', cfg.initChannels, 'xframes']);
    // every CAM layer works on the same number of frames: plan the segment pooling once
    const plan = segmentPlan(nn, x, cfg.segLen);
    let channels = cfg.initChannels;
    cfg.blocks.forEach((blk, b) => {
      const name = `block${b + 1}`;
      g.scope(name, () => {
        for (let i = 0; i < blk.layers; i++) {
          const layerKey = `xvector.${name}.tdnnd${i + 1}.`;
          const y = g.scope(`tdnnd${i + 1}`, () => camDenseLayer(nn, cfg, blk, w, layerKey, x, plan));
          x = nn.concat([x, y], 1);
          channels += cfg.growthRate;
        }
      });
      const transit = `transit${b + 1}`;
      x = g.scope(transit, () => {
        const h = preActivation(nn, w, `xvector.${transit}.nonlinear.batchnorm.`, cfg.bnEps, x, 'nonlinear.batchnorm');
        return nn.conv(h, w.get(`xvector.${transit}.linear.weight`), null, {}, 'linear');
      });
      channels = Math.floor(channels / 2);
      debug(x, `xvector.${transit}`, ['batch', channels, 'xframes']);
    });
    x = g.scope('out_nonlinear', () => preActivation(nn, w, 'xvector.out_nonlinear.batchnorm.', cfg.bnEps, x, 'batchnorm'));
    debug(x, 'xvector.out_nonlinear', ['batch', channels, 'xframes']);
  });

  if (opts.halfLengthPooling) x = nn.slice(x, [0], nn.div(nn.dim(feat, 1), g.constant([2], 'int64', [1])), [2]);
  const stats = g.scope('stats', () => statisticsPooling(nn, x));
  debug(stats, 'stats', ['batch', 2 * dims.xvectorChannels]);
  const emb = g.scope('dense', () => {
    const conv = foldBnIntoConv(w, 'dense.linear.weight', 'dense.nonlinear.batchnorm.', cfg.bnEps, false);
    const [out, inp] = conv.weight.shape;
    return nn.linear(stats, reshapeTensor(conv.weight, [out, inp]), conv.bias, 'linear');
  });
  g.output(emb, 'embedding', ['batch', cfg.embeddingSize]);
  return g;
}

// ---- head (FCM) ---------------------------------------------------------------------------------------

/** FCM: conv1/bn1/relu, layer1, layer2 (BasicResBlocks, the first of each with stride 2 over frequency), conv2/bn2/relu. */
function fcmHead(nn: Nn, cfg: CampplusConfig, w: Weights, x: Value): Value {
  const g = nn.g;
  // conv + folded BN; `key` is the module path under head., `name` the conv's name inside the current scope
  const convBn = (input: Value, key: string, conv: string, bn: string, stride: number, pad: number): Value => {
    const f = foldBnIntoConv(w, `head.${key}${conv}.weight`, `head.${key}${bn}.`, cfg.bnEps);
    return nn.conv(input, f.weight, f.bias, { stride: [stride, 1], padding: pad }, conv);
  };
  let h = nn.relu(convBn(x, '', 'conv1', 'bn1', 1, 1));
  [1, 2].forEach((layer, li) => {
    for (let j = 0; j < cfg.headBlocks[li]; j++) {
      // the first block of each layer halves the frequency axis and has a conv shortcut
      const stride = j === 0 ? 2 : 1;
      const key = `layer${layer}.${j}.`;
      const input = h;
      h = g.scope(`layer${layer}`, () => g.scope(j, () => {
        const a = nn.relu(convBn(input, key, 'conv1', 'bn1', stride, 1));
        const b = convBn(a, key, 'conv2', 'bn2', 1, 1);
        const shortcut = stride !== 1 ? g.scope('shortcut', () => convBn(input, `${key}shortcut.`, '0', '1', stride, 0)) : input;
        return nn.relu(nn.add(b, shortcut));
      }));
    }
  });
  return nn.relu(convBn(h, '', 'conv2', 'bn2', 2, 1));
}

// ---- xvector ------------------------------------------------------------------------------------------

/** Graph values shared by all CAM layers: how the frames split into segments of `segLen` (last one shorter). */
interface SegmentPlan {
  segLen: number;
  /** Pad amounts [6] (rank-3 Pad) extending time to a whole number of segments. */
  pads: Value;
  /** 1 / frames in each segment, [S] fp32 (the last segment may be shorter: ceil_mode pooling). */
  invCounts: Value;
  /** 1 / T, [1] fp32. */
  invFrames: Value;
  /** Segment index of each frame, [T] int64. */
  segmentOfFrame: Value;
}

function segmentPlan(nn: Nn, x: Value, segLen: number): SegmentPlan {
  const g = nn.g;
  const zero = g.constant([0], 'int64', []);
  const one = g.constant([1], 'int64', []);
  const len = g.constant([segLen], 'int64', [1]);
  const frames = nn.dim(x, 2); // [1]
  const segments = g.op('Div', [nn.add(frames, g.constant([segLen - 1], 'int64', [1])), len]); // ceil(T / L)
  const padAmount = nn.sub(nn.mul(segments, len), frames);
  const pads = nn.concat([g.constant([0, 0, 0, 0, 0], 'int64', [5]), padAmount], 0);
  const starts = nn.mul(nn.range(zero, nn.squeeze(segments, [0]), one), len); // [S]
  const counts = g.op('Min', [nn.sub(frames, starts), len]);
  const frameIdx = nn.range(zero, nn.squeeze(frames, [0]), one); // [T]
  return {
    segLen,
    pads,
    invCounts: nn.reciprocal(nn.cast(counts, 'float32')),
    invFrames: nn.reciprocal(nn.cast(frames, 'float32')),
    segmentOfFrame: g.op('Div', [frameIdx, g.constant([segLen], 'int64', [])]),
  };
}

/** One CAMDenseTDNNLayer: BN-ReLU -> linear1 (1x1, nonlinear2's BN folded in) -> ReLU -> CAM layer; returns growthRate channels. */
function camDenseLayer(nn: Nn, cfg: CampplusConfig, blk: CampplusBlockConfig, w: Weights, p: string, x: Value, plan: SegmentPlan): Value {
  const h0 = preActivation(nn, w, `${p}nonlinear1.batchnorm.`, cfg.bnEps, x, 'nonlinear1.batchnorm');
  const lin1 = foldBnIntoConv(w, `${p}linear1.weight`, `${p}nonlinear2.batchnorm.`, cfg.bnEps);
  const h = nn.relu(nn.conv(h0, lin1.weight, lin1.bias, {}, 'linear1'));
  return nn.scope('cam_layer', () => {
    const c = `${p}cam_layer.`;
    const local = nn.conv(h, w.get(`${c}linear_local.weight`), null,
      { padding: ((blk.kernelSize - 1) / 2) * blk.dilation, dilation: blk.dilation }, 'linear_local');
    // context per segment = mean over all frames + average over the segment (avg_pool1d, ceil_mode)
    const padded = nn.g.op('Pad', [h, plan.pads]);
    const sums = nn.reduceSum(nn.reshape(padded, [0, 0, -1, plan.segLen]), [3], false); // [B, C, S]
    const mean = nn.mul(nn.reduceSum(sums, [2], true), plan.invFrames);
    const context = nn.add(nn.mul(sums, plan.invCounts), mean);
    const hidden = nn.relu(nn.conv(context, w.get(`${c}linear1.weight`), w.get(`${c}linear1.bias`), {}, 'linear1'));
    const gate = nn.sigmoid(nn.conv(hidden, w.get(`${c}linear2.weight`), w.get(`${c}linear2.bias`), {}, 'linear2'));
    return nn.mul(local, nn.gather(gate, plan.segmentOfFrame, 2)); // gate [B, G, S] -> [B, G, T]
  });
}

/** BatchNorm (eval, folded to scale/shift) + ReLU for a BN that precedes its conv. */
function preActivation(nn: Nn, w: Weights, bn: string, eps: number, x: Value, scopeName: string): Value {
  const y = nn.scope(scopeName, () => nn.batchNorm(x, {
    weight: w.get(`${bn}weight`), bias: w.get(`${bn}bias`), mean: w.get(`${bn}running_mean`), var: w.get(`${bn}running_var`),
  }, eps, 3));
  return nn.relu(y);
}

/** cat[mean, unbiased std] over time: [B, C, T] -> [B, 2C]. */
function statisticsPooling(nn: Nn, x: Value): Value {
  const mean = nn.reduceMean(x, [2], true);
  const d = nn.sub(x, mean);
  const frames = nn.cast(nn.dim(x, 2), 'float32');
  const variance = nn.div(nn.reduceSum(nn.mul(d, d), [2], false), nn.sub(frames, nn.scalar(1)));
  return nn.concat([nn.squeeze(mean, [2]), nn.sqrt(variance)], 1);
}

// ---- BatchNorm folding ----------------------------------------------------------------------------------

/**
 * bias-free conv (weight [O, ...]) followed by eval-mode BatchNorm -> one conv: w' = w * s, b' = beta - mean * s
 * with s = gamma / sqrt(var + eps); computed in float64. `affine` false: gamma = 1, beta = 0 (BatchNorm1d(affine=False)).
 */
function foldBnIntoConv(w: Weights, weightKey: string, bn: string, eps: number, affine = true):
  { weight: Tensor<'float32'>; bias: Tensor<'float32'> } {
  const weight = w.get(weightKey);
  const o = weight.shape[0];
  const mean = w.get(`${bn}running_mean`, [o]).data;
  const variance = w.get(`${bn}running_var`, [o]).data;
  const gamma = affine ? w.get(`${bn}weight`, [o]).data : null;
  const beta = affine ? w.get(`${bn}bias`, [o]).data : null;
  const per = weight.data.length / o;
  const wOut = new Float32Array(weight.data.length);
  const bOut = new Float32Array(o);
  for (let i = 0; i < o; i++) {
    const s = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
    for (let j = 0; j < per; j++) wOut[i * per + j] = weight.data[i * per + j] * s;
    bOut[i] = (beta ? beta[i] : 0) - mean[i] * s;
  }
  return { weight: tensor('float32', weight.shape, wOut), bias: tensor('float32', [o], bOut) };
}

// ---- shapes & loading ------------------------------------------------------------------------------------

/** Channel counts implied by the config (head output C*F', xvector width before pooling). */
function campplusDims(cfg: CampplusConfig): { headChannels: number; xvectorChannels: number } {
  // three stride-2 convs (k3, pad 1) over frequency; the reference sizes the TDNN for m * (featDim // 8)
  let f = cfg.featDim;
  for (let i = 0; i < 3; i++) f = Math.floor((f - 1) / 2) + 1;
  const headChannels = cfg.mChannels * f;
  if (f !== Math.floor(cfg.featDim / 8)) throw new Error(`campplus: featDim ${cfg.featDim} gives ${f} head bins, the reference expects ${Math.floor(cfg.featDim / 8)}`);
  let c = cfg.initChannels;
  for (const b of cfg.blocks) c = Math.floor((c + b.layers * cfg.growthRate) / 2);
  return { headChannels, xvectorChannels: c };
}

/** Every parameter the builder reads (checkpoint keys, dense layer as `dense.*`) with its shape. */
export function campplusParamShapes(cfg: CampplusConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const bn = (p: string, c: number, affine = true) => {
    if (affine) { m.set(`${p}weight`, [c]); m.set(`${p}bias`, [c]); }
    m.set(`${p}running_mean`, [c]); m.set(`${p}running_var`, [c]);
  };
  const mc = cfg.mChannels;
  m.set('head.conv1.weight', [mc, 1, 3, 3]); bn('head.bn1.', mc);
  [1, 2].forEach((layer, li) => {
    for (let j = 0; j < cfg.headBlocks[li]; j++) {
      const p = `head.layer${layer}.${j}.`;
      m.set(`${p}conv1.weight`, [mc, mc, 3, 3]); bn(`${p}bn1.`, mc);
      m.set(`${p}conv2.weight`, [mc, mc, 3, 3]); bn(`${p}bn2.`, mc);
      if (j === 0) { m.set(`${p}shortcut.0.weight`, [mc, mc, 1, 1]); bn(`${p}shortcut.1.`, mc); }
    }
  });
  m.set('head.conv2.weight', [mc, mc, 3, 3]); bn('head.bn2.', mc);
  const { headChannels } = campplusDims(cfg);
  m.set('xvector.tdnn.linear.weight', [cfg.initChannels, headChannels, TDNN_KERNEL]);
  bn('xvector.tdnn.nonlinear.batchnorm.', cfg.initChannels);
  const bnCh = cfg.bnSize * cfg.growthRate;
  let c = cfg.initChannels;
  cfg.blocks.forEach((blk, b) => {
    for (let i = 0; i < blk.layers; i++) {
      const p = `xvector.block${b + 1}.tdnnd${i + 1}.`;
      const cin = c + i * cfg.growthRate;
      bn(`${p}nonlinear1.batchnorm.`, cin);
      m.set(`${p}linear1.weight`, [bnCh, cin, 1]);
      bn(`${p}nonlinear2.batchnorm.`, bnCh);
      m.set(`${p}cam_layer.linear_local.weight`, [cfg.growthRate, bnCh, blk.kernelSize]);
      m.set(`${p}cam_layer.linear1.weight`, [bnCh / cfg.camReduction, bnCh, 1]);
      m.set(`${p}cam_layer.linear1.bias`, [bnCh / cfg.camReduction]);
      m.set(`${p}cam_layer.linear2.weight`, [cfg.growthRate, bnCh / cfg.camReduction, 1]);
      m.set(`${p}cam_layer.linear2.bias`, [cfg.growthRate]);
    }
    c += blk.layers * cfg.growthRate;
    bn(`xvector.transit${b + 1}.nonlinear.batchnorm.`, c);
    m.set(`xvector.transit${b + 1}.linear.weight`, [Math.floor(c / 2), c, 1]);
    c = Math.floor(c / 2);
  });
  bn('xvector.out_nonlinear.batchnorm.', c);
  m.set('dense.linear.weight', [cfg.embeddingSize, 2 * c, 1]);
  bn('dense.nonlinear.batchnorm.', cfg.embeddingSize, false);
  return m;
}

/**
 * Loads a CAMPPlus state_dict (torch zip or safetensors), renames `xvector.dense.*` -> `dense.*` and
 * `xvector.stats.*` -> `stats.*` as CAMPPlus.load_state_dict does (keys already spelled `dense.*` pass), and
 * checks every parameter against `cfg`.
 */
export function loadCampplusWeights(bytes: Uint8Array, file: string, cfg: CampplusConfig = campplusConfig): WeightStore {
  const sd = renameKeys(loadStateDict(bytes, file), { 'xvector.dense.': 'dense.', 'xvector.stats.': 'stats.' });
  const store = new WeightStore(sd, file);
  checkShapes(store, campplusParamShapes(cfg), file);
  return store;
}

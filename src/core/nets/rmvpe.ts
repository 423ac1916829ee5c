/**
 * RMVPE's E2E pitch network (modules/rmvpe.py), the singing model's F0 extractor, built as one ONNX graph.
 * Module paths mirror the checkpoint keys:
 *
 *   mel [B, 128, T] -> image [B, 1, T, 128] (height = time)
 *   -> unet.encoder (bn, layers[i] = n_blocks ConvBlockRes + AvgPool 2x2; pre-pool tensors are the skips)
 *   -> unet.intermediate (layers without pooling) -> unet.decoder (conv1 = ConvTranspose x2 + BN + ReLU,
 *      cat skip, conv2 = n_blocks ConvBlockRes) -> cnn (Conv2d -> 3 channels) -> [B, T, 3 * 128]
 *   -> fc.0 (BiGRU 384 -> 2 x 256) -> fc.1 (Linear 512 -> 360) -> sigmoid
 *
 * Every eval-mode BatchNorm that follows a convolution is folded into it at build time; only the encoder's
 * input BatchNorm stays an elementwise scale/shift (folding a shift through a zero-padded conv is not exact).
 * The BiGRU is the ONNX GRU operator. It stays fp32 under the fp16 policy: the policy covers
 * MatMul/Gemm/Conv/ConvTranspose only, GRU is not an autocast op here, and its recurrence over every frame
 * is where half precision would accumulate error.
 *
 * Graph input `mel` [B, 128, T] must already be ZERO-padded on the right to a multiple of 32 frames
 * (padMelForRmvpe); output `hidden` [B, T, 360] salience for every padded frame.
 *
 * The graph can also be built in two parts (`part`): 'unet' (mel -> `features` [B, T, 384], the U-Net and
 * the cnn) and 'fc' (`features` -> `hidden`, the BiGRU head). The U-Net's receptive field is finite
 * (rmvpeContextFrames), so the pitch extractor (pipeline/pitch.ts) runs it over windows of a long input with that much context
 * on each side — the same features as one whole run — and only the BiGRU, whose input is 384 floats a
 * frame, sees the whole sequence. Its activations then stay bounded however long the input is.
 */
import { WeightStore } from '../checkpoint/state-dict.ts';
import { decodeSalience, rmvpeMel, type RmvpeMel, type Signal } from '../dsp/index.ts';
import { InvalidInputError, ModelMismatchError } from '../errors.ts';
import { checkShapes } from '../checkpoint/state-dict.ts';
import { GraphBuilder, type Value } from '../onnx/graph.ts';
import { Nn, type Precision } from '../onnx/nn.ts';
import { type Tensor, tensor } from '../tensor.ts';
import type { Weights } from './weights.ts';

/** Sizes of an E2E network (the official loader hard-codes E2E(4, 1, (2, 2)): n_blocks 4, n_gru 1, 5 / 4 layers, 16 channels). */
export interface RmvpeConfig {
  nBlocks: number;
  nGru: number;
  enDeLayers: number;
  interLayers: number;
  inChannels: number;
  enOutChannels: number;
  /** Mel bins (image width), fixed at 128 by the reference. */
  nMels: number;
  /** GRU hidden size per direction (256). */
  gruHidden: number;
  /** Salience bins (360). */
  nClass: number;
}

/** The official E2E(4, 1, (2, 2)) sizes. */
export const RMVPE_OFFICIAL: RmvpeConfig = {
  nBlocks: 4, nGru: 1, enDeLayers: 5, interLayers: 4, inChannels: 1, enOutChannels: 16, nMels: 128, gruHidden: 256, nClass: 360,
};

/** mel2hidden pads to a multiple of 32 frames (2^5 for the five 2x2 poolings of the official U-Net). */
export const RMVPE_FRAME_MULTIPLE = 32;

/**
 * Frames of context on each side beyond which a U-Net output frame (`features`) cannot see, rounded up to the
 * 2^layers pooling grid: at level s (frames 2^s apart) a 3x3 conv reaches 2^s frames further, a 2x2 average
 * pool nothing beyond its own cell, a stride-2 transposed conv into level s at most 2^(s+1); the final cnn
 * conv 1 frame. Official E2E(4, 1, (2, 2)): 248 (encoder) + 1024 (intermediate) + 310 (decoder) + 1 -> 1600.
 */
export function rmvpeContextFrames(cfg: RmvpeConfig): number {
  const L = cfg.enDeLayers, perLayer = 2 * cfg.nBlocks;
  let reach = 1; // cnn
  for (let s = 0; s < L; s++) reach += perLayer * 2 ** s /* encoder */ + 2 ** (s + 1) + perLayer * 2 ** s /* decoder */;
  reach += cfg.interLayers * perLayer * 2 ** L;
  const grid = 2 ** L;
  return grid * Math.ceil(reach / grid);
}

/** The context windowed runs use: enough for the official E2E (every released rmvpe.pt) and anything shallower. */
export const RMVPE_CONTEXT_FRAMES = rmvpeContextFrames(RMVPE_OFFICIAL);

export interface RmvpeBuildOptions {
  precision?: Precision;
  /** 'whole' (default): mel -> hidden; 'unet': mel -> `features` [B, T, 3 * nMels]; 'fc': `features` -> hidden. */
  part?: 'whole' | 'unet' | 'fc';
  /** Also output `gru_out` [B, T, 512], `logits` [B, T, 360], `encoder_out`, `intermediate_out`, `unet_out` (B, C, T, mel). */
  debugOutputs?: boolean;
}

const BN_EPS = 1e-5;

/** Distinct integer indices that follow `prefix` in the keys of `w`. */
function countIndexed(w: Weights, prefix: string): number {
  const ids = new Set<number>();
  for (const k of w.keys(prefix)) {
    const m = /^(\d+)\./.exec(k.slice(prefix.length));
    if (m) ids.add(Number(m[1]));
  }
  for (let i = 0; i < ids.size; i++) if (!ids.has(i)) throw new ModelMismatchError(`RMVPE weights: ${prefix}${i}.* is missing (found indices ${[...ids].sort((a, b) => a - b).join(', ')})`);
  return ids.size;
}

/** The E2E sizes implied by a state_dict's keys (RMVPE checkpoints carry no config). */
export function rmvpeConfigFromWeights(w: Weights): RmvpeConfig {
  const first = 'unet.encoder.layers.0.conv.0.conv.0.weight';
  if (!w.has(first)) throw new ModelMismatchError(`not an RMVPE E2E state_dict: '${first}' is missing`);
  const [enOut, inCh] = w.get(first).shape;
  const wih = w.get('fc.0.gru.weight_ih_l0');
  let nGru = 0;
  while (w.has(`fc.0.gru.weight_ih_l${nGru}`)) nGru++;
  const cfg: RmvpeConfig = {
    nBlocks: countIndexed(w, 'unet.encoder.layers.0.conv.'),
    nGru,
    enDeLayers: countIndexed(w, 'unet.encoder.layers.'),
    interLayers: countIndexed(w, 'unet.intermediate.layers.'),
    inChannels: inCh,
    enOutChannels: enOut,
    nMels: wih.shape[1] / 3,
    gruHidden: wih.shape[0] / 3,
    nClass: w.get('fc.1.weight').shape[0],
  };
  if (!Number.isInteger(cfg.nMels) || !Number.isInteger(cfg.gruHidden) || cfg.nBlocks < 1 || cfg.interLayers < 1) {
    throw new ModelMismatchError(`RMVPE weights: inconsistent sizes ${JSON.stringify(cfg)}`);
  }
  return cfg;
}

/** Parameter shapes the builder reads (BatchNorm statistics included; num_batches_tracked is not read). */
export function rmvpeParamShapes(cfg: RmvpeConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const bn = (p: string, c: number) => {
    for (const s of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${p}.${s}`, [c]);
  };
  const block = (p: string, cin: number, cout: number) => {
    m.set(`${p}.conv.0.weight`, [cout, cin, 3, 3]);
    bn(`${p}.conv.1`, cout);
    m.set(`${p}.conv.3.weight`, [cout, cout, 3, 3]);
    bn(`${p}.conv.4`, cout);
    if (cin !== cout) {
      m.set(`${p}.shortcut.weight`, [cout, cin, 1, 1]);
      m.set(`${p}.shortcut.bias`, [cout]);
    }
  };
  const blocks = (p: string, cin: number, cout: number) => {
    for (let j = 0; j < cfg.nBlocks; j++) block(`${p}.${j}`, j === 0 ? cin : cout, cout);
  };
  bn('unet.encoder.bn', cfg.inChannels);
  let cin = cfg.inChannels, c = cfg.enOutChannels;
  for (let i = 0; i < cfg.enDeLayers; i++) {
    blocks(`unet.encoder.layers.${i}.conv`, cin, c);
    cin = c; c *= 2;
  }
  // c is now the encoder's out_channel (2x the last encoder width)
  for (let i = 0; i < cfg.interLayers; i++) blocks(`unet.intermediate.layers.${i}.conv`, i === 0 ? c / 2 : c, c);
  for (let i = 0; i < cfg.enDeLayers; i++) {
    const out = c / 2;
    m.set(`unet.decoder.layers.${i}.conv1.0.weight`, [c, out, 3, 3]);
    bn(`unet.decoder.layers.${i}.conv1.1`, out);
    blocks(`unet.decoder.layers.${i}.conv2`, 2 * out, out);
    c = out;
  }
  m.set('cnn.weight', [3, cfg.enOutChannels, 3, 3]);
  m.set('cnn.bias', [3]);
  const H = cfg.gruHidden;
  for (let l = 0; l < cfg.nGru; l++) {
    for (const sfx of ['', '_reverse']) {
      m.set(`fc.0.gru.weight_ih_l${l}${sfx}`, [3 * H, l === 0 ? 3 * cfg.nMels : 2 * H]);
      m.set(`fc.0.gru.weight_hh_l${l}${sfx}`, [3 * H, H]);
      m.set(`fc.0.gru.bias_ih_l${l}${sfx}`, [3 * H]);
      m.set(`fc.0.gru.bias_hh_l${l}${sfx}`, [3 * H]);
    }
  }
  m.set('fc.1.weight', [cfg.nClass, 2 * H]);
  m.set('fc.1.bias', [cfg.nClass]);
  return m;
}

/** Reads an rmvpe.pt state_dict (float16 or float32; handed out as float32) and checks it against the sizes its keys imply. */
export function loadRmvpeWeights(bytes: Uint8Array, file: string): WeightStore {
  const store = WeightStore.fromBytes(bytes, file);
  checkShapes(store, rmvpeParamShapes(rmvpeConfigFromWeights(store)), file);
  return store;
}

/** Builds the E2E graph: padded log-mel [B, 128, T] -> salience `hidden` [B, T, 360]. */
export function buildRmvpe(cfg: RmvpeConfig, w: Weights, opts: RmvpeBuildOptions = {}): GraphBuilder {
  const part = opts.part ?? 'whole';
  const g = new GraphBuilder(part === 'whole' ? 'rmvpe' : `rmvpe_${part}`);
  const nn = new Nn(g, opts.precision ?? 'fp32');
  const featureWidth = 3 * cfg.nMels;
  if (part === 'fc') return rmvpeHead(nn, w, cfg, g.input('features', 'float32', ['batch', 'frames', featureWidth]), opts);
  if (part === 'unet' && rmvpeContextFrames(cfg) > RMVPE_CONTEXT_FRAMES) {
    throw new ModelMismatchError(`RMVPE weights: a U-Net this deep (${cfg.enDeLayers} layers, ${cfg.interLayers} intermediate, ${cfg.nBlocks} blocks) sees ${rmvpeContextFrames(cfg)} frames each side; windowed runs allow at most ${RMVPE_CONTEXT_FRAMES} (the official E2E(4, 1, (2, 2)))`);
  }
  const mel = g.input('mel', 'float32', ['batch', cfg.nMels, 'frames']);
  let x = nn.unsqueeze(nn.transpose(mel, [0, 2, 1]), [1]); // [B, 1, T, mel]

  const skips: Value[] = [];
  g.scope('unet', () => {
    g.scope('encoder', () => {
      x = g.scope('bn', () => nn.batchNorm(x, bnParams(w, 'unet.encoder.bn'), BN_EPS, 4));
      g.scope('layers', () => {
        for (let i = 0; i < cfg.enDeLayers; i++) {
          g.scope(i, () => {
            x = convBlocks(nn, w, `unet.encoder.layers.${i}.conv`, x, cfg.nBlocks);
            skips.push(x);
            x = g.scope('pool', () => g.op('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] }));
          });
        }
      });
    });
    if (opts.debugOutputs) g.output(x, 'encoder_out');
    g.scope('intermediate', () => g.scope('layers', () => {
      for (let i = 0; i < cfg.interLayers; i++) g.scope(i, () => { x = convBlocks(nn, w, `unet.intermediate.layers.${i}.conv`, x, cfg.nBlocks); });
    }));
    if (opts.debugOutputs) g.output(x, 'intermediate_out');
    g.scope('decoder', () => g.scope('layers', () => {
      for (let i = 0; i < cfg.enDeLayers; i++) {
        g.scope(i, () => {
          const p = `unet.decoder.layers.${i}`;
          x = g.scope('conv1', () => {
            const [wt, b] = foldBnIntoConvTranspose(w.get(`${p}.conv1.0.weight`), bnParams(w, `${p}.conv1.1`));
            return nn.relu(nn.convTranspose(x, wt, b, { stride: 2, padding: 1, outputPadding: 1 }, '0'));
          });
          x = nn.concat([x, skips[skips.length - 1 - i]], 1);
          x = convBlocks(nn, w, `${p}.conv2`, x, cfg.nBlocks);
        });
      }
    }));
  });
  if (opts.debugOutputs) g.output(x, 'unet_out');

  x = g.scope('cnn', () => nn.conv(x, w.get('cnn.weight'), w.get('cnn.bias'), { padding: 1 })); // [B, 3, T, mel]
  const features = nn.reshape(nn.transpose(x, [0, 2, 1, 3]), [0, 0, -1]); // [B, T, 3 * mel], feature = channel * mel + bin
  if (part === 'unet') {
    g.output(features, 'features', ['batch', 'frames', featureWidth]);
    return g;
  }
  return rmvpeHead(nn, w, cfg, features, opts);
}

/** fc: BiGRU -> Linear -> sigmoid over [B, T, 3 * mel] features; outputs `hidden` [B, T, 360]. */
function rmvpeHead(nn: Nn, w: Weights, cfg: RmvpeConfig, features: Value, opts: RmvpeBuildOptions): GraphBuilder {
  const g = nn.g;
  const h = g.scope('fc', () => g.scope(0, () => g.scope('gru', () => biGru(nn, w, cfg, features))));
  if (opts.debugOutputs) g.output(h, 'gru_out', ['batch', 'frames', 2 * cfg.gruHidden]);
  const logits = g.scope('fc', () => g.scope(1, () => nn.linear(h, w.get('fc.1.weight'), w.get('fc.1.bias'))));
  if (opts.debugOutputs) g.output(logits, 'logits', ['batch', 'frames', cfg.nClass]);
  g.output(nn.sigmoid(logits), 'hidden', ['batch', 'frames', cfg.nClass]);
  return g;
}

interface BnParams { weight: Tensor<'float32'>; bias: Tensor<'float32'>; mean: Tensor<'float32'>; var: Tensor<'float32'> }

function bnParams(w: Weights, p: string): BnParams {
  return { weight: w.get(`${p}.weight`), bias: w.get(`${p}.bias`), mean: w.get(`${p}.running_mean`), var: w.get(`${p}.running_var`) };
}

/** Eval BatchNorm as y = x * scale + shift per channel, computed in float64. */
function bnAffine(bn: BnParams): { scale: Float64Array; shift: Float64Array } {
  const c = bn.mean.shape[0];
  const scale = new Float64Array(c), shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    scale[i] = bn.weight.data[i] / Math.sqrt(bn.var.data[i] + BN_EPS);
    shift[i] = bn.bias.data[i] - bn.mean.data[i] * scale[i];
  }
  return { scale, shift };
}

/** BN(conv(x)) for a bias-free Conv2d weight [out, in, kh, kw]: weight rows scaled per output channel, bias = shift. */
function foldBnIntoConv(weight: Tensor<'float32'>, bn: BnParams): [Tensor<'float32'>, Tensor<'float32'>] {
  const { scale, shift } = bnAffine(bn);
  const out = weight.shape[0], per = weight.data.length / out;
  const wd = new Float32Array(weight.data.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < per; i++) wd[o * per + i] = weight.data[o * per + i] * scale[o];
  return [tensor('float32', weight.shape, wd), tensor('float32', [out], Float32Array.from(shift))];
}

/** BN(convT(x)) for a bias-free ConvTranspose2d weight [in, out, kh, kw]: scaled per OUTPUT channel (axis 1). */
function foldBnIntoConvTranspose(weight: Tensor<'float32'>, bn: BnParams): [Tensor<'float32'>, Tensor<'float32'>] {
  const { scale, shift } = bnAffine(bn);
  const [cin, cout] = weight.shape;
  const per = weight.data.length / (cin * cout);
  const wd = new Float32Array(weight.data.length);
  for (let i = 0; i < cin; i++) {
    for (let o = 0; o < cout; o++) {
      const base = (i * cout + o) * per;
      for (let k = 0; k < per; k++) wd[base + k] = weight.data[base + k] * scale[o];
    }
  }
  return [tensor('float32', weight.shape, wd), tensor('float32', [cout], Float32Array.from(shift))];
}

/** n_blocks ConvBlockRes under `p` (= `<module>.conv` or `<module>.conv2`). */
function convBlocks(nn: Nn, w: Weights, p: string, x: Value, nBlocks: number): Value {
  const g = nn.g;
  const name = p.slice(p.lastIndexOf('.') + 1);
  return g.scope(name, () => {
    let h = x;
    for (let j = 0; j < nBlocks; j++) h = g.scope(j, () => convBlockRes(nn, w, `${p}.${j}`, h));
    return h;
  });
}

/** ConvBlockRes: relu(bn(conv3x3(relu(bn(conv3x3(x)))))) + (shortcut 1x1 conv when the width changes, else x). */
function convBlockRes(nn: Nn, w: Weights, p: string, x: Value): Value {
  const g = nn.g;
  const y = g.scope('conv', () => {
    const [w0, b0] = foldBnIntoConv(w.get(`${p}.conv.0.weight`), bnParams(w, `${p}.conv.1`));
    const h = nn.relu(nn.conv(x, w0, b0, { padding: 1 }, '0'));
    const [w3, b3] = foldBnIntoConv(w.get(`${p}.conv.3.weight`), bnParams(w, `${p}.conv.4`));
    return nn.relu(nn.conv(h, w3, b3, { padding: 1 }, '3'));
  });
  if (!w.has(`${p}.shortcut.weight`)) return nn.add(y, x);
  const sc = g.scope('shortcut', () => nn.conv(x, w.get(`${p}.shortcut.weight`), w.get(`${p}.shortcut.bias`)));
  return nn.add(y, sc);
}

/** PyTorch gate rows r | z | n reordered to ONNX's z | r | h (each block `H` rows of `cols`). */
function reorderGates(t: Tensor<'float32'>, H: number): Float32Array {
  const cols = t.data.length / (3 * H);
  const out = new Float32Array(t.data.length);
  const block = H * cols;
  out.set(t.data.subarray(block, 2 * block), 0); // z
  out.set(t.data.subarray(0, block), block); // r
  out.set(t.data.subarray(2 * block, 3 * block), 2 * block); // n
  return out;
}

/**
 * torch.nn.GRU(batch_first, bidirectional) as ONNX GRU layers (linear_before_reset = 1 is PyTorch's
 * n = tanh(W_n x + b_in + r * (U_n h + b_hn))); [B, T, F] -> [B, T, 2H] = [forward | backward].
 */
function biGru(nn: Nn, w: Weights, cfg: RmvpeConfig, x: Value): Value {
  const g = nn.g;
  const H = cfg.gruHidden;
  let seq = nn.transpose(x, [1, 0, 2]); // [T, B, F]
  for (let l = 0; l < cfg.nGru; l++) {
    seq = g.scope(`l${l}`, () => {
      const dirs = ['', '_reverse'].map((sfx) => ({
        wi: w.get(`fc.0.gru.weight_ih_l${l}${sfx}`), wh: w.get(`fc.0.gru.weight_hh_l${l}${sfx}`),
        bi: w.get(`fc.0.gru.bias_ih_l${l}${sfx}`), bh: w.get(`fc.0.gru.bias_hh_l${l}${sfx}`),
      }));
      const inSize = dirs[0].wi.shape[1];
      const W = new Float32Array(2 * 3 * H * inSize), R = new Float32Array(2 * 3 * H * H), B = new Float32Array(2 * 6 * H);
      dirs.forEach((d, i) => {
        W.set(reorderGates(d.wi, H), i * 3 * H * inSize);
        R.set(reorderGates(d.wh, H), i * 3 * H * H);
        B.set(reorderGates(d.bi, H), i * 6 * H);
        B.set(reorderGates(d.bh, H), i * 6 * H + 3 * H);
      });
      const y = g.op('GRU', [
        nn.f32(seq),
        nn.weight('W', tensor('float32', [2, 3 * H, inSize], W)),
        nn.weight('R', tensor('float32', [2, 3 * H, H], R)),
        nn.weight('B', tensor('float32', [2, 6 * H], B)),
      ], { direction: 'bidirectional', hidden_size: H, linear_before_reset: 1 }); // Y [T, 2, B, H]
      return nn.reshape(nn.transpose(y, [0, 2, 1, 3]), [0, 0, 2 * H]); // [T, B, 2H]
    });
  }
  return nn.transpose(seq, [1, 0, 2]);
}

/**
 * RMVPE's mel2hidden padding: the log-mel [B, C, T] (or an RmvpeMel [C, T]) ZERO-padded on the right
 * (0.0 in the log domain) to a multiple of 32 frames, as [B, C, T'].
 */
export function padMelForRmvpe(mel: Tensor<'float32'> | RmvpeMel): Tensor<'float32'> {
  const shape = 'shape' in mel ? mel.shape : [mel.nMels, mel.frames];
  if ((shape.length !== 2 && shape.length !== 3) || shape[shape.length - 1] < 1) {
    throw new InvalidInputError(`padMelForRmvpe: expected a mel [B, C, T] or [C, T] with T >= 1, got [${shape.join(', ')}]`);
  }
  const [b, c, t] = shape.length === 3 ? shape : [1, ...shape];
  const tp = RMVPE_FRAME_MULTIPLE * Math.ceil(t / RMVPE_FRAME_MULTIPLE);
  const src = mel.data as Float32Array;
  const out = new Float32Array(b * c * tp);
  for (let r = 0; r < b * c; r++) out.set(src.subarray(r * t, (r + 1) * t), r * tp);
  return tensor('float32', [b, c, tp], out);
}

/**
 * RMVPE.infer_from_audio: log-mel -> zero padding -> `run` (the E2E graph: padded mel -> hidden) -> crop to the
 * real frames -> salience decode. Returns F0 in Hz per 10 ms frame (0 = unvoiced), float64 as the reference.
 */
export async function rmvpeF0(run: (mel: Tensor<'float32'>) => Promise<Tensor>, audio16k: Signal, thred = 0.03): Promise<Float64Array> {
  const mel = rmvpeMel(audio16k);
  const padded = padMelForRmvpe(mel);
  const hidden = await run(padded);
  const bins = hidden.shape[hidden.shape.length - 1];
  if (hidden.dtype !== 'float32' || hidden.shape.length !== 3 || hidden.shape[1] !== padded.shape[2] || bins !== 360) {
    throw new InvalidInputError(`rmvpeF0: the network returned ${hidden.dtype} [${hidden.shape.join(', ')}], expected float32 [1, ${padded.shape[2]}, 360]`);
  }
  return decodeSalience((hidden.data as Float32Array).subarray(0, mel.frames * bins), thred);
}

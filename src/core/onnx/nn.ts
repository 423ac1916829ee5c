/**
 * Layer vocabulary for the network builders, on top of GraphBuilder. This is the one place where the
 * precision policy lives (torch.autocast-like):
 *  - MatMul / Gemm / Conv / ConvTranspose (the "autocast ops") run in the compute precision; in fp16 their
 *    weights are stored as fp16 initializers and their activations are cast in and back out;
 *  - everything else (norm statistics, softmax, exp/log/pow, reductions, embeddings, elementwise glue)
 *    stays fp32, as do the graph inputs and outputs.
 * Cast pairs that would undo each other between two autocast ops are elided by GraphBuilder.cast().
 *
 * Two more builder precisions exist for CPUs, which have no fp16 arithmetic but fast integer dot products:
 *  - 'fp16-storage': autocast weights are stored fp16 and cast to fp32 right before their op, so every op
 *    runs fp32 on fp16-rounded weights. The fp16 weights are overridable initializers (graph inputs with
 *    a default): ONNX Runtime would otherwise constant-fold each Cast when the session opens and keep
 *    fp32 copies resident (measured: the DiT's resident weights equal fp32's). Unfolded, each cast runs
 *    just before its consumer at inference and its fp32 copy is freed after it, so the weights stay
 *    resident at half the fp32 size; the price is speed (casts, and MatMuls without prepacked weights:
 *    DiT 1.15-1.9x the fp32 time as measured, README "Memory"). (A CPU session of a true fp16 graph holds fp32
 *    copies of all weights besides the fp16 ones: ~1.5x the fp32 build's memory.)
 *  - 'int8': Linear layers (every MatMul against a weight) run as DynamicQuantizeMatMul: int8 weights
 *    quantized per output channel (symmetric, scale = max|w| / 127) and the activations quantized per
 *    tensor at run time (uint8, asymmetric), accumulated in int32 on the CPU's int8 dot-product
 *    instructions (AVX-512 VNNI / AVX-VNNI), dequantized to fp32. Convolutions, attention products,
 *    norms, softmax and everything else stay fp32.
 */
import { type Tensor, numel, tensor, toFloat32 } from '../tensor.ts';
import { type Attr, type ElemType, type GraphBuilder, type Value } from './graph.ts';

export type Precision = 'fp32' | 'fp16' | 'fp16-storage' | 'int8';

/** The builder precisions, in the order they are documented. */
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'fp16-storage', 'int8'];

/** Op types that run in the compute precision under the fp16 policy. */
export const AUTOCAST_OPS: ReadonlySet<string> = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

export interface ConvOptions {
  stride?: number | readonly number[];
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
}

export class Nn {
  /** > 0 inside perItem(): Linear layers there stay fp32 under int8. */
  private perItemDepth = 0;

  constructor(readonly g: GraphBuilder, readonly precision: Precision = 'fp32') {}

  /**
   * Marks Linear layers applied once per item (timestep and style embeddings, adaptive-norm modulation)
   * rather than once per frame: they cost nothing, and quantizing the conditioning vectors that scale every
   * frame would cost accuracy, so int8 leaves them fp32.
   */
  perItem<T>(fn: () => T): T {
    this.perItemDepth++;
    try { return fn(); } finally { this.perItemDepth--; }
  }

  get computeType(): 'float32' | 'float16' { return this.precision === 'fp16' ? 'float16' : 'float32'; }
  /** Whether the graph does arithmetic in fp16 (only 'fp16'; the others compute in fp32 or int8). */
  get halfArithmetic(): boolean { return this.precision === 'fp16'; }

  scope<T>(name: string | number, fn: () => T): T { return this.g.scope(name, fn); }

  // ---- constants & casts ---------------------------------------------------------------------------

  scalar(v: number, like: Value | ElemType = 'float32'): Value { return this.g.scalar(v, like); }
  ints(v: readonly number[]): Value { return this.g.ints(v); }
  cast(x: Value, to: ElemType): Value { return this.g.cast(x, to); }
  f32(x: Value): Value { return this.g.cast(x, 'float32'); }

  /**
   * Stores a float weight for an autocast op (fp16 under the fp16 policy; fp16 cast to fp32 under
   * fp16-storage). Under fp16-storage, `after` (the activation the weight meets) orders the cast: the
   * weight passes through a Reshape to its own shape whose shape tensor is computed from `after`'s shape,
   * so ONNX Runtime runs the cast only once that activation exists, and its fp32 copy lives only while the
   * op runs. (Casts with no such dependency all run at the start of a run: every fp32 copy alive at once.)
   */
  computeWeight(name: string, t: Tensor, after?: Value): Value {
    if (this.precision !== 'fp16-storage') return this.g.weight(name, t, this.computeType);
    let w = this.g.overridableWeight(name, t, 'float16');
    if (after) w = this.g.op('Reshape', [w, this.g.op('Add', [this.g.constant(t.shape, 'int64'), this.zeroAfter(after)])], {}, { dtype: 'float16' });
    return this.g.cast(w, 'float32');
  }

  /** A [1] int64 zero computed from the shape of `x` (no data read): a scheduling dependency on x. */
  private zeroAfter(x: Value): Value {
    const key = x.name;
    let z = this.zeros.get(key);
    if (!z) {
      z = this.g.op('Mul', [this.shape(x, 0, 1), this.g.constant([0], 'int64')]);
      this.zeros.set(key, z);
    }
    return z;
  }
  private readonly zeros = new Map<string, Value>();
  /** Stores a float weight that always stays fp32 (norm scales, embeddings, biases added in fp32). */
  weight(name: string, t: Tensor): Value { return this.g.weight(name, t, 'float32'); }

  // ---- elementwise (fp32 glue) ---------------------------------------------------------------------

  add(a: Value, b: Value): Value { return this.g.op('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.g.op('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.g.op('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.g.op('Div', [a, b]); }
  pow(a: Value, b: Value): Value { return this.g.op('Pow', [a, b]); }
  neg(x: Value): Value { return this.g.op('Neg', [x]); }
  abs(x: Value): Value { return this.g.op('Abs', [x]); }
  sqrt(x: Value): Value { return this.g.op('Sqrt', [x]); }
  reciprocal(x: Value): Value { return this.g.op('Reciprocal', [x]); }
  exp(x: Value): Value { return this.g.op('Exp', [this.f32(x)]); }
  log(x: Value): Value { return this.g.op('Log', [this.f32(x)]); }
  sin(x: Value): Value { return this.g.op('Sin', [x]); }
  cos(x: Value): Value { return this.g.op('Cos', [x]); }
  tanh(x: Value): Value { return this.g.op('Tanh', [x]); }
  sigmoid(x: Value): Value { return this.g.op('Sigmoid', [x]); }
  relu(x: Value): Value { return this.g.op('Relu', [x]); }
  erf(x: Value): Value { return this.g.op('Erf', [x]); }
  floor(x: Value): Value { return this.g.op('Floor', [x]); }
  leakyRelu(x: Value, slope: number): Value { return this.g.op('LeakyRelu', [x], { alpha: { f: slope } }); }
  elu(x: Value, alpha = 1): Value { return this.g.op('Elu', [x], { alpha: { f: alpha } }); }
  softplus(x: Value): Value { return this.g.op('Softplus', [x]); }
  /** x * sigmoid(x) (torch SiLU); ORT fuses the pair. */
  silu(x: Value): Value { return this.mul(x, this.sigmoid(x)); }
  /** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); ORT fuses this pattern into its Gelu kernel. */
  gelu(x: Value): Value {
    const inner = this.erf(this.div(x, this.scalar(Math.SQRT2, x)));
    return this.mul(this.mul(x, this.scalar(0.5, x)), this.add(inner, this.scalar(1, x)));
  }
  /** Mish, x tanh(softplus(x)). */
  mish(x: Value): Value { return this.mul(x, this.tanh(this.softplus(x))); }
  clip(x: Value, min?: number, max?: number): Value {
    return this.g.op('Clip', [x, min === undefined ? null : this.scalar(min, x), max === undefined ? null : this.scalar(max, x)]);
  }
  where(cond: Value, a: Value, b: Value): Value { return this.g.op('Where', [cond, a, b], {}, { dtype: a.dtype }); }
  less(a: Value, b: Value): Value { return this.g.op('Less', [a, b], {}, { dtype: 'bool' }); }
  greater(a: Value, b: Value): Value { return this.g.op('Greater', [a, b], {}, { dtype: 'bool' }); }
  equal(a: Value, b: Value): Value { return this.g.op('Equal', [a, b], {}, { dtype: 'bool' }); }

  // ---- shapes --------------------------------------------------------------------------------------

  shape(x: Value, start?: number, end?: number): Value {
    const attrs: Record<string, Attr> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.g.op('Shape', [x], attrs, { dtype: 'int64' });
  }
  /** Dimension `axis` of x as a 1-element int64 tensor. */
  dim(x: Value, axis: number): Value { return this.shape(x, axis, axis === -1 ? undefined : axis + 1); }
  reshape(x: Value, shape: readonly number[] | Value): Value {
    const s = Array.isArray(shape) ? this.ints(shape as number[]) : (shape as Value);
    return this.shapeOp(x, (v) => this.g.op('Reshape', [v, s]));
  }
  transpose(x: Value, perm: readonly number[]): Value { return this.shapeOp(x, (v) => this.g.op('Transpose', [v], { perm })); }
  concat(xs: readonly Value[], axis: number): Value {
    if (xs.length === 1) return xs[0];
    const sources = xs.map((x) => this.g.castSourceOf(x));
    if (sources.every((v) => v !== undefined)) return this.f32(this.g.op('Concat', sources as Value[], { axis }));
    return this.g.op('Concat', xs, { axis });
  }
  unsqueeze(x: Value, axes: readonly number[]): Value { return this.shapeOp(x, (v) => this.g.op('Unsqueeze', [v, this.ints(axes)])); }
  squeeze(x: Value, axes: readonly number[]): Value { return this.shapeOp(x, (v) => this.g.op('Squeeze', [v, this.ints(axes)])); }
  slice(x: Value, starts: readonly number[] | Value, ends: readonly number[] | Value, axes: readonly number[], steps?: readonly number[]): Value {
    const s = Array.isArray(starts) ? this.ints(starts as number[]) : (starts as Value);
    const e = Array.isArray(ends) ? this.ints(ends as number[]) : (ends as Value);
    // No empty trailing `steps` input: onnxruntime-web's WebGPU Slice rejects a missing optional input.
    return this.shapeOp(x, (v) => this.g.op('Slice', steps ? [v, s, e, this.ints(axes), this.ints(steps)] : [v, s, e, this.ints(axes)]));
  }
  /** Splits along `axis` into pieces of the given sizes. */
  split(x: Value, sizes: readonly number[], axis: number): Value[] {
    const src = this.g.castSourceOf(x);
    const outs = this.g.node('Split', [src ?? x, this.ints(sizes)], { axis }, { outputs: sizes.length });
    return src ? outs.map((o) => this.f32(o)) : outs;
  }

  /**
   * Runs a shape-only op on the fp16 original of `x` when `x` is just its fp32 cast, and casts after:
   * the cast then meets the next autocast op's cast back to fp16 and both disappear.
   */
  private shapeOp(x: Value, op: (v: Value) => Value): Value {
    const src = this.g.castSourceOf(x);
    return src ? this.f32(op(src)) : op(x);
  }
  gather(x: Value, indices: Value, axis = 0): Value { return this.g.op('Gather', [x, indices], { axis }, { dtype: x.dtype }); }
  expand(x: Value, shape: Value): Value { return this.g.op('Expand', [x, shape]); }
  pad(x: Value, pads: readonly number[], mode: 'constant' | 'reflect' | 'edge' = 'constant', value = 0): Value {
    const inputs = [x, this.ints(pads)];
    if (mode === 'constant' && value !== 0) inputs.push(this.scalar(value, x));
    return this.g.op('Pad', inputs, { mode });
  }
  /** int64 range [start, limit) with step, from 0-d int64 tensors. */
  range(start: Value, limit: Value, delta: Value): Value { return this.g.op('Range', [start, limit, delta]); }

  // ---- reductions & normalisation (fp32) -------------------------------------------------------------

  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.g.op('ReduceMean', [this.f32(x)], { axes, keepdims: keepdims ? 1 : 0 });
  }
  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.g.op('ReduceSum', [this.f32(x), this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMax(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.g.op('ReduceMax', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }
  softmax(x: Value, axis = -1): Value { return this.g.op('Softmax', [this.f32(x)], { axis }); }

  /** LayerNormalization over the last axis; scale/bias optional (elementwise_affine=False). */
  layerNorm(x: Value, eps: number, scale?: Tensor, bias?: Tensor, names: [string, string] = ['weight', 'bias']): Value {
    const hidden = scale?.shape[0] ?? bias?.shape[0];
    let s: Value;
    if (scale) s = this.weight(names[0], scale);
    else if (hidden !== undefined) s = this.g.constant(new Array(hidden).fill(1), 'float32', [hidden]);
    else return this.layerNormNoAffine(x, eps);
    const b = bias ? this.weight(names[1], bias) : null;
    return this.g.op('LayerNormalization', [this.f32(x), s, b], { axis: -1, epsilon: { f: eps } });
  }

  /** LayerNorm without affine parameters and unknown width: (x - mean) / sqrt(var + eps) over the last axis. */
  layerNormNoAffine(x: Value, eps: number): Value {
    const xf = this.f32(x);
    const mean = this.reduceMean(xf, [-1]);
    const d = this.sub(xf, mean);
    const v = this.reduceMean(this.mul(d, d), [-1]);
    return this.div(d, this.sqrt(this.add(v, this.scalar(eps))));
  }

  /** RMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight. */
  rmsNorm(x: Value, eps: number, weight?: Value): Value {
    const xf = this.f32(x);
    // Pow(x, 2) -> ReduceMean -> Add -> Sqrt -> Div is the pattern ORT fuses into one RMSNorm kernel.
    const ms = this.reduceMean(this.pow(xf, this.scalar(2)), [-1]);
    const y = this.div(xf, this.sqrt(this.add(ms, this.scalar(eps))));
    return weight ? this.mul(y, weight) : y;
  }

  /** GroupNorm over [B, C, ...] with `groups` groups and per-channel affine (statistics in fp32). */
  groupNorm(x: Value, groups: number, eps: number, weight: Tensor, bias: Tensor): Value {
    const c = weight.shape[0];
    const xf = this.f32(x);
    const grouped = this.reshape(xf, [0, groups, -1]);
    const mean = this.reduceMean(grouped, [2]);
    const d = this.sub(grouped, mean);
    const v = this.reduceMean(this.mul(d, d), [2]);
    const normed = this.reshape(this.div(d, this.sqrt(this.add(v, this.scalar(eps)))), this.shape(xf));
    const w = this.weight('weight', reshapeTensor(weight, [c, 1]));
    const b = this.weight('bias', reshapeTensor(bias, [c, 1]));
    return this.add(this.mul(normed, w), b);
  }

  /** Eval-mode BatchNorm folded into a per-channel scale and shift (channel axis 1, `rank` dims in all). */
  batchNorm(x: Value, p: { weight?: Tensor; bias?: Tensor; mean: Tensor; var: Tensor }, eps: number, rank: number): Value {
    const c = p.mean.shape[0];
    const mean = toFloat32(p.mean).data, variance = toFloat32(p.var).data;
    const w = p.weight ? toFloat32(p.weight).data : undefined, b = p.bias ? toFloat32(p.bias).data : undefined;
    const scale = new Float32Array(c), shift = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      const s = (w ? w[i] : 1) / Math.sqrt(variance[i] + eps);
      scale[i] = s;
      shift[i] = (b ? b[i] : 0) - mean[i] * s;
    }
    const shape = [c, ...new Array(rank - 2).fill(1)];
    const sv = this.weight('bn_scale', tensor('float32', shape, scale));
    const bv = this.weight('bn_shift', tensor('float32', shape, shift));
    return this.add(this.mul(this.f32(x), sv), bv);
  }

  // ---- autocast ops --------------------------------------------------------------------------------

  /** MatMul of two activations in the compute precision; result fp32. */
  matmul(a: Value, b: Value): Value {
    const t = this.computeType;
    return this.f32(this.g.op('MatMul', [this.cast(a, t), this.cast(b, t)]));
  }

  /**
   * torch.nn.Linear: y = x W^T + b with W stored [out, in] in the checkpoint. The weight is transposed
   * once at build time so the graph runs a plain MatMul; the bias add stays inside the fp16 island
   * (as under autocast) and the result returns to fp32.
   */
  linear(x: Value, weight: Tensor, bias?: Tensor | null, name = ''): Value {
    const [out, inp] = weight.shape;
    const wT = transpose2d(toFloat32(weight), out, inp);
    const prefix = name ? `${name}.` : '';
    if (this.precision === 'int8' && this.perItemDepth === 0) {
      const { q, scale } = quantizeColumnsInt8(wT);
      const inputs = [this.f32(x), this.g.weight(`${prefix}weight_int8`, q, 'int8'), this.g.weight(`${prefix}weight_scale`, scale), null];
      if (bias) inputs.push(this.weight(`${prefix}bias`, bias));
      return this.g.op('DynamicQuantizeMatMul', inputs, {}, { domain: 'com.microsoft', dtype: 'float32' });
    }
    const t = this.computeType;
    const xc = this.cast(x, t);
    let y = this.g.op('MatMul', [xc, this.computeWeight(`${prefix}weight`, wT, xc)]);
    if (bias) y = this.g.op('Add', [y, this.computeWeight(`${prefix}bias`, bias)]);
    return this.f32(y);
  }

  /**
   * Several bias-free Linear layers over the same input (q/k/v, or the two SwiGLU branches). fp32/fp16 run
   * them as separate MatMuls (no Split copy); int8 runs one DynamicQuantizeMatMul over the concatenated
   * weights, so the input is quantized once, then splits the result.
   */
  linears(x: Value, weights: readonly Tensor[], names: readonly string[]): Value[] {
    if (this.precision !== 'int8' || this.perItemDepth > 0) return weights.map((w, i) => this.linear(x, w, null, names[i]));
    const inp = weights[0].shape[1];
    const outs = weights.map((w) => w.shape[0]);
    const all = new Float32Array(outs.reduce((a, b) => a + b, 0) * inp);
    let o = 0;
    for (const w of weights) { all.set(toFloat32(w).data, o); o += w.data.length; }
    const y = this.linear(x, tensor('float32', [all.length / inp, inp], all), null, names.join('_'));
    return this.split(y, outs, -1);
  }

  /** N-d convolution (Conv1d/2d) with PyTorch semantics: zero padding, weight [out, in/groups, ...k]. */
  conv(x: Value, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions = {}, name = ''): Value {
    return this.convLike('Conv', x, weight, bias, opts, name);
  }

  /** Transposed convolution with PyTorch semantics: weight [in, out/groups, ...k], padding crops both ends. */
  convTranspose(x: Value, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions & { outputPadding?: number | readonly number[] } = {}, name = ''): Value {
    return this.convLike('ConvTranspose', x, weight, bias, opts, name);
  }

  private convLike(op: 'Conv' | 'ConvTranspose', x: Value, weight: Tensor, bias: Tensor | null | undefined, opts: ConvOptions & { outputPadding?: number | readonly number[] }, name: string): Value {
    const k = weight.shape.length - 2;
    const prefix = name ? `${name}.` : '';
    const pads = expand(opts.padding ?? 0, k);
    const t = this.computeType;
    const xc = this.cast(x, t);
    const inputs = [xc, this.computeWeight(`${prefix}weight`, weight, xc)];
    if (bias) inputs.push(this.computeWeight(`${prefix}bias`, bias));
    const attrs: Record<string, Attr> = {
      kernel_shape: weight.shape.slice(2),
      strides: expand(opts.stride ?? 1, k),
      dilations: expand(opts.dilation ?? 1, k),
      pads: [...pads, ...pads],
      group: opts.groups ?? 1,
    };
    if (opts.outputPadding) attrs.output_padding = expand(opts.outputPadding, k);
    return this.f32(this.g.op(op, inputs, attrs));
  }
}

function expand(v: number | readonly number[], k: number): number[] {
  return typeof v === 'number' ? new Array(k).fill(v) : [...v];
}

/** [rows, cols] -> [cols, rows] copy. */
export function transpose2d(t: Tensor<'float32'>, rows: number, cols: number): Tensor<'float32'> {
  const src = t.data;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return tensor('float32', [cols, rows], out);
}

/**
 * Symmetric per-column int8 quantization of a [K, N] weight: q = round(w / s_n), s_n = max_k |w_kn| / 127
 * (an all-zero column gets scale 1). Returns q [K, N] and s [N].
 */
export function quantizeColumnsInt8(w: Tensor<'float32'>): { q: Tensor<'int8'>; scale: Tensor<'float32'> } {
  const [K, N] = w.shape;
  const peak = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) { const a = Math.abs(w.data[row + n]); if (a > peak[n]) peak[n] = a; }
  }
  const scale = new Float32Array(N);
  for (let n = 0; n < N; n++) scale[n] = peak[n] > 0 ? peak[n] / 127 : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    const row = k * N;
    for (let n = 0; n < N; n++) q[row + n] = Math.max(-127, Math.min(127, Math.round(w.data[row + n] / scale[n])));
  }
  return { q: tensor('int8', [K, N], q), scale: tensor('float32', [N], scale) };
}

/** Same data, new shape (element counts must agree). */
export function reshapeTensor<T extends Tensor>(t: T, shape: readonly number[]): T {
  if (numel(shape) !== t.data.length) throw new Error(`reshape: [${t.shape}] -> [${shape}] changes the element count`);
  return { ...t, shape: [...shape] };
}

/**
 * A small typed ONNX graph builder. Values carry their element type, so the precision policy
 * (see precision.ts) can insert casts where fp16 islands begin and end; node names follow the
 * reference module paths through `scope()` (e.g. `estimator.transformer.layers.3.attention/MatMul_2`),
 * so a profile or an ORT error points at the PyTorch module it came from.
 */
import { type Tensor, float32ArrayToFloat16, toFloat32 } from '../tensor.ts';
import {
  type AttrValue, type NodeSpec, type OnnxDType, type TensorProtoSpec, type ValueInfoSpec, encodeModel,
} from './proto.ts';

export type ElemType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';
export type Dim = number | string;

/** A tensor flowing through the graph: its ONNX name and element type. */
export interface Value {
  readonly name: string;
  readonly dtype: ElemType;
}

/** Attribute values: integers, `{ f }` for a float, strings, int lists, `{ floats }`, `{ tensor }`. */
export type Attr = number | string | readonly number[] | { f: number } | { floats: readonly number[] } | { tensor: TensorProtoSpec };

export interface NodeOptions {
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Element type of the outputs when it is not the first input's. */
  dtype?: ElemType;
  /** Operator domain: '' (ai.onnx, default) or 'com.microsoft'. */
  domain?: string;
}

export interface NodeSummary {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** null for an omitted optional input. */
  inputTypes: (ElemType | null)[];
  outputTypes: ElemType[];
}

export const OPSET = 17;
const IR_VERSION = 8;

export interface ModelMeta { [key: string]: string }

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly inits: TensorProtoSpec[] = [];
  private readonly inputs: ValueInfoSpec[] = [];
  private readonly outputs: ValueInfoSpec[] = [];
  private readonly names = new Set<string>();
  private readonly opCounters = new Map<string, number>();
  private readonly scopes: string[] = [];
  private readonly domains = new Set<string>();
  /** Memo of constants by value, so repeated shape tensors and scalars are stored once. */
  private readonly constMemo = new Map<string, Value>();
  /** Casts already emitted, keyed "value->dtype", and the reverse link of each cast's output. */
  private readonly castMemo = new Map<string, Value>();
  private readonly castSource = new Map<string, Value>();
  /** Element type of every value (inputs, initializers, node outputs). */
  private readonly valueTypes = new Map<string, ElemType>();
  /** Shape hints emitted as value_info (they spare ORT's session set-up from inferring symbolic shapes). */
  private readonly hints: ValueInfoSpec[] = [];
  /** Total bytes of initializers, reported in the model metadata. */
  weightBytes = 0;

  constructor(readonly graphName: string) {}

  // ---- naming -----------------------------------------------------------------------------------

  /** Runs `fn` with `name` appended to the module path used for node and initializer names. */
  scope<T>(name: string | number, fn: () => T): T {
    this.scopes.push(String(name));
    try { return fn(); } finally { this.scopes.pop(); }
  }

  get path(): string { return this.scopes.join('.'); }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  private nodeName(op: string): string {
    const p = this.path;
    const key = `${p}/${op}`;
    const n = this.opCounters.get(key) ?? 0;
    this.opCounters.set(key, n + 1);
    return (p ? `${p}/` : '') + (n ? `${op}_${n}` : op);
  }

  // ---- graph interface --------------------------------------------------------------------------

  input(name: string, dtype: ElemType, shape: readonly Dim[]): Value {
    if (this.names.has(name)) throw new Error(`graph input '${name}' defined twice`);
    this.names.add(name);
    this.inputs.push({ name, dtype, shape });
    this.valueTypes.set(name, dtype);
    return { name, dtype };
  }

  /** Declares `v` as a graph output called `name` (an Identity node renames it when needed). */
  output(v: Value, name: string, shape?: readonly Dim[]): void {
    let out = v;
    if (v.name !== name) {
      if (this.names.has(name)) throw new Error(`graph output name '${name}' is already used`);
      this.names.add(name);
      this.nodes.push({ opType: 'Identity', name: `output/${name}`, inputs: [v.name], outputs: [name] });
      this.valueTypes.set(name, v.dtype);
      out = { name, dtype: v.dtype };
    }
    this.outputs.push({ name: out.name, dtype: out.dtype, shape });
  }

  /** Stores a weight tensor as an initializer, in `dtype` (float32 by default, float16 for autocast weights, int8 quantized). */
  weight(name: string, t: Tensor, dtype: 'float32' | 'float16' | 'int64' | 'int8' = t.dtype === 'int64' || t.dtype === 'int8' ? t.dtype : 'float32'): Value {
    const full = this.unique(this.path ? `${this.path}.${name}` : name);
    let raw: Uint8Array;
    if (dtype === 'int64' || dtype === 'int8') {
      if (t.dtype !== dtype) throw new Error(`weight ${full}: ${dtype} requested for a ${t.dtype} tensor`);
      raw = bytesOf(t.data);
    } else {
      const f = toFloat32(t).data;
      raw = dtype === 'float16' ? bytesOf(float32ArrayToFloat16(f)) : bytesOf(f);
    }
    this.inits.push({ name: full, dtype, dims: t.shape, raw });
    this.valueTypes.set(full, dtype);
    this.weightBytes += raw.length;
    return { name: full, dtype };
  }

  /**
   * A weight that is also declared as a graph input with the initializer as its default (an ONNX
   * "overridable initializer"). ONNX Runtime never constant-folds what consumes such a value, so a Cast
   * of it runs at inference time instead of leaving a converted copy resident (fp16-storage keeps its
   * weights fp16 in memory this way). Callers never feed it.
   */
  overridableWeight(name: string, t: Tensor, dtype: 'float32' | 'float16' | 'int8'): Value {
    const v = this.weight(name, t, dtype);
    this.inputs.push({ name: v.name, dtype, shape: t.shape });
    return v;
  }

  /** A constant (initializer) from plain numbers; memoised by value. */
  constant(values: readonly number[] | Float32Array | BigInt64Array, dtype: ElemType, dims: readonly number[] = [values.length]): Value {
    const small = values.length <= 64;
    const key = small ? `${dtype}|${dims.join(',')}|${Array.from(values as ArrayLike<number | bigint>).join(',')}` : '';
    if (small) {
      const hit = this.constMemo.get(key);
      if (hit) return hit;
    }
    const name = this.unique(`const_${dtype}_${this.inits.length}`);
    let raw: Uint8Array;
    switch (dtype) {
      case 'float32': raw = bytesOf(Float32Array.from(values as ArrayLike<number>)); break;
      case 'float16': raw = bytesOf(float32ArrayToFloat16(Float32Array.from(values as ArrayLike<number>))); break;
      case 'float64': raw = bytesOf(Float64Array.from(values as ArrayLike<number>)); break;
      case 'int64': raw = bytesOf(values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values as ArrayLike<number>, (v) => BigInt(v)))); break;
      case 'int32': raw = bytesOf(Int32Array.from(values as ArrayLike<number>)); break;
      case 'bool': case 'uint8': raw = Uint8Array.from(values as ArrayLike<number>); break;
      case 'int8': raw = bytesOf(Int8Array.from(values as ArrayLike<number>)); break;
    }
    this.inits.push({ name, dtype, dims, raw });
    this.valueTypes.set(name, dtype);
    const v = { name, dtype };
    if (small) this.constMemo.set(key, v);
    return v;
  }

  /** Scalar constant of the same element type as `like`. */
  scalar(value: number, like: Value | ElemType = 'float32'): Value {
    return this.constant([value], typeof like === 'string' ? like : like.dtype, []);
  }

  /** 1-D int64 constant (shapes, axes, starts/ends). */
  ints(values: readonly number[]): Value {
    return this.constant(values, 'int64', [values.length]);
  }

  /** Emits one node; returns its outputs. */
  node(opType: string, inputs: readonly (Value | null)[], attrs: Readonly<Record<string, Attr>> = {}, opts: NodeOptions = {}): Value[] {
    const name = this.nodeName(opType);
    const count = opts.outputs ?? 1;
    const dtype = opts.dtype ?? inputs.find((v): v is Value => v !== null)?.dtype ?? 'float32';
    const outs: Value[] = [];
    for (let i = 0; i < count; i++) {
      const out = { name: this.unique(count === 1 ? name : `${name}:${i}`), dtype };
      this.valueTypes.set(out.name, dtype);
      outs.push(out);
    }
    const attributes: Record<string, AttrValue> = {};
    for (const [k, a] of Object.entries(attrs)) attributes[k] = toAttr(a);
    if (opts.domain) this.domains.add(opts.domain);
    this.nodes.push({
      opType, name, domain: opts.domain,
      inputs: inputs.map((v) => (v ? v.name : '')),
      outputs: outs.map((v) => v.name),
      attributes,
    });
    return outs;
  }

  /** Single-output node. */
  op(opType: string, inputs: readonly (Value | null)[], attrs?: Readonly<Record<string, Attr>>, opts?: NodeOptions): Value {
    return this.node(opType, inputs, attrs, opts)[0];
  }

  /** Casts `v` to `dtype`, reusing earlier casts, and undoing a cast instead of stacking a second one. */
  cast(v: Value, dtype: ElemType): Value {
    if (v.dtype === dtype) return v;
    const src = this.castSource.get(v.name);
    if (src && src.dtype === dtype) return src; // x -> Cast(f32) -> Cast(f16) == x
    const key = `${v.name}->${dtype}`;
    const hit = this.castMemo.get(key);
    if (hit) return hit;
    const out = this.op('Cast', [v], { to: ONNX_DTYPE_CODE[dtype] }, { dtype });
    this.castMemo.set(key, out);
    // Only widening casts can be undone exactly (f16 -> f32 -> f16 is the identity).
    if (v.dtype === 'float16' && dtype === 'float32') this.castSource.set(out.name, v);
    return out;
  }

  /** The fp16 value `v` is an exact fp32 copy of, if any (for moving casts past shape-only ops). */
  castSourceOf(v: Value): Value | undefined { return this.castSource.get(v.name); }

  /** Declares the shape of an intermediate value (symbolic dims as strings). */
  hint(v: Value, shape: readonly Dim[]): Value {
    this.hints.push({ name: v.name, dtype: v.dtype, shape });
    return v;
  }

  get nodeCount(): number { return this.nodes.length; }
  /** Names of the graph inputs, overridable weights included. */
  get inputNames(): readonly string[] { return this.inputs.map((i) => i.name); }

  /** Serialises the graph as an ONNX model. */
  toOnnx(meta: ModelMeta = {}): Uint8Array {
    const opsets = [{ domain: '', version: OPSET }];
    if (this.domains.has('com.microsoft')) opsets.push({ domain: 'com.microsoft', version: 1 });
    return encodeModel({
      irVersion: IR_VERSION,
      opsets,
      producerName: 'seed-vc',
      producerVersion: '0.1.0',
      graph: { name: this.graphName, nodes: this.nodes, initializers: this.inits, inputs: this.inputs, outputs: this.outputs, valueInfo: this.hints },
      metadata: meta,
    });
  }

  /** Every node with the element types of its inputs and outputs (the precision-policy tests read this). */
  summary(): NodeSummary[] {
    const t = (n: string) => (n ? this.valueTypes.get(n) ?? 'float32' : null);
    return this.nodes.map((n) => ({
      opType: n.opType, name: n.name, inputs: n.inputs, outputs: n.outputs,
      inputTypes: n.inputs.map(t), outputTypes: n.outputs.map((o) => t(o)!),
    }));
  }

  /** Element type of every named value (inputs, initializers, node outputs). */
  dtypes(): Map<string, ElemType> {
    return new Map(this.valueTypes);
  }
}

const ONNX_DTYPE_CODE: Record<ElemType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11,
};

function toAttr(a: Attr): AttrValue {
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`attribute ${a}: use { f: ${a} } for a float attribute`);
    return { type: 'int', value: a };
  }
  if (typeof a === 'string') return { type: 'string', value: a };
  if (Array.isArray(a)) return { type: 'ints', value: a as number[] };
  if ('f' in (a as object)) return { type: 'float', value: (a as { f: number }).f };
  if ('floats' in (a as object)) return { type: 'floats', value: (a as { floats: number[] }).floats };
  return { type: 'tensor', value: (a as { tensor: TensorProtoSpec }).tensor };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export type { OnnxDType };

/**
 * A minimal protobuf encoder for the part of the ONNX schema we emit (onnx.proto3: ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto). Messages are built as lists of byte chunks so that
 * large initializer payloads are referenced, not copied, until the single final concatenation.
 */

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
  float16: 10, float64: 11, uint32: 12, uint64: 13, bfloat16: 16,
} as const;
export type OnnxDType = keyof typeof ONNX_DTYPE;

export type AttrValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'ints'; value: readonly (number | bigint)[] }
  | { type: 'tensor'; value: TensorProtoSpec }
  | { type: 'graph'; value: GraphProtoSpec };

export interface TensorProtoSpec {
  name: string;
  dtype: OnnxDType;
  dims: readonly number[];
  /** Little-endian element bytes, exactly numel * width. */
  raw: Uint8Array;
}

export interface ValueInfoSpec {
  name: string;
  dtype: OnnxDType;
  /** Omit for an unknown shape; a string is a symbolic dimension. */
  shape?: readonly (number | string)[];
}

export interface NodeSpec {
  opType: string;
  domain?: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttrValue>>;
}

export interface GraphProtoSpec {
  name: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorProtoSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
  /** Shapes of intermediate values (GraphProto.value_info). */
  valueInfo?: readonly ValueInfoSpec[];
}

export interface ModelProtoSpec {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProtoSpec;
  metadata?: Readonly<Record<string, string>>;
}

// ---- wire format -----------------------------------------------------------------------------

type Chunk = Uint8Array;

class Message {
  readonly chunks: Chunk[] = [];
  size = 0;
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length) {
      const c = Uint8Array.from(this.scratch);
      this.chunks.push(c);
      this.size += c.length;
      this.scratch = [];
    }
  }

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      let n = v;
      while (n > 0x7f) { this.scratch.push((n & 0x7f) | 0x80); n >>>= 7; }
      this.scratch.push(n);
      return;
    }
    while (x > 0x7fn) { this.scratch.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.scratch.push(Number(x));
  }

  private key(field: number, wire: number): void { this.varint((field << 3) | wire); }

  int(field: number, v: number | bigint): this { this.key(field, 0); this.varint(v); return this; }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.varint(data.length);
    if (data.length < 64) { for (const x of data) this.scratch.push(x); return this; }
    this.flushScratch();
    this.chunks.push(data);
    this.size += data.length;
    return this;
  }

  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }

  message(field: number, m: Message): this {
    m.flushScratch();
    this.key(field, 2);
    this.varint(m.size);
    this.flushScratch();
    this.chunks.push(...m.chunks);
    this.size += m.size;
    return this;
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new Message();
    for (const v of values) inner.varint(v);
    return this.message(field, inner);
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) { out.set(c, p); p += c.length; }
    return out;
  }
}

// ---- ONNX messages ---------------------------------------------------------------------------

function tensorProto(t: TensorProtoSpec): Message {
  const m = new Message();
  if (t.dims.length) m.packedInts(1, t.dims);
  m.int(2, ONNX_DTYPE[t.dtype]);
  m.string(8, t.name);
  m.bytes(9, t.raw);
  return m;
}

function valueInfo(v: ValueInfoSpec): Message {
  const tensorType = new Message().int(1, ONNX_DTYPE[v.dtype]);
  if (v.shape) {
    const shape = new Message();
    for (const d of v.shape) {
      const dim = new Message();
      if (typeof d === 'number') dim.int(1, d); else dim.string(2, d);
      shape.message(1, dim);
    }
    tensorType.message(2, shape);
  }
  const type = new Message().message(1, tensorType);
  return new Message().string(1, v.name).message(2, type);
}

function attribute(name: string, a: AttrValue): Message {
  const m = new Message().string(1, name);
  switch (a.type) {
    case 'float': m.float(2, a.value).int(20, 1); break;
    case 'int': m.int(3, a.value).int(20, 2); break;
    case 'string': m.string(4, a.value).int(20, 3); break;
    case 'tensor': m.message(5, tensorProto(a.value)).int(20, 4); break;
    case 'graph': m.message(6, graphProto(a.value)).int(20, 5); break;
    case 'floats': for (const f of a.value) m.float(7, f); m.int(20, 6); break;
    case 'ints': m.packedInts(8, a.value).int(20, 7); break;
  }
  return m;
}

function nodeProto(n: NodeSpec): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name);
  m.string(4, n.opType);
  if (n.attributes) for (const [k, v] of Object.entries(n.attributes)) m.message(5, attribute(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

function graphProto(g: GraphProtoSpec): Message {
  const m = new Message();
  for (const n of g.nodes) m.message(1, nodeProto(n));
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, tensorProto(t));
  for (const i of g.inputs) m.message(11, valueInfo(i));
  for (const o of g.outputs) m.message(12, valueInfo(o));
  for (const v of g.valueInfo ?? []) m.message(13, valueInfo(v));
  return m;
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelProtoSpec): Uint8Array {
  const m = new Message();
  m.int(1, model.irVersion);
  m.string(2, model.producerName);
  m.string(3, model.producerVersion);
  m.message(7, graphProto(model.graph));
  for (const o of model.opsets) {
    const op = new Message();
    if (o.domain) op.string(1, o.domain);
    op.int(2, o.version);
    m.message(8, op);
  }
  for (const [k, v] of Object.entries(model.metadata ?? {})) {
    m.message(14, new Message().string(1, k).string(2, v));
  }
  return m.finish();
}

/**
 * The one tensor type of the runtime-free core: a dtype, a shape and a flat, C-contiguous typed array.
 * Half-precision values (float16, bfloat16) are kept as their raw 16-bit patterns in a Uint16Array,
 * because Node 20 has no Float16Array.
 */

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TypedArrayFor<D extends DType> =
  D extends 'float32' ? Float32Array :
  D extends 'float64' ? Float64Array :
  D extends 'float16' | 'bfloat16' ? Uint16Array :
  D extends 'int64' ? BigInt64Array :
  D extends 'int32' ? Int32Array :
  D extends 'int16' ? Int16Array :
  D extends 'int8' ? Int8Array :
  Uint8Array;

export type AnyTypedArray =
  | Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayFor<D>;
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: TypedArrayFor<D>): Tensor<D> {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: shape [${shape.join(', ')}] needs ${numel(shape)} values, got ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

export function f32(shape: readonly number[], data?: Float32Array | ArrayLike<number>): Tensor<'float32'> {
  const arr = data instanceof Float32Array ? data : data ? Float32Array.from(data) : new Float32Array(numel(shape));
  return tensor('float32', shape, arr);
}

/** Frames [from, to) of a channel-major [1, C, T] float tensor, as [1, C, to - from]. */
export function sliceFrames(t: Tensor<'float32'>, from: number, to: number): Tensor<'float32'> {
  const [, c, frames] = t.shape, n = to - from;
  const out = new Float32Array(c * n);
  for (let ch = 0; ch < c; ch++) out.set(t.data.subarray(ch * frames + from, ch * frames + to), ch * n);
  return tensor('float32', [1, c, n], out);
}

/** Allocates a typed array of `n` elements for a dtype. */
export function allocate<D extends DType>(dtype: D, n: number): TypedArrayFor<D> {
  switch (dtype) {
    case 'float32': return new Float32Array(n) as TypedArrayFor<D>;
    case 'float64': return new Float64Array(n) as TypedArrayFor<D>;
    case 'float16': case 'bfloat16': return new Uint16Array(n) as TypedArrayFor<D>;
    case 'int64': return new BigInt64Array(n) as TypedArrayFor<D>;
    case 'int32': return new Int32Array(n) as TypedArrayFor<D>;
    case 'int16': return new Int16Array(n) as TypedArrayFor<D>;
    case 'int8': return new Int8Array(n) as TypedArrayFor<D>;
    default: return new Uint8Array(n) as TypedArrayFor<D>;
  }
}

// ---- half precision ------------------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 -> IEEE binary16 bits, round to nearest even (what torch's .half() does). */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // may carry into the exponent: still correct
  return sign | half;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bfloat16BitsToFloat32(h: number): number {
  u32Scratch[0] = h << 16;
  return f32Scratch[0];
}

let f16Table: Float32Array | undefined;
/** Decodes a buffer of binary16 bits with a 64K lookup table. */
export function float16ArrayToFloat32(bits: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = float16BitsToFloat32(i);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16Table[bits[i]];
  return out;
}

export function float32ArrayToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]);
  return out;
}

/** Any numeric tensor as float32 values (copying unless it already is float32). */
export function toFloat32(t: Tensor): Tensor<'float32'> {
  if (t.dtype === 'float32') return t as Tensor<'float32'>;
  const n = t.data.length;
  let out: Float32Array;
  switch (t.dtype) {
    case 'float16': out = float16ArrayToFloat32(t.data as Uint16Array); break;
    case 'bfloat16': {
      const src = t.data as Uint16Array;
      const u = new Uint32Array(n);
      for (let i = 0; i < n; i++) u[i] = src[i] << 16;
      out = new Float32Array(u.buffer);
      break;
    }
    case 'int64': {
      const src = t.data as BigInt64Array;
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      break;
    }
    default: out = Float32Array.from(t.data as ArrayLike<number>);
  }
  return tensor('float32', t.shape, out);
}

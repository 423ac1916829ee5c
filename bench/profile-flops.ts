/**
 * FLOPs (2 x multiply-accumulates) actually executed by an ONNX Runtime session, read from its profile
 * (SessionOptions.profilePrefix): every node event carries the op type and the shapes of its inputs and
 * outputs, after ORT's fusions. Counted: matrix products (MatMul, FusedMatMul, Gemm, the integer and
 * n-bit variants), convolutions (Conv, FusedConv, NCHWc), transposed convolutions and fused attention;
 * elementwise work is not counted, as a roofline for multiply-accumulates would not count it either.
 */
import { readFileSync } from 'node:fs';

type Shape = number[];
interface NodeEvent { cat: string; name: string; args?: { op_name?: string; input_type_shape?: Record<string, Shape>[]; output_type_shape?: Record<string, Shape>[]; parameter_size?: string } }

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
const shapes = (l: Record<string, Shape>[] | undefined): Shape[] => (l ?? []).map((o) => Object.values(o)[0] ?? []);

const MATMULS = new Set(['MatMul', 'FusedMatMul', 'Gemm', 'MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'MatMulNBits', 'QGemm']);
const CONVS = new Set(['Conv', 'FusedConv', 'NchwcConv', 'ConvInteger', 'QLinearConv']);

/** FLOPs of one node execution from its profiled shapes (0 for ops that are not products). */
export function nodeFlops(op: string, inputs: Shape[], outputs: Shape[]): number {
  const out = outputs[0];
  if (!out || out.length === 0) return 0;
  if (MATMULS.has(op)) {
    const a = inputs[0];
    if (!a || a.length < 1) return 0;
    // K is A's last dim, or its second-to-last when A is transposed (FusedMatMul transA): the one that is not M.
    const M = out.length >= 2 ? out[out.length - 2] : 1;
    const K = a.length >= 2 && a[a.length - 1] === M && a[a.length - 2] !== M ? a[a.length - 2] : a[a.length - 1];
    return 2 * numel(out) * K;
  }
  if (CONVS.has(op)) {
    const w = inputs[1];
    if (!w || w.length < 3) return 0;
    return 2 * numel(out) * (numel(w) / out[1]);
  }
  if (op === 'ConvTranspose') {
    const [x, w] = inputs;
    if (!x || !w) return 0;
    return 2 * numel(x) * (numel(w) / x[1]);
  }
  if (op === 'MultiHeadAttention' || op === 'Attention' || op === 'GroupQueryAttention') {
    const q = inputs[0], k = inputs[1];
    if (!q || q.length !== 3) return 0;
    const S = k && k.length === 3 ? k[1] : q[1];
    return 4 * q[0] * q[1] * S * q[2];
  }
  return 0;
}

/** Total FLOPs and the count of product nodes whose shapes were incomplete, over one profile file. */
export function profileFlops(path: string): { flops: number; byOp: Record<string, number>; unknown: number } {
  const events = JSON.parse(readFileSync(path, 'utf8')) as NodeEvent[];
  let flops = 0, unknown = 0;
  const byOp: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const op = e.args.op_name;
    const f = nodeFlops(op, shapes(e.args.input_type_shape), shapes(e.args.output_type_shape));
    if (f === 0 && (MATMULS.has(op) || CONVS.has(op) || op === 'ConvTranspose')) unknown++;
    flops += f;
    byOp[op] = (byOp[op] ?? 0) + f;
  }
  return { flops, byOp, unknown };
}

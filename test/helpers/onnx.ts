/** Test helpers for graph builders: run a built graph on onnxruntime-node, and random full-size weights. */
import type { GraphBuilder } from '../../src/core/onnx/graph.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { nodeBackend } from '../../src/node/backend.ts';

/** Builds an ORT session for `g`, runs it once on `feeds`, releases it. */
export async function runGraph(g: GraphBuilder, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await nodeBackend.createSession(g.toOnnx(), { label: g.graphName });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export { randomWeights, seededUniform } from './random-weights.ts';

/** Every value finite? */
export function allFinite(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return false;
  return true;
}

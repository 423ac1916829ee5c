/**
 * The content key of a built ONNX graph: everything that determines its bytes — the sha256 of each source
 * file, the network name, the precision, the builder version and any extra options. Node's on-disk cache
 * (src/node/graph-cache.ts) and the browser's OPFS cache (src/browser/graph-store.ts) both name graphs by
 * it, so the same files give the same key everywhere.
 */
import { sha256Hex } from '../hash/sha256.ts';

/** Bump when a builder changes what it emits for the same weights. */
export const GRAPH_FORMAT_VERSION = 3; // 2: HiFT graphs also output f0; 3: Slice without an empty steps input

export interface GraphKey {
  network: string;
  precision: string;
  /** sha256 of each source file, in a fixed order. */
  sources: readonly string[];
  /** Anything else the graph depends on (config fields, options). */
  extra?: unknown;
}

/** 32 hex digits: the first half of sha256 over the key's JSON (with the format version). */
export function graphHash(key: GraphKey): string {
  return sha256Hex(JSON.stringify({ v: GRAPH_FORMAT_VERSION, ...key })).slice(0, 32);
}

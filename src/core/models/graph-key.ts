/**
 * The content key of a built ONNX graph: everything that determines its bytes — the sha256 of each source
 * file, the network name, the precision, the builders themselves (the package version and
 * BUILDER_FINGERPRINT, the sha256 of the builders' sources that scripts/graph-fingerprint.mjs regenerates,
 * so the key moves by itself when a builder changes) and any extra options. Node's on-disk cache
 * (src/node/graph-cache.ts) and the browser's OPFS cache (src/browser/graph-store.ts) both name graphs by
 * it, so the same files give the same key everywhere.
 */
import { sha256Hex } from '../hash/sha256.ts';
import { BUILDER_FINGERPRINT, PACKAGE_VERSION } from '../onnx/builder-fingerprint.ts';

/** What the builders are: a change to any builder source changes the key of every cached graph. */
export const GRAPH_BUILDER_KEY = `${PACKAGE_VERSION}+${BUILDER_FINGERPRINT}`;

export interface GraphKey {
  network: string;
  precision: string;
  /** sha256 of each source file, in a fixed order. */
  sources: readonly string[];
  /** Anything else the graph depends on (config fields, options). */
  extra?: unknown;
}

/** 32 hex digits: the first half of sha256 over the key's JSON (with the builder key). */
export function graphHash(key: GraphKey): string {
  return sha256Hex(JSON.stringify({ builder: GRAPH_BUILDER_KEY, ...key })).slice(0, 32);
}

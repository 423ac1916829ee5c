/**
 * The record behind graph-fingerprint.test.ts: the sha256 of the ONNX graph every builder emits (fp32 and
 * fp16, on the parity set's tiny checkpoints) and the builder fingerprint it was taken at. Run directly with
 * --write (`npm run fingerprint`) to record the graphs of the current sources.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NETWORKS } from '../helpers/networks.ts';
// @ts-expect-error: a plain ES module without types
import { computeFingerprint } from '../../scripts/graph-fingerprint.mjs';

export const RECORD_PATH = join(import.meta.dirname, 'graph-outputs.json');

export interface GraphRecord { fingerprint: string; graphs: Record<string, string> }

/** The current sources' fingerprint and the sha256 of each graph they build. */
export function currentGraphs(): GraphRecord {
  const graphs: Record<string, string> = {};
  for (const [name, { build }] of Object.entries(NETWORKS)) {
    for (const precision of ['fp32', 'fp16'] as const) {
      graphs[`${name}/${precision}`] = createHash('sha256').update(build(precision).toOnnx()).digest('hex');
    }
  }
  return { fingerprint: (computeFingerprint() as { fingerprint: string }).fingerprint, graphs };
}

export function recordedGraphs(): GraphRecord {
  return JSON.parse(readFileSync(RECORD_PATH, 'utf8')) as GraphRecord;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(RECORD_PATH, `${JSON.stringify(currentGraphs(), null, 2)}\n`);
  console.error(`wrote ${RECORD_PATH}`);
}

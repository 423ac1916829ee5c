/**
 * Stale graphs: the graph cache key carries BUILDER_FINGERPRINT, the sha256 of the builders' sources. These
 * tests keep that honest: the generated fingerprint is current, and every builder still emits exactly the
 * graph recorded for the current fingerprint — a graph that changes while the fingerprint (so the key) does
 * not fails here. After changing a builder, `npm run fingerprint` records the new graphs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILDER_FINGERPRINT, PACKAGE_VERSION } from '../../src/core/onnx/builder-fingerprint.ts';
import { GRAPH_BUILDER_KEY, graphHash } from '../../src/node/graph-cache.ts';
// @ts-expect-error: a plain ES module without types
import { OUTPUT, builderSources, computeFingerprint, render } from '../../scripts/graph-fingerprint.mjs';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import { currentGraphs, recordedGraphs } from './graph-record.ts';

const FIX = 'run `npm run fingerprint`';

test('the generated builder fingerprint is current and part of every graph key', () => {
  const now = computeFingerprint() as { fingerprint: string; version: string; files: string[] };
  assert.equal(readFileSync(join(PROJECT_ROOT, OUTPUT), 'utf8'), render(now), `${OUTPUT} is stale: ${FIX}`);
  assert.equal(BUILDER_FINGERPRINT, now.fingerprint);
  assert.equal(PACKAGE_VERSION, JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
  assert.equal(GRAPH_BUILDER_KEY, `${PACKAGE_VERSION}+${BUILDER_FINGERPRINT}`);
  // the builders, their graph and weight-reading code, and the loader's build options are all covered
  const files = builderSources() as string[];
  for (const f of ['src/core/nets/dit.ts', 'src/core/nets/bigvgan.ts', 'src/core/onnx/nn.ts', 'src/core/onnx/graph.ts', 'src/core/onnx/proto.ts',
    'src/core/checkpoint/state-dict.ts', 'src/core/models/dit-checkpoint.ts', 'src/node/load.ts']) assert.ok(files.includes(f), `${f} is fingerprinted`);
  assert.ok(!files.includes(OUTPUT));
  // same inputs, same key; the network, the precision or a source hash moves it
  const key = { network: 'dit', precision: 'fp32', sources: ['a'.repeat(64)] };
  assert.equal(graphHash(key), graphHash({ ...key }));
  assert.notEqual(graphHash(key), graphHash({ ...key, precision: 'fp16' }));
  assert.notEqual(graphHash(key), graphHash({ ...key, sources: ['b'.repeat(64)] }));
});

test('every builder emits the graph recorded for the current fingerprint (an output change must move the key)', () => {
  const rec = recordedGraphs();
  const now = currentGraphs();
  assert.equal(rec.fingerprint, now.fingerprint, `builder sources changed since test/onnx/graph-outputs.json was recorded: ${FIX}`);
  assert.deepEqual(Object.keys(now.graphs).sort(), Object.keys(rec.graphs).sort(), `the set of networks changed: ${FIX}`);
  for (const [name, sha] of Object.entries(now.graphs)) {
    assert.equal(sha, rec.graphs[name], `the ${name} graph changed but the builder fingerprint (the cache key) did not: the build depends on something outside the fingerprinted sources (scripts/graph-fingerprint.mjs) or is not deterministic`);
  }
});

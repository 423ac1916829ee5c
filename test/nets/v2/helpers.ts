/**
 * The Seed-VC v2 parity set (../shared/golden/v2, read in place): its own manifest, tensors and hub
 * (manifest.hub, relative to the set). Same metric as the v1 set (test/helpers/golden.ts).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../../../src/core/checkpoint/safetensors.ts';
import type { Tensor } from '../../../src/core/tensor.ts';
import { GOLDEN, type GoldenCase } from '../../helpers/golden.ts';

export const GOLDEN_V2 = join(GOLDEN, 'v2');

interface V2Manifest { hub: string; cases: GoldenCase[] }
let manifestCache: V2Manifest | undefined;
function v2Manifest(): V2Manifest {
  manifestCache ??= JSON.parse(readFileSync(join(GOLDEN_V2, 'manifest.json'), 'utf8')) as V2Manifest;
  return manifestCache;
}

/** The hub mirror the v2 set was generated against. */
export function v2Hub(): string { return resolve(GOLDEN_V2, v2Manifest().hub); }

export function v2Case(id: string): GoldenCase {
  const c = v2Manifest().cases.find((x) => x.id === id);
  if (!c) throw new Error(`no v2 golden case '${id}'`);
  return c;
}

const cache = new Map<string, Map<string, Tensor>>();
export function v2Tensors(c: GoldenCase): Map<string, Tensor> {
  let t = cache.get(c.file);
  if (!t) {
    const abs = join(GOLDEN_V2, c.file);
    t = readSafetensors(new Uint8Array(readFileSync(abs)), abs).tensors;
    cache.set(c.file, t);
  }
  return t;
}

/** Reads a file of the v2 hub twin. */
export function v2HubFile(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(join(v2Hub(), ...parts)));
}

/** Integer tensor values as numbers (int64 golden tensors come as BigInt64Array). */
export function ints(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

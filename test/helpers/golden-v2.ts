/** The Seed-VC v2 parity set (../shared/golden/v2, its own manifest.json), read in place. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Tensor } from '../../src/core/tensor.ts';
import { type GoldenCase, GOLDEN, goldenTensors } from './golden.ts';

export const GOLDEN_V2 = join(GOLDEN, 'v2');

let manifestCache: { hub: string; cases: GoldenCase[] } | undefined;
export function manifestV2(): { hub: string; cases: GoldenCase[] } {
  manifestCache ??= JSON.parse(readFileSync(join(GOLDEN_V2, 'manifest.json'), 'utf8'));
  return manifestCache!;
}

export function v2Case(id: string): GoldenCase {
  const c = manifestV2().cases.find((x) => x.id === id);
  if (!c) throw new Error(`no v2 golden case '${id}'`);
  return c;
}

/** The hub mirror the v2 set's models live in. */
export const HUB_V2 = (): string => join(GOLDEN_V2, manifestV2().hub);

export function v2Tensors(c: GoldenCase): Map<string, Tensor> {
  return goldenTensors(join('v2', c.file));
}

/** The tiny twin of configs/v2/vc_wrapper.yaml, parsed. */
export function v2WrapperYaml(): unknown {
  return parseYaml(readFileSync(join(GOLDEN_V2, 'configs', 'v2', 'vc_wrapper.yaml'), 'utf8'));
}

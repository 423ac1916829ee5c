/**
 * Access to the parity vectors in ../shared/golden (read in place, never copied) and the comparison
 * metric they are defined with: err = max|ours - golden| / rms(golden), pass if err <= tol.
 */
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { type Tensor, toFloat32 } from '../../src/core/tensor.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = resolve(here, '..', '..');
export const SHARED = process.env.SEED_VC_SHARED ?? resolve(PROJECT_ROOT, '..', 'shared');
export const GOLDEN = join(SHARED, 'golden');
export const AUDIO = join(SHARED, 'audio');
export const HUB = join(GOLDEN, 'hub');

export interface CompareEntry { tensor: string; tol: number; why?: string }
export interface GoldenCase {
  id: string;
  group: string;
  file: string;
  call: string;
  args: Record<string, unknown>;
  checkpoint?: string | string[];
  config?: string;
  tensors: Record<string, { dtype: string; shape: number[]; layout: string; desc: string }>;
  compare: CompareEntry[];
  notes?: string[];
}

let manifestCache: { cases: GoldenCase[] } | undefined;
export function manifest(): { cases: GoldenCase[]; checkpoints: Record<string, unknown> } {
  if (!manifestCache) {
    const path = join(GOLDEN, 'manifest.json');
    if (!existsSync(path)) throw new Error(`golden vectors not found at ${GOLDEN} (set SEED_VC_SHARED to the shared/ folder)`);
    manifestCache = JSON.parse(readFileSync(path, 'utf8'));
  }
  return manifestCache as { cases: GoldenCase[]; checkpoints: Record<string, unknown> };
}

export function goldenCase(id: string): GoldenCase {
  const c = manifest().cases.find((x) => x.id === id);
  if (!c) throw new Error(`no golden case '${id}' in the manifest`);
  return c;
}

/** Tolerance of `tensor` in the case's compare list. */
export function tolerance(c: GoldenCase, tensor: string): number {
  const e = c.compare.find((x) => x.tensor === tensor);
  if (!e) throw new Error(`case ${c.id} does not compare '${tensor}'`);
  return e.tol;
}

const fileCache = new Map<string, Map<string, Tensor>>();
/** The tensors of a golden safetensors file, by path relative to golden/. */
export function goldenTensors(relPath: string): Map<string, Tensor> {
  let t = fileCache.get(relPath);
  if (!t) {
    const abs = join(GOLDEN, relPath);
    t = readSafetensors(new Uint8Array(readFileSync(abs)), abs).tensors;
    fileCache.set(relPath, t);
  }
  return t;
}

export function caseTensors(c: GoldenCase): Map<string, Tensor> {
  return goldenTensors(c.file);
}

export function getTensor(map: Map<string, Tensor>, name: string): Tensor {
  const t = map.get(name);
  if (!t) throw new Error(`golden tensor '${name}' missing (have: ${[...map.keys()].join(', ')})`);
  return t;
}

export function getF32(map: Map<string, Tensor>, name: string): Tensor<'float32'> {
  return toFloat32(getTensor(map, name));
}

/** The golden metric. Returns err = max|a - g| / rms(g). */
export function relErr(actual: ArrayLike<number>, golden: ArrayLike<number>): number {
  if (actual.length !== golden.length) return Infinity;
  let maxAbs = 0;
  let sumSq = 0;
  for (let i = 0; i < golden.length; i++) {
    const g = golden[i];
    const d = Math.abs(actual[i] - g);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    sumSq += g * g;
  }
  const rms = Math.sqrt(sumSq / Math.max(1, golden.length));
  return maxAbs / (rms || 1);
}

/** Asserts shape equality and err <= tol; returns err so tests can report it. */
export function assertClose(
  label: string,
  actual: { shape: readonly number[]; data: ArrayLike<number> },
  golden: Tensor | { shape: readonly number[]; data: ArrayLike<number> },
  tol: number,
): number {
  const g = 'dtype' in golden ? toFloat32(golden as Tensor) : golden;
  assert.deepEqual([...actual.shape], [...g.shape], `${label}: shape [${actual.shape}] != golden [${g.shape}]`);
  const err = relErr(actual.data, g.data as ArrayLike<number>);
  assert.ok(err <= tol, `${label}: err ${err.toExponential(3)} > tol ${tol}`);
  return err;
}

/** Exact equality for integer tensors (tol 0 in the manifest). */
export function assertExactInts(label: string, actual: ArrayLike<number | bigint>, golden: Tensor): void {
  const g = golden.data as ArrayLike<number | bigint>;
  assert.equal(actual.length, g.length, `${label}: length ${actual.length} != ${g.length}`);
  for (let i = 0; i < g.length; i++) {
    assert.equal(Number(actual[i]), Number(g[i]), `${label}[${i}]: ${actual[i]} != ${g[i]}`);
  }
}

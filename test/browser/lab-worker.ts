/**
 * A Web Worker for tests and benchmarks that run pieces of the core in Chromium (bundled by lab.ts next
 * to the static app, so onnxruntime-web's files are at ../ort/):
 *   'cfm'      — the DiT/CFM loop alone on WASM or WebGPU, with or without GPU-resident tensors
 *                (a golden case's inputs, or random inputs for a random-weight graph); output and times.
 *   'official' — the official-size random-weight networks: first load (download into Cache Storage with
 *                sha256, graph build here, session) or warm load (cache + OPFS graph + session), then
 *                whole conversions with per-stage times.
 * Post a LabJob; the answer is { type: 'result', result } or { type: 'error', message }, with
 * { type: 'log', message } lines before it.
 */
import * as ort from 'onnxruntime-web';
import { decodeAudioMono } from '../../src/core/audio/decode.ts';
import { readSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import type { GraphKey } from '../../src/core/models/graph-key.ts';
import { buildEulerStepGraph, solveEuler } from '../../src/core/pipeline/cfm.ts';
import { WhisperContentEncoder } from '../../src/core/pipeline/content.ts';
import { VoiceConverter } from '../../src/core/pipeline/convert.ts';
import { Rng } from '../../src/core/pipeline/random.ts';
import { GraphVocoder } from '../../src/core/pipeline/vocoder.ts';
import type { NetSession } from '../../src/core/runtime.ts';
import { type Tensor, tensor } from '../../src/core/tensor.ts';
import { createWebBackend } from '../../src/browser/backend.ts';
import { GraphStore } from '../../src/browser/graph-store.ts';
import { probeWebGpu, useAdapter } from '../../src/browser/loader.ts';
import { ModelStore } from '../../src/browser/model-store.ts';
import { OFFICIAL_WHISPER, type OfficialNetwork, officialBuildersFrom, officialConfigFrom } from '../../bench/official.ts';

export type CfmInputsSpec =
  | { caseUrl: string }
  | { random: { C: number; T: number; P: number; D: number; S: number; seed: number } };

export type LabJob =
  | { type: 'cfm'; device: 'webgpu' | 'wasm'; resident: boolean; graphUrl: string; inputs: CfmInputsSpec; steps: number; cfgRate: number; repeats: number; threads?: number }
  | { type: 'official'; phase: 'first' | 'warm'; threads: number; graphsBase: string; yamlUrl: string; sourceUrl: string; referenceUrl: string; sourceSeconds: number; referenceSeconds: number; steps: number; repeats: number };

export interface CfmLabResult {
  output: number[];
  /** ms per whole solve (after one warm-up solve). */
  solveMs: number[];
  device: string;
  resident: boolean;
  adapter: string;
}

export interface OfficialLabResult {
  load: Record<OfficialNetwork, { download: number; build: number; session: number; bytes: number; source: string }>;
  loadMs: number;
  threads: number;
  /** Per-stage ms of each conversion, or why it could not run. */
  runs: Record<string, number>[];
  failed?: string;
}

const scope = self as unknown as { postMessage(m: unknown): void; onmessage: ((e: MessageEvent<LabJob>) => void) | null };
const log = (message: string) => scope.postMessage({ type: 'log', message });
ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function cfmInputs(spec: CfmInputsSpec, tensors?: Map<string, Tensor>) {
  if ('caseUrl' in spec) {
    const get = (k: string) => tensors!.get(k) as Tensor<'float32'>;
    const z = get('input.z');
    return { mu: get('input.mu'), prompt: get('input.prompt'), style: get('input.style'), noise: () => tensor('float32', z.shape, Float32Array.from(z.data)) };
  }
  const { C, T, P, D, S, seed } = spec.random;
  const rng = new Rng(seed);
  const z = rng.normals(C * T);
  return {
    mu: tensor('float32', [1, T, D], rng.normals(T * D)), prompt: tensor('float32', [1, C, P], rng.normals(C * P)),
    style: tensor('float32', [1, S], rng.normals(S)), noise: () => tensor('float32', [1, C, T], Float32Array.from(z)),
  };
}

async function runCfm(job: Extract<LabJob, { type: 'cfm' }>): Promise<CfmLabResult> {
  ort.env.wasm.numThreads = job.threads ?? 1;
  let adapter = '';
  if (job.device === 'webgpu') {
    const probe = await probeWebGpu();
    if ('none' in probe) throw new Error(`no WebGPU adapter: ${probe.none}`);
    useAdapter(ort, probe.adapter);
    adapter = `${probe.name}; features: ${[...probe.adapter.features].includes('shader-f16') ? 'shader-f16' : 'no shader-f16'}`;
  }
  const backend = createWebBackend(ort, log);
  const graph = await fetchBytes(job.graphUrl);
  const sessions: NetSession[] = [];
  try {
    const estimator = await backend.createSession(graph, { device: job.device, label: 'dit', outputsOnDevice: job.resident });
    sessions.push(estimator);
    let step: NetSession | undefined;
    if (job.resident) sessions.push(step = await backend.createSession(buildEulerStepGraph(), { device: job.device, label: 'euler_step', outputsOnDevice: true }));
    const tensors = 'caseUrl' in job.inputs ? readSafetensors(await fetchBytes(job.inputs.caseUrl), job.inputs.caseUrl).tensors : undefined;
    const inp = cfmInputs(job.inputs, tensors);
    const solve = () => solveEuler(estimator, { mu: inp.mu, prompt: inp.prompt, style: inp.style, noise: inp.noise(), steps: job.steps, cfgRate: job.cfgRate }, undefined, step);
    let out = await solve(); // warm-up: shader compilation, first allocations
    const solveMs: number[] = [];
    for (let i = 0; i < job.repeats; i++) {
      const t0 = performance.now();
      out = await solve();
      solveMs.push(performance.now() - t0);
    }
    return { output: Array.from(out.data), solveMs, device: estimator.device, resident: Boolean(step?.runOnDevice && estimator.runOnDevice), adapter };
  } finally {
    for (const s of sessions) await s.release();
  }
}

const NETWORKS: readonly OfficialNetwork[] = ['content', 'speaker', 'length_regulator', 'dit', 'vocoder'];

/** Real speech, looped to `seconds`. */
async function speech(url: string, seconds: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const a = await decodeAudioMono(await fetchBytes(url), url.split('/').pop()!);
  const n = Math.round(seconds * a.sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += a.samples.length) out.set(a.samples.subarray(0, Math.min(a.samples.length, n - i)), i);
  return { samples: out, sampleRate: a.sampleRate };
}

async function runOfficial(job: Extract<LabJob, { type: 'official' }>): Promise<OfficialLabResult> {
  ort.env.wasm.numThreads = job.threads;
  const cfg = officialConfigFrom(new TextDecoder().decode(await fetchBytes(job.yamlUrl)));
  const builders = officialBuildersFrom(cfg);
  const store = new ModelStore({ baseUrl: job.graphsBase, layout: 'mirror' });
  const graphs = await GraphStore.open();
  const backend = createWebBackend(ort, log);
  const sessions: Partial<Record<OfficialNetwork, NetSession>> = {};
  const load = {} as OfficialLabResult['load'];
  const t0 = performance.now();
  let failed: string | undefined;
  try {
    for (const net of NETWORKS) {
      // The official-size fp32 graph file stands in for the network's checkpoint: as many bytes, fetched,
      // hashed and stored the way the loader stores model files.
      const td = performance.now();
      let sha: string;
      let bytes: number;
      let source: string;
      if (job.phase === 'warm') {
        const hit = await store.lookup('bench/official', `${net}.onnx`);
        if (!hit) throw new Error(`${net}: not in Cache Storage (run the first load first)`);
        ({ sha256: sha, bytes } = hit);
        source = 'cache';
      } else {
        const f = await store.get('bench/official', `${net}.onnx`);
        ({ sha256: sha } = f);
        bytes = f.bytes.length;
        source = f.source;
      }
      const tb = performance.now();
      const key: GraphKey = { network: net, precision: 'fp32', sources: [sha], extra: 'bench-official-random' };
      let graph = await graphs.get(key);
      if (!graph) {
        graph = builders[net]('fp32').toOnnx();
        await graphs.put(key, graph);
      }
      const ts = performance.now();
      try {
        sessions[net] = await backend.createSession(graph, { device: 'wasm', label: net });
      } catch (e) {
        failed = `${net} (${(graph.length / 1e6).toFixed(0)} MB graph): ${(e as Error).message.split('\n')[0]}`;
        throw e;
      }
      graph = undefined;
      load[net] = { download: tb - td, build: ts - tb, session: performance.now() - ts, bytes, source };
      log(`${net}: ${JSON.stringify(load[net])}`);
    }
  } catch (e) {
    for (const s of Object.values(sessions)) await s.release();
    return { load, loadMs: performance.now() - t0, threads: job.threads, runs: [], failed: failed ?? (e as Error).message };
  }
  const loadMs = performance.now() - t0;
  const converter = new VoiceConverter(cfg, {
    content: new WhisperContentEncoder(sessions.content!, OFFICIAL_WHISPER),
    speaker: sessions.speaker!, lengthRegulator: sessions.length_regulator!, estimator: sessions.dit!,
    vocoder: new GraphVocoder(sessions.vocoder!),
  });
  const runs: Record<string, number>[] = [];
  try {
    const [source, reference] = [await speech(job.sourceUrl, job.sourceSeconds), await speech(job.referenceUrl, job.referenceSeconds)];
    for (let i = 0; i < job.repeats; i++) {
      const r = await converter.convert(source, reference, { diffusionSteps: job.steps, seed: 1 });
      runs.push({ ...r.timings });
      log(`conversion ${i + 1}: ${JSON.stringify(r.timings)}`);
    }
  } catch (e) {
    failed = `conversion: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
  return { load, loadMs, threads: job.threads, runs, failed };
}

scope.onmessage = async (e) => {
  try {
    const job = e.data;
    const result = job.type === 'cfm' ? await runCfm(job) : await runOfficial(job);
    scope.postMessage({ type: 'result', result });
  } catch (err) {
    scope.postMessage({ type: 'error', message: `${(err as Error).name}: ${(err as Error).message}` });
  }
};

/**
 * Loading a Seed-VC model set inside a browser (in a Web Worker: the unpickler, weight-norm folding, graph
 * builders and sessions all run off the page's thread). It mirrors src/node/load.ts through the core's
 * network registry: model files from a ModelStore (Cache Storage), graphs from a GraphStore (OPFS) under
 * the same content key as Node, sessions on onnxruntime-web — WebGPU when an adapter exists, else WASM.
 */
import { InvalidInputError } from '../core/errors.ts';
import { MODEL_SETS, type ModelSetId } from '../core/models/catalog.ts';
import { type SeedVcConfig, parseSeedVcConfig } from '../core/models/config.ts';
import type { GraphKey } from '../core/models/graph-key.ts';
import { CHECKPOINT_ROLE, CONFIG_ROLE, type FileSpec, type ModelFileSource, type NetworkName, familyOf } from '../core/models/registry.ts';
import type { Precision } from '../core/onnx/nn.ts';
import { buildEulerStepGraph } from '../core/pipeline/cfm.ts';
import { VoiceConverter } from '../core/pipeline/convert.ts';
import { type DeviceCapabilities, type PrecisionPlan, type PrecisionRequest, resolvePrecision } from '../core/precision.ts';
import type { NetSession } from '../core/runtime.ts';
import { type OrtWeb, createWebBackend } from './backend.ts';
import { RunGate, gatedSession, nextTask } from './cancel.ts';
import { GraphStore } from './graph-store.ts';
import { type DownloadEvent, DownloadError, ModelStore, type ModelStoreOptions } from './model-store.ts';

export type WebDevice = 'webgpu' | 'wasm';

export interface BrowserLoadOptions {
  /** Official model set (default 'offline', or 'singing' with f0Condition). */
  model?: ModelSetId;
  f0Condition?: boolean;
  /** 'auto' (default): WebGPU when an adapter exists, else WASM. */
  device?: 'auto' | WebDevice;
  precision?: PrecisionRequest;
  vocoderFp16?: boolean;
  /** Where model files come from, and how they are checked. */
  hub?: ModelStoreOptions;
  /** Build every graph from the checkpoints (skip the OPFS graph cache). */
  noGraphCache?: boolean;
  /**
   * On WebGPU, keep the DiT's tensors in GPU memory between the diffusion steps (default true): the
   * estimator's output stays a GPU buffer and the Euler update runs as a small graph next to it.
   */
  gpuResident?: boolean;
}

/** What the loader chose, and why: shown to the user. */
export interface DeviceChoice {
  device: WebDevice;
  reason: string;
  /** WASM threads in use, and why that many. */
  threads: number;
  threadsReason: string;
  adapter?: string;
  shaderF16?: boolean;
}

export type BrowserLoadEvent =
  | DownloadEvent
  | ({ type: 'device'; plan: PrecisionPlan } & DeviceChoice)
  | { type: 'build'; network: NetworkName; status: 'cached' | 'built'; ms: number }
  | { type: 'session'; network: NetworkName; device: WebDevice; precision: Precision; ms: number }
  | { type: 'log'; message: string };

export interface LoadedFile { repo: string; file: string; sha256: string; bytes: number; source: 'cache' | 'download' }

export interface BrowserModel {
  config: SeedVcConfig;
  plan: PrecisionPlan;
  choice: DeviceChoice;
  files: Record<string, LoadedFile>;
  converter: VoiceConverter;
  timings: { files: number; graphs: number; sessions: number; total: number };
  /** Passed before every session run: set its signal to make a conversion cancellable between runs. */
  gate: RunGate;
  dispose(): Promise<void>;
}

type Adapter = { features: Set<string>; info?: { vendor?: string; architecture?: string; description?: string } };
type Gpu = { requestAdapter(o?: object): Promise<Adapter | null> };

/** Probes WebGPU: the adapter, or why there is none. */
export async function probeWebGpu(): Promise<{ adapter: Adapter; name: string } | { none: string }> {
  const gpu = (globalThis.navigator as unknown as { gpu?: Gpu } | undefined)?.gpu;
  if (!gpu) return { none: 'this browser has no WebGPU (navigator.gpu is missing)' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { none: 'WebGPU is present but no adapter is available (requestAdapter returned null: no usable GPU, or WebGPU disabled)' };
    const i = adapter.info ?? {};
    return { adapter, name: [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'unnamed adapter' };
  } catch (e) {
    return { none: `WebGPU adapter request failed: ${(e as Error).message}` };
  }
}

/** Hands ORT the adapter; once its WebGPU backend is initialised the property is read-only and the first adapter stays. */
export function useAdapter(ort: OrtWeb, adapter: unknown): void {
  try {
    (ort.env as { webgpu?: { adapter?: unknown } }).webgpu!.adapter = adapter;
  } catch { /* a later load in the same worker: WebGPU already runs on the adapter set first */ }
}

/** The device to run on, with the reason, and the WASM thread count (also used by WebGPU for CPU ops). */
export async function chooseWebDevice(request: 'auto' | WebDevice, ort: OrtWeb): Promise<DeviceChoice & { adapter?: string }> {
  const cores = Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1);
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? cores : 1;
  const threadsReason = isolated
    ? `cross-origin isolated: ${threads} WASM threads (one per core)`
    : '1 WASM thread: the page is not cross-origin isolated (the server must send COOP: same-origin and COEP: require-corp)';
  ort.env.wasm.numThreads = threads;
  if (request === 'wasm') return { device: 'wasm', reason: 'WASM requested', threads, threadsReason };
  if (request !== 'auto' && request !== 'webgpu') throw new InvalidInputError(`unknown device '${String(request)}' (accepted: auto, webgpu, wasm)`);
  const probe = await probeWebGpu();
  if ('none' in probe) {
    const reason = request === 'webgpu' ? `WebGPU requested but unavailable (${probe.none}); using WASM` : `${probe.none}; using WASM`;
    return { device: 'wasm', reason, threads, threadsReason };
  }
  useAdapter(ort, probe.adapter);
  const f16 = probe.adapter.features.has('shader-f16');
  return {
    device: 'webgpu',
    reason: `${request === 'webgpu' ? 'WebGPU requested' : 'auto'}: WebGPU adapter ${probe.name}${f16 ? ' with shader-f16' : ' (no shader-f16)'}`,
    threads, threadsReason, adapter: probe.name, shaderF16: f16,
  };
}

/**
 * Loads a model set: files, device and precision, graphs (built here or from OPFS), sessions. An aborted
 * `signal` stops it between files (a download in flight is cut), graph builds and sessions, with its reason.
 */
export async function loadInBrowser(ort: OrtWeb, options: BrowserLoadOptions = {}, emit: (e: BrowserLoadEvent) => void = () => {}, signal?: AbortSignal): Promise<BrowserModel> {
  const t0 = performance.now();
  const store = new ModelStore(options.hub);
  const log = (message: string) => emit({ type: 'log', message });
  const setId = options.model ?? (options.f0Condition ? 'singing' : 'offline');
  const set = MODEL_SETS[setId];
  if (!set) throw new InvalidInputError(`unknown model '${String(options.model)}' (accepted: ${Object.keys(MODEL_SETS).join(', ')})`);

  // Files: the DiT checkpoint and YAML, then what the YAML names. Each is downloaded once and cached;
  // only its sha256 (and the small configs' text) is kept, bytes are read again when a graph is built.
  const files: Record<string, LoadedFile> = {};
  const texts = new Map<string, string>();
  const held = new Map<string, Uint8Array>(); // without Cache Storage, downloads stay in memory
  const fetchRole = async (spec: FileSpec): Promise<void> => {
    signal?.throwIfAborted();
    let last: unknown;
    for (const h of spec.hub) {
      const text = /\.(ya?ml|json)$/.test(h.file);
      const known = text || typeof caches === 'undefined' ? undefined : await store.lookup(h.repo, h.file, emit);
      if (known) {
        files[spec.role] = { repo: h.repo, file: h.file, sha256: known.sha256, bytes: known.bytes, source: 'cache' };
        return;
      }
      try {
        const f = await store.get(h.repo, h.file, emit, signal);
        files[spec.role] = { repo: h.repo, file: h.file, sha256: f.sha256, bytes: f.bytes.length, source: f.source };
        if (text) texts.set(spec.role, new TextDecoder().decode(f.bytes));
        if (!f.stored) {
          held.set(spec.role, f.bytes); // not in the cache: the graph build reads it from memory
          if (typeof caches !== 'undefined') log(`${h.repo}/${h.file} was not cached: Cache Storage refused it (storage quota?)`);
        }
        return;
      } catch (e) {
        if (!(e instanceof DownloadError) || (e.status !== 404 && e.status !== 401 && e.status !== 403) || h === spec.hub[spec.hub.length - 1]) throw e;
        last = e;
      }
    }
    throw last;
  };
  await fetchRole({ role: CHECKPOINT_ROLE, hub: [set.checkpoint] });
  await fetchRole({ role: CONFIG_ROLE, hub: [set.config] });
  const config = parseSeedVcConfig(texts.get(CONFIG_ROLE)!, set.config.file);
  if (options.f0Condition !== undefined && options.f0Condition !== config.lengthRegulator.f0Condition) {
    throw new InvalidInputError(`f0Condition ${options.f0Condition} does not match the model: ${set.config.file} is ${config.lengthRegulator.f0Condition ? '' : 'not '}F0-conditioned`);
  }
  const family = familyOf(config);
  for (const spec of family.files(config)) await fetchRole(spec);
  const tFiles = performance.now();

  const choice = await chooseWebDevice(options.device ?? 'auto', ort);
  const caps: DeviceCapabilities = choice.device === 'webgpu'
    ? { device: 'webgpu', shaderF16: choice.shaderF16, name: choice.adapter }
    : { device: 'wasm' };
  const plan = resolvePrecision(options.precision ?? 'auto', caps, { vocoderFp16: options.vocoderFp16 });
  emit({ type: 'device', ...choice, plan });

  // Bytes of the files a build needs, read (and re-verified) from the cache just before the build.
  const bytes = new Map<string, Uint8Array>(held);
  const source: ModelFileSource = {
    has: (role) => files[role] !== undefined,
    bytes: (role) => {
      const b = bytes.get(role);
      if (!b) throw new Error(`internal: ${role} was not read before the build`);
      return b;
    },
    text: (role) => texts.get(role) ?? new TextDecoder().decode(source.bytes(role)),
    name: (role) => files[role]?.file ?? role,
  };
  const layout = family.layout(config, source);
  const graphs = options.noGraphCache ? undefined : await GraphStore.open();
  if (graphs && !graphs.available) log('the origin-private file system is unavailable: graphs are built on every load');
  const backend = createWebBackend(ort, log);

  const opened: NetSession[] = [];
  const gate = new RunGate();
  const resident = choice.device === 'webgpu' && options.gpuResident !== false;
  let graphMs = 0;
  let sessionMs = 0;
  const open = async (name: NetworkName, precision?: Precision): Promise<NetSession> => {
    const net = layout.networks.find((n) => n.name === name)!;
    const p = precision ?? plan.stages[net.stage].precision;
    // A build holds the thread for up to seconds: let a cancel message in before each one.
    await nextTask();
    signal?.throwIfAborted();
    const tb = performance.now();
    const key: GraphKey = { network: name, precision: p, sources: net.sources.map((r) => files[r].sha256) };
    let graph = await graphs?.get(key);
    const cached = graph !== undefined;
    if (!graph) {
      for (const role of net.sources) {
        if (!bytes.has(role)) bytes.set(role, (await store.get(files[role].repo, files[role].file, undefined, signal)).bytes);
      }
      graph = net.build(p).toOnnx();
      await graphs?.put(key, graph).catch((e: Error) => log(`could not cache the ${name} graph: ${e.message}`));
      // Drop what no later network reads (the DiT checkpoint serves the length regulator and the DiT).
      const later = new Set(layout.networks.slice(layout.networks.indexOf(net) + 1).flatMap((n) => n.sources));
      for (const role of net.sources) if (!held.has(role) && !later.has(role)) bytes.delete(role);
    }
    const tb1 = performance.now();
    graphMs += tb1 - tb;
    emit({ type: 'build', network: name, status: cached ? 'cached' : 'built', ms: tb1 - tb });
    await nextTask();
    signal?.throwIfAborted();
    const session = await backend.createSession(graph, { device: choice.device, label: name, outputsOnDevice: resident && name === 'dit' && !precision });
    opened.push(session);
    const ms = performance.now() - tb1;
    sessionMs += ms;
    emit({ type: 'session', network: name, device: session.device === 'webgpu' ? 'webgpu' : 'wasm', precision: p, ms });
    return gatedSession(session, gate);
  };

  try {
    const sessions = await layout.sessions(open, plan, log);
    if (resident && sessions.estimator.device === 'webgpu') {
      const step = await backend.createSession(buildEulerStepGraph(), { device: 'webgpu', label: 'euler_step', outputsOnDevice: true });
      opened.push(step);
      sessions.eulerStep = gatedSession(step, gate);
      log('WebGPU: the DiT steps keep x and the velocity in GPU memory (Euler update as a GPU graph)');
    }
    signal?.throwIfAborted();
    layout.releaseWeights();
    bytes.clear();
    const converter = new VoiceConverter(config, sessions);
    const end = performance.now();
    return {
      config, plan, choice, files, converter, gate,
      timings: { files: tFiles - t0, graphs: graphMs, sessions: sessionMs, total: end - t0 },
      async dispose() {
        await Promise.all(opened.map((s) => s.release().catch(() => {})));
        opened.length = 0;
      },
    };
  } catch (e) {
    await Promise.all(opened.map((s) => s.release().catch(() => {})));
    throw e;
  }
}

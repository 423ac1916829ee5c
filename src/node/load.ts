/**
 * Loading a Seed-VC model set in Node: resolve the official files (hub names, a mirror, the cache or
 * local paths), pick the device and the per-stage precision, build each network's ONNX graph from its
 * checkpoint (or take it from the graph cache), and open the sessions. The result converts voices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';
import { MODEL_SETS, type ModelSetId } from '../core/models/catalog.ts';
import { type SeedVcConfig, parseSeedVcConfig } from '../core/models/config.ts';
import { type ModelFileSource, type NetworkName, familyOf } from '../core/models/registry.ts';
import type { Precision } from '../core/onnx/nn.ts';
import { type ConvertOptions, type ConvertResult, VoiceConverter } from '../core/pipeline/convert.ts';
import { type DeviceCapabilities, type PrecisionPlan, type PrecisionRequest, resolvePrecision } from '../core/precision.ts';
import type { NetSession } from '../core/runtime.ts';
import { nodeBackend } from './backend.ts';
import { SeedVcV2, type V2LoadOptions } from './load-v2.ts';
import { type DeviceRequest, chooseDevice } from './devices.ts';
import { cachedGraph, fileSha256 } from './graph-cache.ts';
import { type DownloadEvent, type HubOptions, firstAvailable, hubOptionsFromEnv, resolveHubFile } from './hub.ts';

export type { NetworkName } from '../core/models/registry.ts';

export type LoadEvent =
  | DownloadEvent
  | { type: 'build'; network: NetworkName; status: 'cached' | 'built'; ms: number }
  | { type: 'session'; network: NetworkName; device: string; precision: Precision; ms: number };

export interface LoadOptions extends HubOptions {
  /** Official model set (default 'offline', or 'singing' with f0Condition). */
  model?: ModelSetId;
  /** Seed-VC's --f0-condition: selects the singing model when no model/checkpoint is given. */
  f0Condition?: boolean;
  /** A local (e.g. fine-tuned) DiT checkpoint and its YAML config, instead of the hub's. */
  checkpoint?: string;
  config?: string;
  precision?: PrecisionRequest;
  vocoderFp16?: boolean;
  device?: DeviceRequest;
  /** Intra-op threads per session (default: ORT's choice). */
  threads?: number;
  /** Skip the on-disk graph cache (always build from the checkpoints). */
  noGraphCache?: boolean;
  /** CosyVoice's hifigan.yml for a HiFT vocoder (real-time set); default: the released layout, widths from hift.pt. */
  hiftConfig?: string;
  onEvent?: (e: LoadEvent) => void;
  log?: (line: string) => void;
}

/** Refuses a thread count outside 1..the CPUs this machine offers (more only oversubscribes them). */
export function checkThreads(threads: number | undefined, name = 'threads'): void {
  if (threads === undefined) return;
  const cpus = availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= cpus)) {
    throw new InvalidInputError(`${name} must be an integer in 1..${cpus} (the CPUs this machine offers), got ${threads}`);
  }
}

/** The files a model set was loaded from (absolute paths), by role. */
export type ModelFiles = Record<string, string>;

/** A loaded model set: converts voices until disposed. */
export class SeedVc {
  private constructor(
    readonly config: SeedVcConfig,
    readonly plan: PrecisionPlan,
    readonly device: DeviceCapabilities,
    readonly files: ModelFiles,
    readonly converter: VoiceConverter,
    private readonly sessions: NetSession[],
  ) {}

  get sampleRate(): number { return this.config.mel.sampleRate; }

  /** Converts `source` to the voice of `reference` (mono waveforms at any sample rate). */
  convert(source: { samples: Float32Array; sampleRate: number }, reference: { samples: Float32Array; sampleRate: number }, options?: ConvertOptions): Promise<ConvertResult> {
    return this.converter.convert(source, reference, options);
  }

  /** Releases every session. */
  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
    this.sessions.length = 0;
  }

  /** Loads a model set; `model: 'v2'` loads Seed-VC v2 (see load-v2.ts). */
  static load(options: V2LoadOptions): Promise<SeedVcV2>;
  static load(options?: LoadOptions): Promise<SeedVc>;
  static load(options: LoadOptions | V2LoadOptions = {}): Promise<SeedVc | SeedVcV2> {
    checkThreads(options.threads);
    return options.model === 'v2' ? SeedVcV2.load(options as V2LoadOptions) : SeedVc.loadV1(options as LoadOptions);
  }

  private static async loadV1(options: LoadOptions): Promise<SeedVc> {
    const o = { ...options, ...hubOptionsFromEnv(options) };
    const log = o.log ?? (() => {});
    const emit = o.onEvent ?? (() => {});
    const hub = (repo: string, file: string) => resolveHubFile(repo, file, { ...o, onProgress: emit });
    const files: ModelFiles = {};

    // DiT checkpoint + YAML: local files or the model set's hub names.
    if ((o.checkpoint === undefined) !== (o.config === undefined)) {
      throw new InvalidInputError('--checkpoint and --config go together: give both (a fine-tuned DiT and its YAML) or neither');
    }
    if (o.checkpoint && o.config) {
      for (const p of [o.checkpoint, o.config]) if (!existsSync(p)) throw new InvalidInputError(`file not found: ${p}`);
      files.checkpoint = o.checkpoint;
      files.config = o.config;
    } else {
      const set = MODEL_SETS[o.model ?? (o.f0Condition ? 'singing' : 'offline')];
      if (!set) throw new InvalidInputError(`unknown model '${o.model}' (accepted: ${Object.keys(MODEL_SETS).join(', ')})`);
      files.checkpoint = await hub(set.checkpoint.repo, set.checkpoint.file);
      files.config = await hub(set.config.repo, set.config.file);
    }
    const config = parseSeedVcConfig(readFileSync(files.config, 'utf8'), files.config);
    if (o.f0Condition !== undefined && o.f0Condition !== config.lengthRegulator.f0Condition) {
      throw new InvalidInputError(`--f0-condition ${o.f0Condition} does not match the model: ${basename(files.config)} is ${config.lengthRegulator.f0Condition ? '' : 'not '}F0-conditioned`);
    }

    const family = familyOf(config);
    for (const f of family.files(config)) files[f.role] = await firstAvailable(f.hub.map((h) => () => hub(h.repo, h.file)));
    if (o.hiftConfig !== undefined) {
      if (config.vocoder.type !== 'hifigan') throw new InvalidInputError(`--hift-config: this model's vocoder is ${config.vocoder.type}, not HiFT`);
      if (!existsSync(o.hiftConfig)) throw new InvalidInputError(`file not found: ${o.hiftConfig} (--hift-config)`);
      files.vocoderConfig = o.hiftConfig;
    }

    const device = await chooseDevice(o.device ?? 'auto', log);
    const plan = resolvePrecision(o.precision ?? 'auto', device, { vocoderFp16: o.vocoderFp16 });

    const source: ModelFileSource = {
      has: (role) => files[role] !== undefined,
      bytes: (role) => new Uint8Array(readFileSync(files[role])),
      text: (role) => readFileSync(files[role], 'utf8'),
      name: (role) => files[role], // the path: error messages name the file the user can look at
    };
    const layout = family.layout(config, source);

    const opened: NetSession[] = [];
    const open = async (name: NetworkName, precision?: Precision): Promise<NetSession> => {
      const net = layout.networks.find((n) => n.name === name)!;
      const p = precision ?? plan.stages[net.stage].precision;
      const t0 = performance.now();
      const sources = await Promise.all(net.sources.map((role) => fileSha256(files[role], o.noGraphCache ? undefined : o.cacheDir)));
      const graph = await cachedGraph(o.noGraphCache ? undefined : o.cacheDir, { network: name, precision: p, sources }, () => net.build(p).toOnnx());
      emit({ type: 'build', network: name, status: graph.cached ? 'cached' : 'built', ms: performance.now() - t0 });
      const t1 = performance.now();
      const session = await nodeBackend.createSession(graph.bytes, { device: device.device, threads: o.threads, label: name });
      opened.push(session);
      emit({ type: 'session', network: name, device: device.device, precision: p, ms: performance.now() - t1 });
      return session;
    };

    try {
      const sessions = await layout.sessions(open, plan, log);
      layout.releaseWeights(); // the graphs hold the weights now (a later fp32 twin re-reads the checkpoint)
      return new SeedVc(config, plan, device, files, new VoiceConverter(config, sessions), opened);
    } catch (e) {
      await Promise.all(opened.map((s) => s.release().catch(() => {})));
      throw e;
    }
  }
}

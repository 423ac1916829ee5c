/**
 * Loading Seed-VC v2 in Node (`SeedVc.load({ model: 'v2' })`): the wrapper YAML (--config, or the official
 * values), the hub files of the v2 family (v2/cfm_small.pth, v2/ar_base.pth, the ASTRAL extractors, HuBERT,
 * CAMPPlus, BigVGAN), the device and precision plan, graphs through the graph cache, sessions. The AR
 * sessions open on the first convert-style conversion.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { InvalidInputError } from '../core/errors.ts';
import type { ModelFileSource } from '../core/models/registry.ts';
import { type V2WrapperConfig, officialV2Wrapper, parseV2WrapperConfig } from '../core/models/v2-config.ts';
import { SEED_VC_V2, type V2NetworkName, V2_ROLES } from '../core/models/v2-registry.ts';
import type { Precision } from '../core/onnx/nn.ts';
import { type V2ConvertOptions, type V2ConvertResult, V2VoiceConverter } from '../core/pipeline/v2/convert.ts';
import { type DeviceCapabilities, type PrecisionPlan, type PrecisionRequest, resolvePrecision } from '../core/precision.ts';
import type { NetSession } from '../core/runtime.ts';
import { nodeBackend } from './backend.ts';
import { atomicWrite, cachedGraph, fileSha256 } from './graph-cache.ts';
import { type DeviceRequest, chooseDevice as pickDevice } from './devices.ts';
import { type DownloadEvent, type HubOptions, firstAvailable, hubOptionsFromEnv, resolveHubFile } from './hub.ts';

/** Absolute paths of the loaded files, by role. */
export type V2ModelFiles = Record<string, string>;

export type V2LoadEvent =
  | DownloadEvent
  | { type: 'build'; network: V2NetworkName; status: 'cached' | 'built'; ms: number }
  | { type: 'session'; network: V2NetworkName; device: string; precision: Precision; ms: number };

export interface V2LoadOptions extends HubOptions {
  model: 'v2';
  precision?: PrecisionRequest;
  vocoderFp16?: boolean;
  device?: DeviceRequest;
  threads?: number;
  noGraphCache?: boolean;
  log?: (line: string) => void;
  /** A v2 wrapper YAML (configs/v2/vc_wrapper.yaml schema); default: the official values. */
  config?: string;
  onEvent?: (e: V2LoadEvent) => void;
}

/** A loaded Seed-VC v2 model set. */
export class SeedVcV2 {
  readonly model = 'v2' as const;

  private constructor(
    readonly config: V2WrapperConfig,
    readonly plan: PrecisionPlan,
    readonly device: DeviceCapabilities,
    readonly files: V2ModelFiles,
    readonly converter: V2VoiceConverter,
    private readonly sessions: NetSession[],
  ) {}

  get sampleRate(): number { return this.config.sampleRate; }

  convert(source: { samples: Float32Array; sampleRate: number }, reference: { samples: Float32Array; sampleRate: number }, options?: V2ConvertOptions): Promise<V2ConvertResult> {
    return this.converter.convert(source, reference, options);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
    this.sessions.length = 0;
  }

  static async load(options: V2LoadOptions): Promise<SeedVcV2> {
    const o = { ...options, ...hubOptionsFromEnv(options) };
    const log = o.log ?? (() => {});
    const emit = o.onEvent ?? (() => {});
    const hub = (repo: string, file: string) => resolveHubFile(repo, file, { ...o, onProgress: emit });
    const files: V2ModelFiles = {};
    if (o.config !== undefined) {
      if (!existsSync(o.config)) throw new InvalidInputError(`file not found: ${o.config}`);
      files[V2_ROLES.config] = o.config;
    } else {
      // The official YAML is not on the hub: its values are built in, written once for the graph cache key.
      const path = join(o.cacheDir!, 'v2', 'vc_wrapper.yaml');
      const text = stringify(officialV2Wrapper());
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) await atomicWrite(path, text);
      files[V2_ROLES.config] = path;
    }
    const config = parseV2WrapperConfig(readFileSync(files[V2_ROLES.config], 'utf8'), basename(files[V2_ROLES.config]));
    for (const f of SEED_VC_V2.files(config)) files[f.role] = await firstAvailable(f.hub.map((h) => () => hub(h.repo, h.file)));

    const device = await pickDevice(o.device ?? 'auto', log);
    if (o.precision === 'int8') throw new InvalidInputError('--precision int8 is available for the v1 models (offline, singing, realtime); the v2 model runs fp32 or fp16');
    const plan = resolvePrecision(o.precision ?? 'auto', device, { vocoderFp16: o.vocoderFp16 });
    const source: ModelFileSource = {
      has: (role) => files[role] !== undefined,
      bytes: (role) => new Uint8Array(readFileSync(files[role])),
      text: (role) => readFileSync(files[role], 'utf8'),
      name: (role) => basename(files[role]),
    };
    const layout = SEED_VC_V2.layout(config, source);
    const opened: NetSession[] = [];
    const open = async (name: V2NetworkName, precision?: Precision): Promise<NetSession> => {
      const net = layout.networks.find((n) => n.name === name)!;
      const p = precision ?? plan.stages[net.stage].precision;
      const t0 = performance.now();
      const sources = await Promise.all(net.sources.map((role) => fileSha256(files[role], o.noGraphCache ? undefined : o.cacheDir)));
      const graph = await cachedGraph(o.noGraphCache ? undefined : o.cacheDir, { network: `v2/${name}`, precision: p, sources }, () => net.build(p).toOnnx());
      emit({ type: 'build', network: name, status: graph.cached ? 'cached' : 'built', ms: performance.now() - t0 });
      const t1 = performance.now();
      const session = await nodeBackend.createSession(graph.bytes, { device: device.device, threads: o.threads, label: `v2/${name}` });
      opened.push(session);
      emit({ type: 'session', network: name, device: device.device, precision: p, ms: performance.now() - t1 });
      return session;
    };
    try {
      const sessions = await layout.sessions(open, plan, log);
      layout.releaseWeights();
      return new SeedVcV2(config, plan, device, files, new V2VoiceConverter(config, sessions), opened);
    } catch (e) {
      await Promise.all(opened.map((s) => s.release().catch(() => {})));
      throw e;
    }
  }
}

/**
 * Loading a Seed-VC model set in Node: resolve the official files (hub names, a mirror, the cache or
 * local paths), pick the device and the per-stage precision, build each network's ONNX graph from its
 * checkpoint (or take it from the graph cache), and open the sessions. The result converts voices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';
import { CAMPPLUS, HIFT, MODEL_SETS, type ModelSetId, RMVPE, bigvganFiles, transformersFiles } from '../core/models/catalog.ts';
import { type SeedVcConfig, parseSeedVcConfig } from '../core/models/config.ts';
import { type DitCheckpoint, loadDitCheckpoint } from '../core/models/dit-checkpoint.ts';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, loadCampplusWeights } from '../core/nets/campplus.ts';
import { buildDitEstimator } from '../core/nets/dit.ts';
import { buildHift, hiftUpsampleFactor, loadHiftWeights, parseHiftConfig } from '../core/nets/hift.ts';
import { buildLengthRegulator } from '../core/nets/length-regulator.ts';
import { buildRmvpe, loadRmvpeWeights, rmvpeConfigFromWeights } from '../core/nets/rmvpe.ts';
import { buildWav2vec2, loadWav2vec2Weights, parseWav2vec2Config } from '../core/nets/wav2vec2.ts';
import { buildWhisperEncoder, loadWhisperEncoderWeights, parseWhisperConfig } from '../core/nets/whisper-encoder.ts';
import type { GraphBuilder } from '../core/onnx/graph.ts';
import type { Precision } from '../core/onnx/nn.ts';
import { type ContentEncoder, WhisperContentEncoder, XlsrContentEncoder } from '../core/pipeline/content.ts';
import { type ConvertOptions, type ConvertResult, type ConverterSessions, VoiceConverter } from '../core/pipeline/convert.ts';
import { RmvpePitchExtractor } from '../core/pipeline/pitch.ts';
import { GraphVocoder, HiftVocoder, type Vocoder } from '../core/pipeline/vocoder.ts';
import { type DeviceCapabilities, type PrecisionPlan, type PrecisionRequest, type StageName, resolvePrecision } from '../core/precision.ts';
import type { NetSession } from '../core/runtime.ts';
import { nodeBackend } from './backend.ts';
import { type DeviceRequest, chooseDevice } from './devices.ts';
import { cachedGraph, fileSha256 } from './graph-cache.ts';
import { type DownloadEvent, type HubOptions, HubError, hubOptionsFromEnv, resolveHubFile } from './hub.ts';

export type LoadEvent =
  | DownloadEvent
  | { type: 'build'; network: NetworkName; status: 'cached' | 'built'; ms: number }
  | { type: 'session'; network: NetworkName; device: string; precision: Precision; ms: number };

export type NetworkName = 'content' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder' | 'pitch';

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
  onEvent?: (e: LoadEvent) => void;
  log?: (line: string) => void;
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

  static async load(options: LoadOptions = {}): Promise<SeedVc> {
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

    files.campplus = await hub(CAMPPLUS.repo, CAMPPLUS.file);
    const tok = config.speechTokenizer;
    if (tok.type === 'cnhubert') throw new InvalidInputError('cnhubert speech tokenizers are not supported (the released models use whisper or xlsr)');
    const tf = transformersFiles(tok.name);
    files.contentConfig = await hub(tf.config.repo, tf.config.file);
    files.content = await firstAvailable(tf.weights.map((w) => () => hub(w.repo, w.file)));
    if (config.vocoder.type === 'bigvgan') {
      const bf = bigvganFiles(config.vocoder.name ?? 'nvidia/bigvgan_v2_22khz_80band_256x');
      files.vocoderConfig = await hub(bf.config.repo, bf.config.file);
      files.vocoder = await hub(bf.weights.repo, bf.weights.file);
    } else if (config.vocoder.type === 'hifigan') {
      files.vocoder = await hub(HIFT.repo, HIFT.file);
    } else {
      throw new InvalidInputError(`vocoder type '${config.vocoder.type}' is not supported (accepted: bigvgan, hifigan)`);
    }
    if (config.lengthRegulator.f0Condition) files.pitch = await hub(RMVPE.repo, RMVPE.file);

    const device = await chooseDevice(o.device ?? 'auto', log);
    const plan = resolvePrecision(o.precision ?? 'auto', device, { vocoderFp16: o.vocoderFp16 });

    let dit: DitCheckpoint | undefined;
    const ditWeights = () => (dit ??= loadDitCheckpoint(readFileSync(files.checkpoint), basename(files.checkpoint), config));
    const read = (p: string) => new Uint8Array(readFileSync(p));
    const hiftCfg = parseHiftConfig('hift: {}\nf0_predictor: {}', 'built-in configs/hifigan.yml');
    // The content encoder's config.json, parsed once for the graph build and the encoder wrapper.
    const contentJson = readFileSync(files.contentConfig, 'utf8');
    const whisperCfg = tok.type === 'whisper' ? parseWhisperConfig(contentJson, files.contentConfig) : undefined;
    const xlsrCfg = tok.type === 'xlsr' ? parseWav2vec2Config(contentJson, tok.outputLayer, files.contentConfig) : undefined;
    // The vocoder's config.json too: every config is checked before any graph is built.
    const bigvganCfg = files.vocoderConfig ? parseBigvganConfig(readFileSync(files.vocoderConfig, 'utf8'), files.vocoderConfig) : undefined;

    const builders: Record<NetworkName, { stage: StageName; sources: string[]; build: (p: Precision) => GraphBuilder }> = {
      content: {
        stage: 'content',
        sources: [files.contentConfig, files.content],
        build: (precision) => (whisperCfg
          ? buildWhisperEncoder(whisperCfg, loadWhisperEncoderWeights(read(files.content), basename(files.content), whisperCfg), { precision })
          : buildWav2vec2(xlsrCfg!, loadWav2vec2Weights(read(files.content), basename(files.content), xlsrCfg!), { precision })),
      },
      speaker: {
        stage: 'speaker',
        sources: [files.campplus],
        build: (precision) => buildCampplus(campplusConfig, loadCampplusWeights(read(files.campplus), basename(files.campplus)), { precision }),
      },
      length_regulator: {
        stage: 'length_regulator',
        sources: [files.config, files.checkpoint],
        build: (precision) => buildLengthRegulator(config.lengthRegulator, ditWeights().lengthRegulator, { precision }),
      },
      dit: {
        stage: 'dit',
        sources: [files.config, files.checkpoint],
        build: (precision) => buildDitEstimator(config, ditWeights().estimator, { precision, keyMask: false }),
      },
      vocoder: {
        stage: 'vocoder',
        sources: files.vocoderConfig ? [files.vocoderConfig, files.vocoder] : [files.vocoder],
        build: (precision) => {
          if (config.vocoder.type === 'hifigan') return buildHift(hiftCfg, loadHiftWeights(read(files.vocoder), basename(files.vocoder), hiftCfg), { precision });
          return buildBigvgan(bigvganCfg!, loadBigvganWeights(read(files.vocoder), basename(files.vocoder), bigvganCfg!), { precision });
        },
      },
      pitch: {
        stage: 'pitch',
        sources: files.pitch ? [files.pitch] : [],
        build: (precision) => {
          const w = loadRmvpeWeights(read(files.pitch), basename(files.pitch));
          return buildRmvpe(rmvpeConfigFromWeights(w), w, { precision });
        },
      },
    };

    const opened: NetSession[] = [];
    const open = async (name: NetworkName, precision: Precision = plan.stages[builders[name].stage].precision): Promise<NetSession> => {
      const b = builders[name];
      const t0 = performance.now();
      const sources = await Promise.all(b.sources.map((p) => fileSha256(p, o.noGraphCache ? undefined : o.cacheDir)));
      const graph = await cachedGraph(o.noGraphCache ? undefined : o.cacheDir, { network: name, precision, sources }, () => b.build(precision).toOnnx());
      emit({ type: 'build', network: name, status: graph.cached ? 'cached' : 'built', ms: performance.now() - t0 });
      const t1 = performance.now();
      const session = await nodeBackend.createSession(graph.bytes, { device: device.device, threads: o.threads, label: name });
      opened.push(session);
      emit({ type: 'session', network: name, device: device.device, precision, ms: performance.now() - t1 });
      return session;
    };

    const makeContent = (session: NetSession): ContentEncoder => (whisperCfg
      ? new WhisperContentEncoder(session, whisperCfg)
      : new XlsrContentEncoder(session, xlsrCfg!.hiddenSize));
    const makeVocoder = (session: NetSession): Vocoder => (config.vocoder.type === 'hifigan'
      ? new HiftVocoder(session, hiftCfg.nbHarmonics, hiftUpsampleFactor(hiftCfg))
      : new GraphVocoder(session));
    // fp32 twins of the fp16 stages, opened on the guard's first need only.
    const fp32Twin = <T>(stage: StageName, name: NetworkName, wrap: (s: NetSession) => T): (() => Promise<T>) | undefined => {
      if (plan.stages[stage].precision !== 'fp16') return undefined;
      let pending: Promise<T> | undefined;
      return () => (pending ??= (async () => {
        log(`fp16 guard: opening an fp32 ${name} session`);
        return wrap(await open(name, 'fp32'));
      })());
    };

    try {
      const sessions: ConverterSessions = {
        content: makeContent(await open('content')),
        speaker: await open('speaker'),
        lengthRegulator: await open('length_regulator'),
        estimator: await open('dit'),
        vocoder: makeVocoder(await open('vocoder')),
        pitch: files.pitch ? new RmvpePitchExtractor(await open('pitch')) : undefined,
        fp32Fallback: {
          content: fp32Twin('content', 'content', makeContent),
          estimator: fp32Twin('dit', 'dit', (s) => s),
          vocoder: fp32Twin('vocoder', 'vocoder', makeVocoder),
        },
      };
      dit = undefined; // the graphs hold the weights now (a later fp32 twin re-reads the checkpoint)
      return new SeedVc(config, plan, device, files, new VoiceConverter(config, sessions), opened);
    } catch (e) {
      await Promise.all(opened.map((s) => s.release().catch(() => {})));
      throw e;
    }
  }
}

/** The first of several alternatives that resolves (e.g. model.safetensors, then pytorch_model.bin). */
async function firstAvailable(tries: (() => Promise<string>)[]): Promise<string> {
  let last: unknown;
  for (const t of tries) {
    try { return await t(); } catch (e) {
      if (!(e instanceof HubError)) throw e;
      last = e;
    }
  }
  throw last;
}

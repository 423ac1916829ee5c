/**
 * The network registry: for each model family, which files it needs (by role, with their hub names),
 * which networks are built from them (builder, precision stage, the files that determine the graph),
 * and which pipeline wrapper each session runs behind. Node's loader (src/node/load.ts), the browser's
 * (src/browser/) and the tests read this; nothing about a network is written anywhere else.
 *
 * Loading a model set, whatever the runtime:
 *   1. resolve `MODEL_SETS[id].checkpoint` / `.config` (catalog.ts) or local files, parse the YAML;
 *   2. `family = familyOf(config)`, then resolve every `family.files(config)` entry (the first hub
 *      alternative that exists wins) into a `ModelFileSource`;
 *   3. `layout = family.layout(config, source)`; for each `layout.networks` entry, build its graph
 *      (`build(precision)` with `precision = plan.stages[stage].precision`), or take it from a graph
 *      cache keyed by the network, the precision and the sha256 of each of its sources;
 *   4. `layout.sessions(open, plan)` wraps the opened sessions into what the converter takes.
 *
 * To add a network to an existing family: give it a role for each new file in `files()`, an entry in
 * `networks` (name, stage, sources, build) and, if the pipeline needs it, a place in `sessions()`.
 * To add a model family (another architecture, e.g. Seed-VC v2): write a `ModelFamily` next to
 * `SEED_VC_V1` below — its own file roles, networks and session bundle type `S` — and return it from
 * `familyOf` for the configs it handles; add its hub names to catalog.ts. Loaders stay unchanged as long
 * as they only use the `ModelFamily` / `ModelLayout` interface.
 */
import { InvalidInputError } from '../errors.ts';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../nets/bigvgan.ts';
import { buildCampplus, campplusConfig, loadCampplusWeights } from '../nets/campplus.ts';
import { buildDitEstimator } from '../nets/dit.ts';
import { type HiftConfig, buildHift, hiftConfigFromWeights, hiftParamShapes, hiftUpsampleFactor, loadHiftWeights, parseHiftConfig } from '../nets/hift.ts';
import { WeightStore, checkShapes } from '../checkpoint/state-dict.ts';
import { buildLengthRegulator } from '../nets/length-regulator.ts';
import { buildRmvpe, loadRmvpeWeights, rmvpeConfigFromWeights } from '../nets/rmvpe.ts';
import { type Wav2vec2Config, buildWav2vec2, loadWav2vec2Weights, parseWav2vec2Config } from '../nets/wav2vec2.ts';
import { type WhisperEncoderConfig, buildWhisperEncoder, loadWhisperEncoderWeights, parseWhisperConfig } from '../nets/whisper-encoder.ts';
import type { GraphBuilder } from '../onnx/graph.ts';
import type { Precision } from '../onnx/nn.ts';
import { type ContentEncoder, WhisperContentEncoder, XlsrContentEncoder } from '../pipeline/content.ts';
import type { ConverterSessions } from '../pipeline/convert.ts';
import { hazardFor } from '../pipeline/guard.ts';
import { RmvpePitchExtractor } from '../pipeline/pitch.ts';
import { GraphVocoder, HiftVocoder, type Vocoder } from '../pipeline/vocoder.ts';
import type { PrecisionPlan, StageName } from '../precision.ts';
import type { NetSession } from '../runtime.ts';
import { CAMPPLUS, HIFT, type HubFile, RMVPE, bigvganFiles, transformersFiles } from './catalog.ts';
import type { SeedVcConfig } from './config.ts';
import { type DitCheckpoint, loadDitCheckpoint } from './dit-checkpoint.ts';

/** The networks of a Seed-VC v1 model set (also the labels of their sessions and cached graphs). */
/** 'pitch' is RMVPE's U-Net (run in windows), 'pitch_fc' its BiGRU head (run over the whole input). */
export type NetworkName = 'content' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder' | 'pitch' | 'pitch_fc';

/** Roles of the two files every model set starts from. */
export const CHECKPOINT_ROLE = 'checkpoint';
export const CONFIG_ROLE = 'config';

/** A file a model needs: its role, and the hub files that can provide it (the first that exists wins). */
export interface FileSpec {
  role: string;
  hub: readonly HubFile[];
}

/**
 * Resolved model files by role. Node reads them from disk on demand; the browser from what it fetched.
 * Only the roles a network lists in `sources` are read when its graph is built; small config files
 * (JSON/YAML) may also be read by `layout()` and `sessions()`.
 */
export interface ModelFileSource {
  has(role: string): boolean;
  bytes(role: string): Uint8Array;
  text(role: string): string;
  /** A name for messages (the file name). */
  name(role: string): string;
}

/** One network: the stage whose precision it runs in, the files its graph is built from, the builder. */
export interface NetworkSpec<N extends string = NetworkName> {
  name: N;
  stage: StageName;
  /** Roles of the files that determine the graph, in a fixed order (the graph cache key hashes them). */
  sources: readonly string[];
  build(precision: Precision): GraphBuilder;
}

/** Opens a session for a network of the layout (building or fetching its graph); fp32 for fp16 twins. */
export type OpenNetwork<N extends string = NetworkName> = (name: N, precision?: Precision) => Promise<NetSession>;

/** A model set's networks once its files are known, and how their sessions plug into the pipeline. */
export interface ModelLayout<S = ConverterSessions, N extends string = NetworkName> {
  /** In the order the sessions are opened. */
  networks: readonly NetworkSpec<N>[];
  /** Opens every network through `open` and wraps the sessions (fp32 twins of fp16 stages opened lazily). */
  sessions(open: OpenNetwork<N>, plan: PrecisionPlan, log?: (line: string) => void): Promise<S>;
  /** Drops weights parsed for the builds (the sessions hold them now; a later build re-reads the files). */
  releaseWeights(): void;
}

/**
 * A family of model sets sharing an architecture; which networks are present follows from the config
 * (`C`: v1's parsed YAML by default; Seed-VC v2 has its own wrapper config, see v2-registry.ts).
 */
export interface ModelFamily<S = ConverterSessions, N extends string = NetworkName, C = SeedVcConfig> {
  id: string;
  /** Every file besides the DiT checkpoint and its YAML. */
  files(config: C): FileSpec[];
  layout(config: C, source: ModelFileSource): ModelLayout<S, N>;
}

/** The built-in HiFT config (CosyVoice's hifigan.yml); a `vocoderConfig` file overrides it. */
const HIFT_BUILTIN = 'hift: {}\nf0_predictor: {}';

/**
 * Seed-VC v1 (inference.py, real-time-gui.py): content encoder (Whisper or XLS-R, as the YAML names it),
 * CAMPPlus speaker encoder, length regulator and DiT estimator (one checkpoint), vocoder (BigVGAN or
 * HiFT), RMVPE pitch for F0-conditioned models.
 */
export const SEED_VC_V1: ModelFamily = {
  id: 'seed-vc-v1',

  files(config) {
    const tok = config.speechTokenizer;
    if (tok.type === 'cnhubert') throw new InvalidInputError('cnhubert speech tokenizers are not supported (the released models use whisper or xlsr)');
    const tf = transformersFiles(tok.name);
    const out: FileSpec[] = [
      { role: 'campplus', hub: [CAMPPLUS] },
      { role: 'contentConfig', hub: [tf.config] },
      { role: 'content', hub: tf.weights },
    ];
    if (config.vocoder.type === 'bigvgan') {
      const bf = bigvganFiles(config.vocoder.name ?? 'nvidia/bigvgan_v2_22khz_80band_256x');
      out.push({ role: 'vocoderConfig', hub: [bf.config] }, { role: 'vocoder', hub: [bf.weights] });
    } else if (config.vocoder.type === 'hifigan') {
      out.push({ role: 'vocoder', hub: [HIFT] });
    } else {
      throw new InvalidInputError(`vocoder type '${config.vocoder.type}' is not supported (accepted: bigvgan, hifigan)`);
    }
    if (config.lengthRegulator.f0Condition) out.push({ role: 'pitch', hub: [RMVPE] });
    return out;
  },

  layout(config, src) {
    const tok = config.speechTokenizer;
    // The content encoder's config.json, parsed once for the graph build and the encoder wrapper.
    const whisperCfg: WhisperEncoderConfig | undefined = tok.type === 'whisper' ? parseWhisperConfig(src.text('contentConfig'), src.name('contentConfig')) : undefined;
    const xlsrCfg: Wav2vec2Config | undefined = tok.type === 'xlsr' ? parseWav2vec2Config(src.text('contentConfig'), tok.outputLayer, src.name('contentConfig')) : undefined;
    const hifigan = config.vocoder.type === 'hifigan';
    const hiftCfg: HiftConfig | undefined = hifigan
      ? (src.has('vocoderConfig') ? parseHiftConfig(src.text('vocoderConfig'), src.name('vocoderConfig')) : parseHiftConfig(HIFT_BUILTIN, 'built-in configs/hifigan.yml'))
      : undefined;
    // Every config is parsed (and range-checked) here, before any graph is built.
    const bigvganCfg = hifigan ? undefined : parseBigvganConfig(src.text('vocoderConfig'), src.name('vocoderConfig'));
    const hasPitch = config.lengthRegulator.f0Condition;

    let dit: DitCheckpoint | undefined;
    const ditWeights = () => (dit ??= loadDitCheckpoint(src.bytes(CHECKPOINT_ROLE), src.name(CHECKPOINT_ROLE), config));
    let rmvpeWeights: WeightStore | undefined;

    const networks: NetworkSpec[] = [
      {
        name: 'content', stage: 'content', sources: ['contentConfig', 'content'],
        build: (precision) => (whisperCfg
          ? buildWhisperEncoder(whisperCfg, loadWhisperEncoderWeights(src.bytes('content'), src.name('content'), whisperCfg), { precision })
          : buildWav2vec2(xlsrCfg!, loadWav2vec2Weights(src.bytes('content'), src.name('content'), xlsrCfg!), { precision })),
      },
      {
        name: 'speaker', stage: 'speaker', sources: ['campplus'],
        build: (precision) => buildCampplus(campplusConfig, loadCampplusWeights(src.bytes('campplus'), src.name('campplus')), { precision }),
      },
      {
        name: 'length_regulator', stage: 'length_regulator', sources: [CONFIG_ROLE, CHECKPOINT_ROLE],
        build: (precision) => buildLengthRegulator(config.lengthRegulator, ditWeights().lengthRegulator, { precision }),
      },
      {
        name: 'dit', stage: 'dit', sources: [CONFIG_ROLE, CHECKPOINT_ROLE],
        build: (precision) => buildDitEstimator(config, ditWeights().estimator, { precision, keyMask: false }),
      },
      {
        name: 'vocoder', stage: 'vocoder',
        sources: hifigan ? (src.has('vocoderConfig') ? ['vocoderConfig', 'vocoder'] : ['vocoder']) : ['vocoderConfig', 'vocoder'],
        build: (precision) => {
          // HiFT also reports its predicted F0 (the streaming checks read it)
          if (hiftCfg && src.has('vocoderConfig')) return buildHift(hiftCfg, loadHiftWeights(src.bytes('vocoder'), src.name('vocoder'), hiftCfg), { precision, f0Output: true });
          if (hiftCfg) { // no hifigan.yml: the released layout with the channel widths the checkpoint has
            const store = WeightStore.fromBytes(src.bytes('vocoder'), src.name('vocoder'));
            const cfg = hiftConfigFromWeights(hiftCfg, store);
            checkShapes(store, hiftParamShapes(cfg), src.name('vocoder'));
            return buildHift(cfg, store, { precision, f0Output: true });
          }
          return buildBigvgan(bigvganCfg!, loadBigvganWeights(src.bytes('vocoder'), src.name('vocoder'), bigvganCfg!), { precision });
        },
      },
    ];
    if (hasPitch) {
      const rmvpe = (precision: Precision, part: 'unet' | 'fc') => {
        rmvpeWeights ??= loadRmvpeWeights(src.bytes('pitch'), src.name('pitch'));
        return buildRmvpe(rmvpeConfigFromWeights(rmvpeWeights), rmvpeWeights, { precision, part });
      };
      networks.push(
        { name: 'pitch', stage: 'pitch', sources: ['pitch'], build: (precision) => rmvpe(precision, 'unet') },
        { name: 'pitch_fc', stage: 'pitch', sources: ['pitch'], build: (precision) => rmvpe(precision, 'fc') },
      );
    }

    const makeContent = (session: NetSession): ContentEncoder => (whisperCfg
      ? new WhisperContentEncoder(session, whisperCfg)
      : new XlsrContentEncoder(session, xlsrCfg!.hiddenSize));
    const makeVocoder = (session: NetSession): Vocoder => (hiftCfg
      ? new HiftVocoder(session, hiftCfg.nbHarmonics, hiftUpsampleFactor(hiftCfg))
      : new GraphVocoder(session));

    return {
      networks,
      async sessions(open, plan, log = () => {}) {
        // fp32 twins of the fp16 / fp16-storage / int8 stages, opened on the guard's first need only.
        const precisionOf = (name: NetworkName) => plan.stages[networks.find((n) => n.name === name)!.stage].precision;
        const fp32Twin = <T>(name: NetworkName, wrap: (s: NetSession) => T): (() => Promise<T>) | undefined => {
          if (precisionOf(name) === 'fp32') return undefined;
          let pending: Promise<T> | undefined;
          return () => (pending ??= (async () => {
            log(`fp16 guard: opening an fp32 ${name} session`);
            return wrap(await open(name, 'fp32'));
          })());
        };
        return {
          content: makeContent(await open('content')),
          speaker: await open('speaker'),
          lengthRegulator: await open('length_regulator'),
          estimator: await open('dit'),
          vocoder: makeVocoder(await open('vocoder')),
          pitch: hasPitch ? new RmvpePitchExtractor(await open('pitch'), await open('pitch_fc')) : undefined,
          fp32Fallback: {
            content: fp32Twin('content', makeContent),
            estimator: fp32Twin('dit', (s) => s),
            vocoder: fp32Twin('vocoder', makeVocoder),
            hazard: { content: hazardFor(precisionOf('content')), estimator: hazardFor(precisionOf('dit')), vocoder: hazardFor(precisionOf('vocoder')) },
          },
        };
      },
      releaseWeights() { dit = undefined; rmvpeWeights = undefined; },
    };
  },
};

/** The family that handles a parsed config (every released v1 YAML today). */
export function familyOf(_config: SeedVcConfig): ModelFamily {
  return SEED_VC_V1;
}

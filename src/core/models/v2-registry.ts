/**
 * Seed-VC v2 in the network registry (registry.ts): its files by role and its non-autoregressive networks.
 * The AR model's networks (prefill / decode over `ar`) belong in this family too; they plug in as more
 * `networks` entries and session fields without changing the ones here.
 *
 * Roles: `config` (configs/v2/vc_wrapper.yaml, supplied by the caller: it lives in the Seed-VC repository,
 * not on the hub), `cfm` (v2/cfm_small.pth: DiT + CFM length regulator), `ar` (v2/ar_base.pth: AR model +
 * its embedding regulator), `astralNarrow` / `astralWide` (ASTRAL extractors), `hubertConfig` / `hubert`
 * (facebook/hubert-large-ll60k), `campplus`, `vocoderConfig` / `vocoder` (the BigVGAN the YAML names).
 */
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../nets/bigvgan.ts';
import { buildCampplus, campplusConfig, loadCampplusWeights } from '../nets/campplus.ts';
import { buildAstralExtractor, loadAstralWeights } from '../nets/v2/astral.ts';
import { buildV2Dit } from '../nets/v2/dit.ts';
import { type HubertConfig, buildHubert, loadHubertWeights, parseHubertConfig } from '../nets/v2/hubert.ts';
import { buildV2LengthRegulator } from '../nets/v2/length-regulator.ts';
import { type ArCacheLayout, type ArCheckpoint, type ArConfig, arConfigFromWrapper, buildArDecode, buildArPrefill, loadArCheckpoint } from '../nets/v2/ar.ts';
import { ArGenerator } from '../pipeline/v2/ar-generate.ts';
import type { PrecisionPlan } from '../precision.ts';
import type { Tensor } from '../tensor.ts';
import type { NetSession } from '../runtime.ts';
import { CAMPPLUS, bigvganFiles, transformersFiles } from './catalog.ts';
import type { FileSpec, ModelFamily, NetworkSpec, OpenNetwork } from './registry.ts';
import { type V2CfmCheckpoint, loadV2CfmCheckpoint } from './v2-checkpoint.ts';
import { V2_HUB, type V2WrapperConfig } from './v2-config.ts';

/** The non-autoregressive networks of a v2 model set (also the labels of their sessions and cached graphs). */
export type V2NetworkName = 'hubert' | 'astral_wide' | 'astral_narrow' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder' | 'ar_prefill' | 'ar_decode';

/** KV-cache layout of the AR decode graph (measured faster than past/present: bench/ar.ts). */
export const V2_AR_CACHE: ArCacheLayout = 'fixed';

/** The opened sessions, with lazily opened fp32 twins of the networks whose stage runs in fp16. */
export interface V2NetSessions {
  hubert: NetSession;
  astralWide: NetSession;
  astralNarrow: NetSession;
  speaker: NetSession;
  lengthRegulator: NetSession;
  estimator: NetSession;
  vocoder: NetSession;
  /** The AR model (convert-style path), opened on first use; its condition table (the AR length regulator). */
  ar: () => Promise<{ generator: ArGenerator; conditionTable: Tensor<'float32'> }>;
  fp32Fallback: Partial<Record<V2NetworkName, () => Promise<NetSession>>>;
}

export const V2_ROLES = {
  config: 'config', cfm: 'cfm', ar: 'ar', astralNarrow: 'astralNarrow', astralWide: 'astralWide',
  hubertConfig: 'hubertConfig', hubert: 'hubert', campplus: 'campplus', vocoderConfig: 'vocoderConfig', vocoder: 'vocoder',
} as const;

export const SEED_VC_V2: ModelFamily<V2NetSessions, V2NetworkName, V2WrapperConfig> = {
  id: 'seed-vc-v2',

  files(config) {
    const hub = transformersFiles(config.contentWide.sslModelName);
    const voc = bigvganFiles(config.vocoder);
    const out: FileSpec[] = [
      { role: V2_ROLES.cfm, hub: [{ repo: V2_HUB.repo, file: V2_HUB.cfm }] },
      { role: V2_ROLES.ar, hub: [{ repo: V2_HUB.repo, file: V2_HUB.ar }] },
      { role: V2_ROLES.astralNarrow, hub: [{ repo: V2_HUB.astralRepo, file: V2_HUB.astralNarrow }] },
      { role: V2_ROLES.astralWide, hub: [{ repo: V2_HUB.astralRepo, file: V2_HUB.astralWide }] },
      { role: V2_ROLES.hubertConfig, hub: [hub.config] },
      { role: V2_ROLES.hubert, hub: hub.weights },
      { role: V2_ROLES.campplus, hub: [CAMPPLUS] },
      { role: V2_ROLES.vocoderConfig, hub: [voc.config] },
      { role: V2_ROLES.vocoder, hub: [voc.weights] },
    ];
    return out;
  },

  layout(config, src) {
    const hubertCfg: HubertConfig = parseHubertConfig(src.text(V2_ROLES.hubertConfig), config.contentWide.sslOutputLayer);
    let cfm: V2CfmCheckpoint | undefined;
    const cfmWeights = () => (cfm ??= loadV2CfmCheckpoint(src.bytes(V2_ROLES.cfm), src.name(V2_ROLES.cfm), config));
    const astral = (side: 'Wide' | 'Narrow', precision: Parameters<NetworkSpec['build']>[0]) => {
      const cfg = side === 'Wide' ? config.contentWide : config.contentNarrow;
      const role = side === 'Wide' ? V2_ROLES.astralWide : V2_ROLES.astralNarrow;
      return buildAstralExtractor(cfg, loadAstralWeights(src.bytes(role), src.name(role), cfg), { precision });
    };
    const arParsed = arConfigFromWrapper(config.raw);
    let arCkpt: ArCheckpoint | undefined;
    const arWeights = () => (arCkpt ??= loadArCheckpoint(src.bytes(V2_ROLES.ar), src.name(V2_ROLES.ar), arParsed.ar, arParsed.conditionCodebook));
    const networks: NetworkSpec<V2NetworkName>[] = [
      {
        name: 'hubert', stage: 'content', sources: [V2_ROLES.hubertConfig, V2_ROLES.hubert],
        build: (precision) => buildHubert(hubertCfg, loadHubertWeights(src.bytes(V2_ROLES.hubert), src.name(V2_ROLES.hubert), hubertCfg), { precision }),
      },
      { name: 'astral_wide', stage: 'content', sources: [V2_ROLES.config, V2_ROLES.astralWide], build: (precision) => astral('Wide', precision) },
      { name: 'astral_narrow', stage: 'content', sources: [V2_ROLES.config, V2_ROLES.astralNarrow], build: (precision) => astral('Narrow', precision) },
      {
        name: 'speaker', stage: 'speaker', sources: [V2_ROLES.campplus],
        // compute_style pools over the first frames // 2 TDNN outputs (x_lens = fbank frames // 2)
        build: (precision) => buildCampplus(campplusConfig, loadCampplusWeights(src.bytes(V2_ROLES.campplus), src.name(V2_ROLES.campplus)), { precision, halfLengthPooling: true }),
      },
      {
        name: 'length_regulator', stage: 'length_regulator', sources: [V2_ROLES.config, V2_ROLES.cfm],
        build: (precision) => buildV2LengthRegulator(config.cfmLengthRegulator, cfmWeights().lengthRegulator, { precision }),
      },
      {
        // the CFM always passes x_lens = frames: the key mask keeps every key, so it is left out
        name: 'dit', stage: 'dit', sources: [V2_ROLES.config, V2_ROLES.cfm],
        build: (precision) => buildV2Dit(config.dit, cfmWeights().estimator, { precision, keyMask: false }),
      },
      {
        name: 'vocoder', stage: 'vocoder', sources: [V2_ROLES.vocoderConfig, V2_ROLES.vocoder],
        build: (precision) => {
          const c = parseBigvganConfig(src.text(V2_ROLES.vocoderConfig));
          return buildBigvgan(c, loadBigvganWeights(src.bytes(V2_ROLES.vocoder), src.name(V2_ROLES.vocoder), c), { precision });
        },
      },
      // the AR runs under the same autocast as the convert-style CFM: it follows the dit stage
      { name: 'ar_prefill', stage: 'dit', sources: [V2_ROLES.config, V2_ROLES.ar], build: (precision) => buildArPrefill(arParsed.ar, arWeights().ar, { precision }) },
      {
        name: 'ar_decode', stage: 'dit', sources: [V2_ROLES.config, V2_ROLES.ar],
        build: (precision) => buildArDecode(arParsed.ar, arWeights().ar, { precision, cache: V2_AR_CACHE }),
      },
    ];
    return {
      networks,
      sessions: (open, plan: PrecisionPlan, log = () => {}) =>
        // the condition table is small: read it now so the AR weights can be released
        openV2Sessions(networks, open, plan, arParsed.ar, arWeights().conditionTable, log),
      releaseWeights() { cfm = undefined; arCkpt = undefined; },
    };
  },
};

/**
 * Opens the v2 networks through `open` and wraps them into what the v2 converter takes: fp32 twins of the
 * networks whose stage is not fp32 are opened on the fp16 guard's first need, the AR on first use.
 */
export async function openV2Sessions(
  networks: readonly { name: V2NetworkName; stage: NetworkSpec<V2NetworkName>['stage'] }[], open: OpenNetwork<V2NetworkName>,
  plan: PrecisionPlan, arConfig: ArConfig, conditionTable: Tensor<'float32'>, log: (line: string) => void = () => {},
): Promise<V2NetSessions> {
  const fp32Fallback: V2NetSessions['fp32Fallback'] = {};
  for (const n of networks) {
    if (plan.stages[n.stage].precision === 'fp32') continue; // fp16, or fp16-storage on a CPU
    let pending: Promise<NetSession> | undefined;
    fp32Fallback[n.name] = () => (pending ??= (log(`fp16 guard: opening an fp32 ${n.name} session`), open(n.name, 'fp32')));
  }
  let ar: ReturnType<V2NetSessions['ar']> | undefined;
  return {
    ar: () => (ar ??= (async () => ({
      generator: new ArGenerator(arConfig, await open('ar_prefill'), await open('ar_decode'), V2_AR_CACHE),
      conditionTable,
    }))()),
    hubert: await open('hubert'),
    astralWide: await open('astral_wide'),
    astralNarrow: await open('astral_narrow'),
    speaker: await open('speaker'),
    lengthRegulator: await open('length_regulator'),
    estimator: await open('dit'),
    vocoder: await open('vocoder'),
    fp32Fallback,
  };
}

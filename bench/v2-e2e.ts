/**
 * A whole Seed-VC v2 conversion at the official sizes (configs/v2/vc_wrapper.yaml, HuBERT-large, CAMPPlus,
 * BigVGAN 22 kHz 80-band) with random weights, in one precision, through the library's V2VoiceConverter:
 *   node --import tsx bench/v2-e2e.ts fp32|fp16 [--quick] [--steps N] [--source S] [--reference R]
 * Runs the default (timbre) path, then the --convert-style path, on real speech from ../shared/audio looped to
 * S seconds (default 10) and a reference of R seconds (default 5). Per path: seconds per network (timed around
 * each session run), the pipeline's per-stage seconds, AR tokens and tokens/s, total, RTF and the process's
 * peak RSS so far (monotonic: the style path's figure covers both). Prints one JSON line (V2E2eResult).
 * The sessions are built in-process from random weights (no hub files); on a CPU the fp16 mode builds
 * 'fp16-storage' graphs for the stages Seed-VC runs in fp16 (content, DiT, the AR), as SeedVc.load does.
 * Random weights never sample the AR's end token by themselves: its logit is raised after as many tokens as
 * the source has wide ids (50 per second), about what a trained model produces at length adjust 1.
 * --quick: 2 layers of each deep stack (HuBERT, ASTRAL, DiT, AR), a 3 s source and 2 s reference, 4 steps.
 */
import { buildBigvgan, bigvganParamShapes, parseBigvganConfig } from '../src/core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, campplusParamShapes } from '../src/core/nets/campplus.ts';
import { astralParamShapes, buildAstralExtractor } from '../src/core/nets/v2/astral.ts';
import { arConfigFromWrapper, arEndToken, arParamShapes, buildArDecode, buildArPrefill } from '../src/core/nets/v2/ar.ts';
import { buildV2Dit, v2DitParamShapes } from '../src/core/nets/v2/dit.ts';
import { type HubertConfig, buildHubert, hubertParamShapes } from '../src/core/nets/v2/hubert.ts';
import { buildV2LengthRegulator, v2LengthRegulatorParamShapes } from '../src/core/nets/v2/length-regulator.ts';
import { officialV2Wrapper, parseV2WrapperConfig } from '../src/core/models/v2-config.ts';
import { V2_AR_CACHE, type V2NetworkName, openV2Sessions } from '../src/core/models/v2-registry.ts';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import type { Precision } from '../src/core/onnx/nn.ts';
import { seededDraws } from '../src/core/pipeline/v2/ar-sampler.ts';
import { type V2ConvertResult, V2VoiceConverter } from '../src/core/pipeline/v2/convert.ts';
import { type PrecisionRequest, type StageName, resolvePrecision } from '../src/core/precision.ts';
import type { NetSession } from '../src/core/runtime.ts';
import { readAudioFile } from '../src/node/audio-file.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { randomWeights } from '../test/helpers/onnx.ts';

export interface V2E2ePath {
  path: 'timbre' | 'style';
  /** Seconds inside each network's session runs (hubert, astral_wide, astral_narrow, speaker, ...). */
  networks: Record<string, number>;
  /** The pipeline's own stage seconds (content = HuBERT + ASTRAL + resampling; ar includes opening its sessions). */
  stages: Record<string, number>;
  arTokens?: number;
  arTokensPerSecond?: number;
  arOpenSeconds?: number;
  /** Seconds inside the AR prefill and decode sessions (the rest of the AR stage is the TypeScript sampler). */
  arSessionSeconds?: number;
  total: number;
  rtf: number;
  outputSeconds: number;
  peakRssMiB: number;
  guardEvents: number;
}

export interface V2E2eResult {
  precision: string;
  quick: boolean;
  steps: number;
  sourceSeconds: number;
  referenceSeconds: number;
  buildSeconds: number;
  stagePrecisions: Record<string, string>;
  paths: V2E2ePath[];
}

const argv = process.argv.slice(2);
const request = argv[0] as PrecisionRequest;
if (request !== 'fp32' && request !== 'fp16') throw new Error('usage: v2-e2e.ts fp32|fp16 [--quick] [--steps N] [--source S] [--reference R]');
const quick = argv.includes('--quick');
const flag = (name: string, def: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : def);
const steps = flag('--steps', quick ? 4 : 10);
const sourceSeconds = flag('--source', quick ? 3 : 10);
const referenceSeconds = flag('--reference', quick ? 2 : 5);
const depth = (n: number) => (quick ? 2 : n);
const log = (s: string) => process.stderr.write(`${s}\n`);

const official = parseV2WrapperConfig(JSON.stringify(officialV2Wrapper()), 'official v2 sizes');
const config = {
  ...official,
  dit: { ...official.dit, depth: depth(official.dit.depth) },
  contentWide: { ...official.contentWide, numBlocks: depth(official.contentWide.numBlocks) },
  contentNarrow: { ...official.contentNarrow, numBlocks: depth(official.contentNarrow.numBlocks) },
};
const HUBERT: HubertConfig = {
  hiddenSize: 1024, numAttentionHeads: 16, intermediateSize: 4096, convDim: new Array(7).fill(512),
  convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true,
  numConvPosEmbeddings: 128, numConvPosEmbeddingGroups: 16, layerNormEps: 1e-5, numHiddenLayers: 24,
  outputLayer: depth(official.contentWide.sslOutputLayer), finalLayerNorm: false,
};
// nvidia/bigvgan_v2_22khz_80band_256x
const VOCODER = parseBigvganConfig({
  num_mels: 80, upsample_rates: [4, 4, 2, 2, 2, 2], upsample_kernel_sizes: [8, 8, 4, 4, 4, 4], upsample_initial_channel: 1536,
  resblock: '1', resblock_kernel_sizes: [3, 7, 11], resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
  activation: 'snakebeta', snake_logscale: true, use_tanh_at_final: false, use_bias_at_final: false, sampling_rate: 22050, hop_size: 256,
});
const arParsed = arConfigFromWrapper(official.raw);
const AR = { ...arParsed.ar, nLayer: depth(arParsed.ar.nLayer) };

const builders: Record<V2NetworkName, { stage: StageName; build: (p: Precision) => GraphBuilder }> = {
  hubert: { stage: 'content', build: (p) => buildHubert(HUBERT, randomWeights(hubertParamShapes(HUBERT), 1), { precision: p }) },
  astral_wide: { stage: 'content', build: (p) => buildAstralExtractor(config.contentWide, randomWeights(astralParamShapes(config.contentWide), 2), { precision: p }) },
  astral_narrow: { stage: 'content', build: (p) => buildAstralExtractor(config.contentNarrow, randomWeights(astralParamShapes(config.contentNarrow), 3), { precision: p }) },
  speaker: { stage: 'speaker', build: (p) => buildCampplus(campplusConfig, randomWeights(campplusParamShapes(campplusConfig), 4), { precision: p, halfLengthPooling: true }) },
  length_regulator: { stage: 'length_regulator', build: (p) => buildV2LengthRegulator(config.cfmLengthRegulator, randomWeights(v2LengthRegulatorParamShapes(config.cfmLengthRegulator), 5), { precision: p }) },
  dit: { stage: 'dit', build: (p) => buildV2Dit(config.dit, randomWeights(v2DitParamShapes(config.dit), 6), { precision: p, keyMask: false }) },
  vocoder: { stage: 'vocoder', build: (p) => buildBigvgan(VOCODER, randomWeights(bigvganParamShapes(VOCODER), 7), { precision: p }) },
  ar_prefill: { stage: 'dit', build: (p) => buildArPrefill(AR, randomWeights(arParamShapes(AR), 8), { precision: p }) },
  ar_decode: { stage: 'dit', build: (p) => buildArDecode(AR, randomWeights(arParamShapes(AR), 8), { precision: p, cache: V2_AR_CACHE }) },
};

// Random weights never end the AR (their logits are peaky enough that top-p drops the end token): after as many
// tokens as the source has wide ids (HuBERT: 50 frames per second), the end token's logit is raised above the rest.
const arTarget = Math.round(sourceSeconds * 50);
const end = arEndToken(AR);
let arStep = 0;
function endAfterTarget(name: 'ar_prefill' | 'ar_decode', logits: Float32Array): void {
  arStep = name === 'ar_prefill' ? 0 : arStep + 1;
  if (arStep < arTarget) return;
  const row = logits.subarray(logits.length - AR.vocabSize);
  row[end] = row.reduce((a, b) => Math.max(a, b), -Infinity) + 100;
}

const plan = resolvePrecision(request, { device: 'cpu' });
const networkSeconds: Record<string, number> = {};
let buildSeconds = 0;
const opened: NetSession[] = [];

/** Builds and opens one network; its runs add to networkSeconds[name]. */
async function open(name: V2NetworkName, precision?: Precision): Promise<NetSession> {
  const p = precision ?? plan.stages[builders[name].stage].precision;
  const t0 = performance.now();
  const bytes = builders[name].build(p).toOnnx();
  const session = await nodeBackend.createSession(bytes, { label: `v2/${name}` });
  buildSeconds += (performance.now() - t0) / 1000;
  log(`  ${name} (${p}) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  opened.push(session);
  const key = precision ? `${name}_${precision}` : name;
  return {
    label: session.label, device: session.device, inputNames: session.inputNames, outputNames: session.outputNames,
    async run(feeds) {
      const t = performance.now();
      const out = await session.run(feeds);
      networkSeconds[key] = (networkSeconds[key] ?? 0) + (performance.now() - t) / 1000;
      if (name === 'ar_prefill' || name === 'ar_decode') endAfterTarget(name, out.logits.data as Float32Array);
      return out;
    },
    release: () => session.release(),
  };
}

const conditionTable = randomWeights(new Map([['embedding.weight', [arParsed.conditionCodebook, AR.dim]]]), 9).get('embedding.weight', [arParsed.conditionCodebook, AR.dim]);
log(`building the v2 networks (${request}${quick ? ', quick: 2 layers per deep stack' : ', official sizes'}, random weights)`);
const networks = (Object.keys(builders) as V2NetworkName[]).map((name) => ({ name, stage: builders[name].stage }));
const sessions = await openV2Sessions(networks, open, plan, AR, conditionTable);
const { fp32Fallback } = sessions;
// fp16 mode: the default path runs the fp32 DiT twin (opened lazily by the library); open it before timing.
if (fp32Fallback.dit) await fp32Fallback.dit();
const converter = new V2VoiceConverter(config, sessions);

async function speech(file: string, seconds: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const a = await readAudioFile(decodeURIComponent(new URL(`../../shared/audio/${file}`, import.meta.url).pathname));
  const n = Math.round(seconds * a.sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += a.samples.length) out.set(a.samples.subarray(0, Math.min(a.samples.length, n - i)), i);
  return { samples: out, sampleRate: a.sampleRate };
}
const source = await speech('source_s1.wav', sourceSeconds);
const reference = await speech('s1p1.wav', referenceSeconds);

const base = seededDraws(11);
// (and no earlier end: a chance draw of it before the target would shorten the measurement)
const draws = (step: number, vocab: number) => { const q = base(step, vocab); if (step < arTarget) q[end] = Infinity; return q; };

const paths: V2E2ePath[] = [];
for (const path of ['timbre', 'style'] as const) {
  let arTokens = 0;
  let arOpen = 0;
  if (path === 'style') { const t = performance.now(); await converter.openAr(); arOpen = (performance.now() - t) / 1000; }
  const before = { ...networkSeconds };
  log(`${path} path: ${sourceSeconds} s source, ${referenceSeconds} s reference, ${steps} steps`);
  const r: V2ConvertResult = await converter.convert(source, reference, {
    diffusionSteps: steps, convertStyle: path === 'style', seed: 1, draws,
    onProgress: (e) => {
      if (e.type === 'ar' && e.tokens > arTokens) arTokens = e.tokens;
      if (e.type === 'stage' && e.status === 'done') log(`  ${e.stage} ${((e.ms ?? 0) / 1000).toFixed(2)} s`);
    },
  });
  const networks: Record<string, number> = {};
  for (const [k, v] of Object.entries(networkSeconds)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) networks[k] = d;
  }
  const stages = Object.fromEntries(Object.entries(r.timings).filter(([k]) => k !== 'total').map(([k, v]) => [k, v / 1000]));
  const arSeconds = (networks.ar_prefill ?? 0) + (networks.ar_decode ?? 0);
  paths.push({
    path, networks, stages, total: r.timings.total / 1000, rtf: r.rtf, outputSeconds: r.audio.length / r.sampleRate,
    peakRssMiB: process.resourceUsage().maxRSS / 1024, guardEvents: r.guard.length,
    ...(path === 'style' ? { arTokens, arTokensPerSecond: arTokens / stages.ar, arOpenSeconds: arOpen, arSessionSeconds: arSeconds } : {}),
  });
  log(`  total ${(r.timings.total / 1000).toFixed(2)} s, RTF ${r.rtf.toFixed(3)}`);
}
await Promise.all(opened.map((s) => s.release()));
const stagePrecisions = Object.fromEntries(Object.entries(plan.stages).map(([k, v]) => [k, v.precision]));
const result: V2E2eResult = { precision: request, quick, steps, sourceSeconds, referenceSeconds, buildSeconds, stagePrecisions, paths };
process.stdout.write(`${JSON.stringify(result)}\n`);

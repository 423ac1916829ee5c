/**
 * Streaming benchmark (run by bench/run.ts --only stream, in a child process of its own):
 *   node --import tsx bench/stream.ts <device> [quick|full] [fp32|int8]
 * The real-time model set at its official size with random weights — XLS-R 300m (12 layers), the
 * xlsr-tiny DiT (9 x 384, time and style as tokens), its length regulator, CAMPPlus, HiFT (512 base
 * channels) — through the StreamingConverter (int8: the content encoder and the DiT as the int8 mode builds them) on real speech, block after block. Per settings: the
 * per-block compute time (median, p95, max) against the block time (real time needs < 1) and the
 * algorithmic latency. Graphs are cached under $TMPDIR/seed-vc-bench.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readWav, toMono } from '../src/core/audio/index.ts';
import { resampleSoxr } from '../src/core/dsp/soxr.ts';
import { parseSeedVcConfig } from '../src/core/models/config.ts';
import { buildCampplus, campplusConfig, campplusParamShapes } from '../src/core/nets/campplus.ts';
import { buildDitEstimator, ditParamShapes } from '../src/core/nets/dit.ts';
import { buildHift, hiftParamShapes, hiftUpsampleFactor, parseHiftConfig } from '../src/core/nets/hift.ts';
import { buildLengthRegulator, lengthRegulatorParamShapes } from '../src/core/nets/length-regulator.ts';
import { type Wav2vec2Config, buildWav2vec2, wav2vec2ParamShapes } from '../src/core/nets/wav2vec2.ts';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import { XlsrContentEncoder } from '../src/core/pipeline/content.ts';
import type { ConverterSessions } from '../src/core/pipeline/convert.ts';
import { StreamingConverter, type StreamSettings, STREAM_DEFAULTS, algorithmicLatency } from '../src/core/pipeline/stream.ts';
import { StreamStats } from '../src/core/pipeline/stream-io.ts';
import { HiftVocoder } from '../src/core/pipeline/vocoder.ts';
import type { Device } from '../src/core/runtime.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { AUDIO, HUB } from '../test/helpers/golden.ts';
import { randomWeights } from '../test/helpers/onnx.ts';

export interface StreamBenchRow {
  label: string;
  settings: StreamSettings;
  blockMs: number;
  latencyMs: number;
  blocks: number;
  computeMs: { p50: number; p95: number; max: number };
  ratio: number;
  stagesMs: Record<string, number>;
}

const [device = 'cpu', mode = 'full', precision = 'fp32'] = process.argv.slice(2) as [Device, string, 'fp32' | 'int8'];
const dir = join(tmpdir(), 'seed-vc-bench');
mkdirSync(dir, { recursive: true });

// The official real-time preset = the hub twin's YAML with the released sizes.
const doc = parse(readFileSync(join(HUB, 'Plachta', 'Seed-VC', 'config_dit_mel_seed_uvit_xlsr_tiny.yml'), 'utf8'));
Object.assign(doc.model_params.length_regulator, { channels: 384, in_channels: 1024, content_codebook_size: 1024 });
Object.assign(doc.model_params.DiT, { hidden_dim: 384, num_heads: 6, depth: 9, content_dim: 384, content_codebook_size: 1024 });
const config = parseSeedVcConfig(stringify(doc), 'config_dit_mel_seed_uvit_xlsr_tiny.yml (official sizes)');
const xlsr: Wav2vec2Config = {
  hiddenSize: 1024, numAttentionHeads: 16, intermediateSize: 4096, convDim: new Array(7).fill(512),
  convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true,
  numConvPosEmbeddings: 128, numConvPosEmbeddingGroups: 16, layerNormEps: 1e-5, numHiddenLayers: 24, outputLayer: 12,
};
const hift = parseHiftConfig('hift: {}\nf0_predictor: {}', 'hifigan.yml');

async function open(name: string, build: () => GraphBuilder, p: 'fp32' | 'int8' = 'fp32') {
  const path = join(dir, `stream-${name}-${p}.onnx`);
  if (!existsSync(path)) writeFileSync(path, build().toOnnx());
  return nodeBackend.createSession(new Uint8Array(readFileSync(path)), { device, label: name });
}

const sessions: ConverterSessions = {
  content: new XlsrContentEncoder(await open('xlsr300m-12', () => buildWav2vec2(xlsr, randomWeights(wav2vec2ParamShapes(xlsr), 21), { precision }), precision), 1024),
  speaker: await open('campplus', () => buildCampplus(campplusConfig, randomWeights(campplusParamShapes(campplusConfig), 22))),
  lengthRegulator: await open('lr-xlsr', () => buildLengthRegulator(config.lengthRegulator, randomWeights(lengthRegulatorParamShapes(config.lengthRegulator), 23))),
  estimator: await open('dit-xlsr-tiny', () => buildDitEstimator(config, randomWeights(ditParamShapes(config), 24), { precision, keyMask: false }), precision),
  vocoder: new HiftVocoder(await open('hift', () => buildHift(hift, randomWeights(hiftParamShapes(hift), 25))), hift.nbHarmonics, hiftUpsampleFactor(hift)),
};

const load = (name: string) => {
  const a = readWav(new Uint8Array(readFileSync(join(AUDIO, name))), name);
  return resampleSoxr(toMono(a), a.sampleRate, config.mel.sampleRate);
};
const reference = load('s1p1.wav');
const source = load('source_s1.wav');

const variants: { label: string; s: Partial<StreamSettings> }[] = [
  { label: 'README (10 steps, CFG 0.7)', s: {} },
  { label: '4 steps, CFG 0', s: { diffusionSteps: 4, inferenceCfgRate: 0 } },
  { label: 'block 0.3, 4 steps, CFG 0', s: { blockTime: 0.3, diffusionSteps: 4, inferenceCfgRate: 0 } },
  { label: 'block 0.5, ctx 1.0/0.3, prompt 1.5, 3 steps, CFG 0', s: { blockTime: 0.5, extraTimeCe: 1, extraTime: 0.3, maxPromptLength: 1.5, diffusionSteps: 3, inferenceCfgRate: 0 } },
  { label: 'block 1.0, ctx 1.0/0.3, prompt 1.5, 3 steps, CFG 0', s: { blockTime: 1.0, extraTimeCe: 1, extraTime: 0.3, maxPromptLength: 1.5, diffusionSteps: 3, inferenceCfgRate: 0 } },
];

const rows: StreamBenchRow[] = [];
for (const v of variants) {
  const conv = new StreamingConverter(config, sessions, v.s, { seed: 1 });
  conv.setReference(reference);
  await conv.referenceCache();
  const B = conv.sizes.blockFrame;
  const blocks = Math.min(mode === 'quick' ? 4 : 10, Math.floor(source.length / B) - 1);
  const stats = new StreamStats(B / conv.sampleRate);
  const stages: Record<string, number[]> = {};
  for (let k = 0; k < blocks + 1; k++) {
    const r = await conv.process(source.subarray(k * B, (k + 1) * B));
    if (k === 0) continue; // warm-up
    stats.add(r.ms.total, false);
    for (const [name, ms] of Object.entries(r.ms)) (stages[name] ??= []).push(ms);
  }
  const s = stats.summary();
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  rows.push({
    label: v.label, settings: conv.settings, blockMs: (B / conv.sampleRate) * 1000,
    latencyMs: algorithmicLatency(conv.sizes).seconds * 1000, blocks: s.blocks, computeMs: s.computeMs,
    ratio: s.computeMs.p50 / ((B / conv.sampleRate) * 1000),
    stagesMs: Object.fromEntries(Object.entries(stages).filter(([k]) => k !== 'total' && k !== 'reference').map(([k, a]) => [k, median(a)])),
  });
}
process.stdout.write(`${JSON.stringify({ device, precision, settingsDefaults: STREAM_DEFAULTS, rows })}\n`);

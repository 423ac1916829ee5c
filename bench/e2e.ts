/**
 * One whole conversion at official sizes with random weights (run by bench/run.ts, one child process per
 * precision so peak memory is that precision's alone):
 *   node --expose-gc --import tsx bench/e2e.ts <precision> <steps[,steps…]> <source s> <reference s> [profile] [singing]
 * The five networks (Whisper-small, CAMPPlus, the length regulator, the whisper-small-wavenet DiT, BigVGAN
 * 22 kHz) are built once per precision and cached under $TMPDIR/seed-vc-bench; the source and reference
 * are real speech from ../shared/audio, looped to the requested length. Prints one JSON line (E2eResult).
 * With `profile`, the sessions write ONNX Runtime profiles and the result carries the FLOPs per stage.
 * With `singing`, the 44.1 kHz singing set instead (Whisper-small, CAMPPlus, RMVPE, the F0-conditioned
 * regulator 768 -> 768, DiT 17 x 768 with the MLP head, BigVGAN 44 kHz 128-band 512x) on a real song.
 * Memory: the resident set after each session opens (per network, after a GC) and after the first
 * conversion, above the bare process (ONNX Runtime loaded, nothing built).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseSeedVcConfig } from '../src/core/models/config.ts';
import { buildBigvgan, bigvganParamShapes, parseBigvganConfig } from '../src/core/nets/bigvgan.ts';
import { buildDitEstimator, ditParamShapes } from '../src/core/nets/dit.ts';
import { buildLengthRegulator, lengthRegulatorParamShapes } from '../src/core/nets/length-regulator.ts';
import { RMVPE_OFFICIAL, buildRmvpe, rmvpeParamShapes } from '../src/core/nets/rmvpe.ts';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import { WhisperContentEncoder } from '../src/core/pipeline/content.ts';
import { VoiceConverter } from '../src/core/pipeline/convert.ts';
import { RmvpePitchExtractor } from '../src/core/pipeline/pitch.ts';
import { GraphVocoder } from '../src/core/pipeline/vocoder.ts';
import { type PrecisionRequest, type StageName, resolvePrecision } from '../src/core/precision.ts';
import type { NetSession } from '../src/core/runtime.ts';
import { readAudioFile } from '../src/node/audio-file.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { cpuCapabilities } from '../src/node/devices.ts';
import { OFFICIAL_WHISPER as whisperCfg, officialBuildersFrom, officialConfigFrom } from './official.ts';
import { profileFlops } from './profile-flops.ts';
import { SINGING_DIT } from './official.ts';
import { randomWeights } from '../test/helpers/random-weights.ts';

export type E2eStage = 'content' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder';
export const E2E_STAGES: readonly E2eStage[] = ['content', 'speaker', 'length_regulator', 'dit', 'vocoder'];
/** The networks of a set: the speech set's five, plus RMVPE's U-Net ('pitch') and BiGRU head ('pitch_fc') in the singing set. */
export type E2eNet = E2eStage | 'pitch' | 'pitch_fc';
export type E2eSet = 'speech' | 'singing';

export interface E2eRun {
  steps: number;
  /** Seconds per stage and in total; rtf = total / output seconds. */
  seconds: Record<E2eStage | 'total', number> & { pitch?: number };
  rtf: number;
  outputSeconds: number;
}

export interface E2eResult {
  precision: string;
  plan: Record<string, string>;
  sourceSeconds: number;
  referenceSeconds: number;
  runs: E2eRun[];
  set: E2eSet;
  /** Peak resident set of the whole process (bytes), and the part above the bare process before loading. */
  peakRss: number;
  peakAboveBaseline: number;
  /** Resident set of the bare process (ONNX Runtime loaded, nothing built), bytes. */
  baselineRss: number;
  /**
   * Resident bytes above the baseline: `perNet` is each session's growth when it opened (after a GC, so
   * the serialized graph is gone: what ONNX Runtime keeps for that network's weights, prepacked or
   * folded copies included), `sessions` all of them together, `afterWarmup` after the first conversion
   * (the sessions plus the arenas the activations left).
   */
  resident: { perNet: Partial<Record<E2eNet, number>>; sessions: number; afterWarmup: number };
  /** Bytes of the serialized graphs (weights as stored). */
  graphBytes: Partial<Record<E2eNet, number>>;
  loadSeconds: number;
  /** With `profile`: FLOPs per stage for the first entry of `steps`. */
  flops?: Record<E2eStage, number>;
  unknownNodes?: number;
}

export const E2E_BENCH_VERSION = 5; // bump when a builder changes what it emits
const HUB = new URL('../../shared/golden/hub/Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml', import.meta.url);
const SINGING_HUB = new URL('../../shared/golden/hub/Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_base_f0_44k.yml', import.meta.url);
const AUDIO = new URL('../../shared/audio/', import.meta.url);

/** The official whisper-small-wavenet configuration (the parity set's tiny YAML, at the official sizes). */
export function officialConfig() {
  return officialConfigFrom(readFileSync(HUB, 'utf8'));
}

/** Graph builders at official size with seeded random weights, per network. */
export function officialBuilders(): Record<E2eStage, (p: import('../src/core/onnx/nn.ts').Precision) => GraphBuilder> {
  return officialBuildersFrom(officialConfig());
}

/** The official singing configuration (config_dit_mel_seed_uvit_whisper_base_f0_44k.yml at its official sizes). */
export function singingConfig() {
  const tiny = parseSeedVcConfig(readFileSync(SINGING_HUB, 'utf8'), 'config_dit_mel_seed_uvit_whisper_base_f0_44k.yml');
  return {
    ...tiny,
    styleDim: SINGING_DIT.styleDim,
    dit: SINGING_DIT.dit,
    wavenet: undefined,
    lengthRegulator: { ...tiny.lengthRegulator, channels: 768, inChannels: 768 },
  };
}

const bigvgan44Cfg = parseBigvganConfig({
  num_mels: 128, upsample_rates: [8, 4, 2, 2, 2, 2], upsample_kernel_sizes: [16, 8, 4, 4, 4, 4], upsample_initial_channel: 1536,
  resblock: '1', resblock_kernel_sizes: [3, 7, 11], resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
  activation: 'snakebeta', snake_logscale: true, use_tanh_at_final: false, use_bias_at_final: false, sampling_rate: 44100, hop_size: 512,
});

/** The singing set's graph builders at official size with seeded random weights. */
export function singingBuilders(): Record<E2eNet, (p: import('../src/core/onnx/nn.ts').Precision) => GraphBuilder> {
  const cfg = singingConfig();
  const speech = officialBuilders();
  return {
    content: speech.content,
    speaker: speech.speaker,
    pitch: (precision) => buildRmvpe(RMVPE_OFFICIAL, randomWeights(rmvpeParamShapes(RMVPE_OFFICIAL), 8), { precision, part: 'unet' }),
    pitch_fc: (precision) => buildRmvpe(RMVPE_OFFICIAL, randomWeights(rmvpeParamShapes(RMVPE_OFFICIAL), 8), { precision, part: 'fc' }),
    length_regulator: (precision) => buildLengthRegulator(cfg.lengthRegulator, randomWeights(lengthRegulatorParamShapes(cfg.lengthRegulator), 9), { precision }),
    dit: (precision) => buildDitEstimator(SINGING_DIT, randomWeights(ditParamShapes(SINGING_DIT), 10), { precision, keyMask: false }),
    vocoder: (precision) => buildBigvgan(bigvgan44Cfg, randomWeights(bigvganParamShapes(bigvgan44Cfg), 12), { precision }),
  };
}

/** Real audio, looped to `seconds`. */
async function audio(file: string, seconds: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const a = await readAudioFile(fileFromUrl(new URL(file, AUDIO)));
  const n = Math.round(seconds * a.sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += a.samples.length) out.set(a.samples.subarray(0, Math.min(a.samples.length, n - i)), i);
  return { samples: out, sampleRate: a.sampleRate };
}

function fileFromUrl(u: URL): string { return decodeURIComponent(u.pathname); }

const STAGE_OF: Record<E2eNet, StageName> = { content: 'content', speaker: 'speaker', pitch: 'pitch', pitch_fc: 'pitch', length_regulator: 'length_regulator', dit: 'dit', vocoder: 'vocoder' };
const SPEECH_NETS: readonly E2eNet[] = E2E_STAGES;
const SINGING_NETS: readonly E2eNet[] = ['content', 'speaker', 'pitch', 'pitch_fc', 'length_regulator', 'dit', 'vocoder'];

/** The resident set now, after a full GC when the process runs with --expose-gc (bytes). */
function residentNow(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) { gc(); gc(); }
  return process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [precisionArg, stepsArg, srcArg, refArg] = args;
  const mode = args.includes('profile') ? 'profile' : undefined;
  const set: E2eSet = args.includes('singing') ? 'singing' : 'speech';
  const request = precisionArg as PrecisionRequest;
  const stepsList = stepsArg.split(',').map(Number);
  const caps = cpuCapabilities();
  const plan = resolvePrecision(request, caps);
  const dir = join(tmpdir(), 'seed-vc-bench');
  mkdirSync(dir, { recursive: true });
  const nets = set === 'singing' ? SINGING_NETS : SPEECH_NETS;
  const pathOf = (net: E2eNet) => join(dir, `e2e-v${E2E_BENCH_VERSION}-${set === 'singing' ? 'singing-' : ''}${net}-${plan.stages[STAGE_OF[net]].precision}.onnx`);
  if (args.includes('build')) {
    const builders: Partial<Record<E2eNet, (p: import('../src/core/onnx/nn.ts').Precision) => GraphBuilder>> = set === 'singing' ? singingBuilders() : officialBuilders();
    for (const net of nets.filter((n) => !existsSync(pathOf(n)))) {
      const tmp = `${pathOf(net)}.${process.pid}.tmp`;
      writeFileSync(tmp, builders[net]!(plan.stages[STAGE_OF[net]].precision).toOnnx());
      renameSync(tmp, pathOf(net));
    }
    return;
  }
  // Missing graphs are built in a child process: what building leaves behind would blur the memory figures.
  if (nets.some((n) => !existsSync(pathOf(n)))) {
    const b = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args, 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) throw new Error(`building the ${set} graphs (${request}) failed`);
  }
  const baseline = residentNow();
  const profileDir = mode === 'profile' ? mkdtempSync(join(tmpdir(), 'seed-vc-prof-')) : undefined;

  const t0 = performance.now();
  const sessions = {} as Record<E2eNet, NetSession>;
  const graphBytes: Partial<Record<E2eNet, number>> = {};
  const perNet: Partial<Record<E2eNet, number>> = {};
  for (const net of nets) {
    const path = pathOf(net);
    const before = residentNow();
    let bytes: Uint8Array | undefined = new Uint8Array(readFileSync(path));
    graphBytes[net] = bytes.length;
    sessions[net] = await nodeBackend.createSession(bytes, {
      device: 'cpu', label: net, profilePrefix: profileDir && join(profileDir, net),
    });
    bytes = undefined;
    perNet[net] = residentNow() - before;
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const afterSessions = residentNow();

  const cfg = set === 'singing' ? singingConfig() : officialConfig();
  const converter = new VoiceConverter(cfg, {
    content: new WhisperContentEncoder(sessions.content, whisperCfg),
    speaker: sessions.speaker,
    lengthRegulator: sessions.length_regulator,
    estimator: sessions.dit,
    vocoder: new GraphVocoder(sessions.vocoder),
    pitch: set === 'singing' ? new RmvpePitchExtractor(sessions.pitch, sessions.pitch_fc) : undefined,
  });
  const source = set === 'singing' ? await audio('singing_technopolis_48k.wav', Number(srcArg)) : await audio('source_s1.wav', Number(srcArg));
  const reference = set === 'singing' ? await audio('teio_0.wav', Number(refArg)) : await audio('s1p1.wav', Number(refArg));
  const runs: E2eRun[] = [];
  let afterWarmup = 0;
  for (const steps of stepsList) {
    const r = await converter.convert(source, reference, { diffusionSteps: steps, seed: 1 });
    const s = (ms: number) => ms / 1000;
    runs.push({
      steps,
      seconds: {
        content: s(r.timings.content), speaker: s(r.timings.speaker), length_regulator: s(r.timings.length_regulator),
        dit: s(r.timings.diffusion), vocoder: s(r.timings.vocoder), total: s(r.timings.total),
        ...(set === 'singing' ? { pitch: s(r.timings.f0) } : {}),
      },
      rtf: r.rtf,
      outputSeconds: r.audio.length / r.sampleRate,
    });
    if (runs.length === 1) afterWarmup = residentNow() - baseline;
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const result: E2eResult = {
    precision: request, set, plan: Object.fromEntries(nets.map((s) => [s, plan.stages[STAGE_OF[s]].precision])),
    sourceSeconds: Number(srcArg), referenceSeconds: Number(refArg), runs, peakRss, peakAboveBaseline: peakRss - baseline, baselineRss: baseline,
    resident: { perNet, sessions: afterSessions - baseline, afterWarmup }, graphBytes, loadSeconds,
  };
  for (const s of nets) await sessions[s].release();
  if (profileDir) {
    result.flops = {} as Record<E2eStage, number>;
    result.unknownNodes = 0;
    for (const f of readdirSync(profileDir)) {
      const stage = E2E_STAGES.find((s) => f.startsWith(`${s}_`))!;
      const p = profileFlops(join(profileDir, f));
      result.flops[stage] = (result.flops[stage] ?? 0) + p.flops;
      result.unknownNodes += p.unknown;
    }
    rmSync(profileDir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').at(-1)!)) await main();

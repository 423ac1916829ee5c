/**
 * One whole conversion at official sizes with random weights (run by bench/run.ts, one child process per
 * precision so peak memory is that precision's alone):
 *   node --import tsx bench/e2e.ts <precision> <steps[,steps…]> <source s> <reference s> [profile]
 * The five networks (Whisper-small, CAMPPlus, the length regulator, the whisper-small-wavenet DiT, BigVGAN
 * 22 kHz) are built once per precision and cached under $TMPDIR/seed-vc-bench; the source and reference
 * are real speech from ../shared/audio, looped to the requested length. Prints one JSON line (E2eResult).
 * With `profile`, the sessions write ONNX Runtime profiles and the result carries the FLOPs per stage.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphBuilder } from '../src/core/onnx/graph.ts';
import { WhisperContentEncoder } from '../src/core/pipeline/content.ts';
import { VoiceConverter } from '../src/core/pipeline/convert.ts';
import { GraphVocoder } from '../src/core/pipeline/vocoder.ts';
import { type PrecisionRequest, type StageName, resolvePrecision } from '../src/core/precision.ts';
import type { NetSession } from '../src/core/runtime.ts';
import { readAudioFile } from '../src/node/audio-file.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { cpuCapabilities } from '../src/node/devices.ts';
import { OFFICIAL_WHISPER as whisperCfg, officialBuildersFrom, officialConfigFrom } from './official.ts';
import { profileFlops } from './profile-flops.ts';

export type E2eStage = 'content' | 'speaker' | 'length_regulator' | 'dit' | 'vocoder';
export const E2E_STAGES: readonly E2eStage[] = ['content', 'speaker', 'length_regulator', 'dit', 'vocoder'];

export interface E2eRun {
  steps: number;
  /** Seconds per stage and in total; rtf = total / output seconds. */
  seconds: Record<E2eStage | 'total', number>;
  rtf: number;
  outputSeconds: number;
}

export interface E2eResult {
  precision: string;
  plan: Record<string, string>;
  sourceSeconds: number;
  referenceSeconds: number;
  runs: E2eRun[];
  /** Peak resident set of the whole process (bytes), and the part above the bare process before loading. */
  peakRss: number;
  peakAboveBaseline: number;
  /** Bytes of the serialized graphs (weights as stored). */
  graphBytes: Record<E2eStage, number>;
  loadSeconds: number;
  /** With `profile`: FLOPs per stage for the first entry of `steps`. */
  flops?: Record<E2eStage, number>;
  unknownNodes?: number;
}

export const E2E_BENCH_VERSION = 3; // bump when a builder changes what it emits
const HUB = new URL('../../shared/golden/hub/Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml', import.meta.url);
const AUDIO = new URL('../../shared/audio/', import.meta.url);

/** The official whisper-small-wavenet configuration (the parity set's tiny YAML, at the official sizes). */
export function officialConfig() {
  return officialConfigFrom(readFileSync(HUB, 'utf8'));
}

/** Graph builders at official size with seeded random weights, per network. */
export function officialBuilders(): Record<E2eStage, (p: import('../src/core/onnx/nn.ts').Precision) => GraphBuilder> {
  return officialBuildersFrom(officialConfig());
}

/** Real speech at `rate`, looped to `seconds`. */
async function speech(file: string, seconds: number): Promise<{ samples: Float32Array; sampleRate: number }> {
  const a = await readAudioFile(fileFromUrl(new URL(file, AUDIO)));
  const n = Math.round(seconds * a.sampleRate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += a.samples.length) out.set(a.samples.subarray(0, Math.min(a.samples.length, n - i)), i);
  return { samples: out, sampleRate: a.sampleRate };
}

function fileFromUrl(u: URL): string { return decodeURIComponent(u.pathname); }

const STAGE_OF: Record<E2eStage, StageName> = { content: 'content', speaker: 'speaker', length_regulator: 'length_regulator', dit: 'dit', vocoder: 'vocoder' };

async function main(): Promise<void> {
  const [precisionArg, stepsArg, srcArg, refArg, mode] = process.argv.slice(2);
  const request = precisionArg as PrecisionRequest;
  const stepsList = stepsArg.split(',').map(Number);
  const baseline = process.memoryUsage().rss;
  const caps = cpuCapabilities();
  const plan = resolvePrecision(request, caps);
  const dir = join(tmpdir(), 'seed-vc-bench');
  mkdirSync(dir, { recursive: true });
  const builders = officialBuilders();
  const profileDir = mode === 'profile' ? mkdtempSync(join(tmpdir(), 'seed-vc-prof-')) : undefined;

  const t0 = performance.now();
  const sessions = {} as Record<E2eStage, NetSession>;
  const graphBytes = {} as Record<E2eStage, number>;
  for (const stage of E2E_STAGES) {
    const precision = plan.stages[STAGE_OF[stage]].precision;
    const path = join(dir, `e2e-v${E2E_BENCH_VERSION}-${stage}-${precision}.onnx`);
    if (!existsSync(path)) {
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, builders[stage](precision).toOnnx());
      const { renameSync } = await import('node:fs');
      renameSync(tmp, path);
    }
    let bytes: Uint8Array | undefined = new Uint8Array(readFileSync(path));
    graphBytes[stage] = bytes.length;
    sessions[stage] = await nodeBackend.createSession(bytes, {
      device: 'cpu', label: stage, profilePrefix: profileDir && join(profileDir, stage),
    });
    bytes = undefined;
  }
  const loadSeconds = (performance.now() - t0) / 1000;

  const converter = new VoiceConverter(officialConfig(), {
    content: new WhisperContentEncoder(sessions.content, whisperCfg),
    speaker: sessions.speaker,
    lengthRegulator: sessions.length_regulator,
    estimator: sessions.dit,
    vocoder: new GraphVocoder(sessions.vocoder),
  });
  const source = await speech('source_s1.wav', Number(srcArg));
  const reference = await speech('s1p1.wav', Number(refArg));
  const runs: E2eRun[] = [];
  for (const steps of stepsList) {
    const r = await converter.convert(source, reference, { diffusionSteps: steps, seed: 1 });
    const s = (ms: number) => ms / 1000;
    runs.push({
      steps,
      seconds: {
        content: s(r.timings.content), speaker: s(r.timings.speaker), length_regulator: s(r.timings.length_regulator),
        dit: s(r.timings.diffusion), vocoder: s(r.timings.vocoder), total: s(r.timings.total),
      },
      rtf: r.rtf,
      outputSeconds: r.audio.length / r.sampleRate,
    });
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const result: E2eResult = {
    precision: request, plan: Object.fromEntries(E2E_STAGES.map((s) => [s, plan.stages[STAGE_OF[s]].precision])),
    sourceSeconds: Number(srcArg), referenceSeconds: Number(refArg), runs, peakRss, peakAboveBaseline: peakRss - baseline, graphBytes, loadSeconds,
  };
  for (const s of E2E_STAGES) await sessions[s].release();
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

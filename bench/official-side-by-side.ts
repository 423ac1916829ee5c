/**
 * `npm run bench -- --only official`: a whole conversion by the official PyTorch `inference.py` and by
 * `seed-vc convert`, alternated in one run, from the SAME official-size random-weight checkpoint files (in the
 * official formats) and the same inputs: 10 s of real speech, 5 s reference, 22.05 kHz, fp32 on the official side.
 *
 * Needs a Python environment with the official code (never in CI; see bench/official/README.md). Configure with
 *   SEED_VC_OFFICIAL_DIR=<dir>   holding venv/ (python), seed-vc/ (official checkout), hub/ (checkpoints; made on
 *                                first use by bench/official/make_checkpoints.py), and the run's scratch files;
 * or the single paths: --official-python / SEED_VC_OFFICIAL_PYTHON, --official-checkout / SEED_VC_OFFICIAL_CHECKOUT,
 * --official-hub / SEED_VC_OFFICIAL_HUB, --official-runner / SEED_VC_OFFICIAL_RUNNER (default bench/official/run_official.py).
 * Unconfigured, it prints how to set it up and exits 0.
 *
 * Per step count (--steps, default 10,3): official fp32, ours fp32, ours int8 (when the CPU has int8 dot products;
 * --precisions to choose), --reps times (default 1). Each conversion is its own process; reported per run:
 *  - wall: the whole command, spawn to exit (interpreter/runtime start, imports, model load, conversion, WAV write);
 *  - convert: conversion only, model load excluded — the official side's own timer (inference.py's RTF line: from
 *    resampling to the last vocoder window; input decoding and the write excluded), ours `timingsMs.total` of
 *    `seed-vc convert --json` (content encoder to the crossfaded waveform; decoding and the write excluded);
 *  - per-stage seconds (official: timers wrapped around the networks' entry points by the runner).
 * Our graph cache is warmed first (untimed, 1 step per precision): a product run reads cached graphs.
 * Usage: flock /tmp/seedvc-heavy.lock npm run bench -- --only official [--json] [--steps 10,3] [--reps N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resampleSoxr } from '../src/core/dsp/soxr.ts';
import { readAudioFile, writeWavFile } from '../src/node/audio-file.ts';
import { cpuCapabilities } from '../src/node/devices.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AUDIO = fileURLToPath(new URL('../../shared/audio/', import.meta.url));
const RATE = 22050;
const HUB_FILES = [
  'Plachta/Seed-VC/DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth',
  'Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml',
  'funasr/campplus/campplus_cn_common.bin',
  'nvidia/bigvgan_v2_22khz_80band_256x/bigvgan_generator.pt',
  'nvidia/bigvgan_v2_22khz_80band_256x/config.json',
  'openai/whisper-small/model.safetensors',
  'openai/whisper-small/config.json',
  'openai/whisper-small/preprocessor_config.json',
];

export type Side = 'official' | 'ours';
export interface SideBySideRun {
  side: Side;
  precision: string;
  steps: number;
  rep: number;
  wallSeconds: number;
  convertSeconds: number;
  outputSeconds: number;
  /** convert seconds / output seconds (the RTF both programs print). */
  rtf: number;
  stagesSeconds: Record<string, number>;
  loadavg: number[];
}

export interface OfficialSetup {
  python: string;
  checkout: string;
  hub: string;
  runner: string;
  work: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The official side's paths from flags, env or SEED_VC_OFFICIAL_DIR; undefined when nothing is configured. */
export function officialSetup(): OfficialSetup | undefined {
  const dir = arg('--official-dir') ?? process.env.SEED_VC_OFFICIAL_DIR;
  const python = arg('--official-python') ?? process.env.SEED_VC_OFFICIAL_PYTHON ?? (dir ? join(dir, 'venv', 'bin', 'python') : undefined);
  const checkout = arg('--official-checkout') ?? process.env.SEED_VC_OFFICIAL_CHECKOUT ?? (dir ? join(dir, 'seed-vc') : undefined);
  if (!python || !checkout) return undefined;
  const work = resolve(dir ?? join(checkout, '..'));
  return {
    python, checkout: resolve(checkout), work,
    hub: resolve(arg('--official-hub') ?? process.env.SEED_VC_OFFICIAL_HUB ?? join(work, 'hub')),
    runner: resolve(arg('--official-runner') ?? process.env.SEED_VC_OFFICIAL_RUNNER ?? join(ROOT, 'bench', 'official', 'run_official.py')),
  };
}

export const SETUP_HELP = `The official side is not configured. Set it up once (outside the project; see bench/official/README.md):
  python3.11 -m venv /work/pyref/venv
  /work/pyref/venv/bin/pip install --index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple \\
      /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl transformers librosa soundfile scipy einops pyyaml safetensors huggingface-hub matplotlib tqdm
  (official checkout in /work/pyref/seed-vc: inference.py, hf_utils.py, modules/, configs/)
then: SEED_VC_OFFICIAL_DIR=/work/pyref flock /tmp/seedvc-heavy.lock npm run bench -- --only official
(or --official-python, --official-checkout, --official-hub, --official-runner; env SEED_VC_OFFICIAL_PYTHON, _CHECKOUT, _HUB, _RUNNER)`;

/** Real speech at 22.05 kHz: `file` resampled as librosa.load does, looped or trimmed to exactly `seconds`. */
async function writeSpeech(file: string, seconds: number, out: string): Promise<void> {
  const a = await readAudioFile(join(AUDIO, file));
  const x = a.sampleRate === RATE ? a.samples : resampleSoxr(a.samples, a.sampleRate, RATE);
  const n = Math.round(seconds * RATE);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i += x.length) y.set(x.subarray(0, Math.min(x.length, n - i)), i);
  await writeWavFile(out, y, RATE, { force: true });
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error('no JSON result line');
  return JSON.parse(line) as Record<string, unknown>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { seconds: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 26, cwd: ROOT });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 2).join(' ')} … failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' | ')}`);
  return { seconds, stdout: r.stdout };
}

export async function sideBySide(setup: OfficialSetup, opts: { steps: number[]; precisions: string[]; reps: number }, log: (s: string) => void) {
  for (const [what, p] of [['python', setup.python], ['official checkout', join(setup.checkout, 'inference.py')], ['runner', setup.runner]] as const) {
    if (!existsSync(p)) throw new Error(`${what} not found: ${p}\n${SETUP_HELP}`);
  }
  const scratch = join(setup.work, 'side-by-side');
  mkdirSync(scratch, { recursive: true });
  if (HUB_FILES.some((f) => !existsSync(join(setup.hub, f)))) {
    log(`making the official-size random checkpoints in ${setup.hub} (once; bench/official/make_checkpoints.py) …`);
    run(setup.python, [join(ROOT, 'bench', 'official', 'make_checkpoints.py'), '--checkout', setup.checkout, '--out', setup.hub]);
  }
  const source = join(scratch, 'source_10s.wav');
  const reference = join(scratch, 'reference_5s.wav');
  await writeSpeech('source_s1.wav', 10, source);
  await writeSpeech('s1p1.wav', 5, reference);
  const cacheDir = join(scratch, 'seed-vc-cache');
  const oursEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
  const ours = (precision: string, steps: number) => [
    join(ROOT, 'bin', 'seed-vc.js'), 'convert', '--source', source, '--target', reference, '--output', join(scratch, `ours-${precision}-${steps}.wav`),
    '--force', '--json', '--offline', '--hub-mirror', setup.hub, '--cache-dir', cacheDir, '--precision', precision,
    '--diffusion-steps', String(steps), '--length-adjust', '1.0', '--inference-cfg-rate', '0.7',
  ];
  const official = (steps: number) => [
    setup.runner, '--checkout', setup.checkout, '--hub', setup.hub, '--work', join(scratch, 'official-work'), '--',
    '--source', source, '--target', reference, '--output', join(scratch, 'official-out'),
    '--diffusion-steps', String(steps), '--length-adjust', '1.0', '--inference-cfg-rate', '0.7', '--fp16', 'False',
  ];

  for (const precision of opts.precisions) {
    log(`warming our graph cache (${precision}, 1 step, untimed) …`);
    run(process.execPath, ours(precision, 1), oursEnv);
  }
  const runs: SideBySideRun[] = [];
  let versions: Record<string, string> = {};
  let threads = 0;
  for (const steps of opts.steps) {
    for (let rep = 0; rep < opts.reps; rep++) {
      const before = loadavg();
      const o = run(setup.python, official(steps));
      const j = lastJson(o.stdout) as { convert_s: number; output_s: number; stages_s: Record<string, number>; versions: Record<string, string>; threads: number };
      versions = j.versions;
      threads = j.threads;
      runs.push({ side: 'official', precision: 'fp32', steps, rep, wallSeconds: o.seconds, convertSeconds: j.convert_s, outputSeconds: j.output_s, rtf: j.convert_s / j.output_s, stagesSeconds: j.stages_s, loadavg: before });
      log(line(runs.at(-1)!));
      for (const precision of opts.precisions) {
        const b = loadavg();
        const r = run(process.execPath, ours(precision, steps), oursEnv);
        const s = lastJson(r.stdout) as { seconds: number; timingsMs: Record<string, number> };
        const st = s.timingsMs;
        runs.push({
          side: 'ours', precision, steps, rep, wallSeconds: r.seconds, convertSeconds: st.total / 1000, outputSeconds: s.seconds, rtf: st.total / 1000 / s.seconds,
          stagesSeconds: { content: st.content / 1000, speaker: st.speaker / 1000, length_regulator: st.length_regulator / 1000, dit: st.diffusion / 1000, vocoder: st.vocoder / 1000 },
          loadavg: b,
        });
        log(line(runs.at(-1)!));
      }
    }
  }
  return { runs, versions: { ...versions, node: process.version }, torchThreads: threads, summary: summarize(runs) };
}

const STAGES = ['content', 'speaker', 'length_regulator', 'dit', 'vocoder'];

function line(r: SideBySideRun): string {
  const st = STAGES.map((k) => `${k} ${(r.stagesSeconds[k] ?? 0).toFixed(1)}`).join(', ');
  return `${r.side.padEnd(8)} ${r.precision.padEnd(5)} ${String(r.steps).padStart(2)} steps: wall ${r.wallSeconds.toFixed(1).padStart(6)} s, convert ${r.convertSeconds.toFixed(1).padStart(6)} s, RTF ${r.rtf.toFixed(2).padStart(5)} | ${st} | load ${r.loadavg[0].toFixed(1)}`;
}

/** Best (minimum) of the repetitions per setting, and official / ours ratios. */
function summarize(runs: SideBySideRun[]) {
  const best = new Map<string, SideBySideRun>();
  for (const r of runs) {
    const k = `${r.side}/${r.precision}/${r.steps}`;
    const b = best.get(k);
    if (!b || r.wallSeconds < b.wallSeconds) best.set(k, r);
  }
  const rows: { steps: number; precision: string; wallRatio: number; convertRatio: number; official: SideBySideRun; ours: SideBySideRun }[] = [];
  for (const r of best.values()) {
    if (r.side !== 'ours') continue;
    const o = best.get(`official/fp32/${r.steps}`);
    if (o) rows.push({ steps: r.steps, precision: r.precision, wallRatio: o.wallSeconds / r.wallSeconds, convertRatio: o.convertSeconds / r.convertSeconds, official: o, ours: r });
  }
  return rows;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
  const setup = officialSetup();
  if (!setup) {
    log(SETUP_HELP);
    if (json) process.stdout.write(`${JSON.stringify({ configured: false })}\n`);
    return;
  }
  const steps = (arg('--steps') ?? '10,3').split(',').map(Number);
  const precisions = (arg('--precisions') ?? `fp32${cpuCapabilities().int8Dot ? ',int8' : ''}`).split(',');
  const reps = Number(arg('--reps') ?? 1);
  log(`== official inference.py vs seed-vc convert: 10 s source, 5 s reference, official sizes (random weights), cpu ==`);
  log(`official: ${setup.python} ${setup.runner}; checkout ${setup.checkout}; hub ${setup.hub}`);
  const load0 = loadavg();
  const r = await sideBySide(setup, { steps, precisions, reps }, log);
  const load1 = loadavg();
  log(`\nversions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}; torch threads ${r.torchThreads}; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
  log('steps  ours precision   official wall / convert s   ours wall / convert s   speed-up wall / convert   ours RTF');
  for (const row of r.summary) {
    log(`${String(row.steps).padStart(5)}  ${row.precision.padEnd(14)} ${row.official.wallSeconds.toFixed(1).padStart(12)} / ${row.official.convertSeconds.toFixed(1).padStart(6)} ${row.ours.wallSeconds.toFixed(1).padStart(15)} / ${row.ours.convertSeconds.toFixed(1).padStart(6)} ${row.wallRatio.toFixed(2).padStart(15)}x / ${row.convertRatio.toFixed(2)}x ${row.ours.rtf.toFixed(2).padStart(9)}`);
  }
  log('(wall: whole command, start to exit; convert: model load excluded, each program\'s own conversion timer; RTF = convert / output seconds)');
  if (json) process.stdout.write(`${JSON.stringify({ configured: true, date: new Date().toISOString(), loadavgBefore: load0, loadavgAfter: load1, ...r })}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

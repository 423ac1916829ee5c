/** `seed-vc convert`: one source, one reference voice, one output file. */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { InvalidInputError } from '../core/errors.ts';
import type { ModelSetId } from '../core/models/catalog.ts';
import { DEFAULT_MAX_DECODED_SECONDS } from '../core/audio/limits.ts';
import type { MonoAudio } from '../core/audio/types.ts';
import {
  type ConvertEvent, type ConvertOptions, type ConvertResult, DEFAULTS, checkInputAudio, validateConvertOptions,
} from '../core/pipeline/convert.ts';
import { noiseFromSafetensors } from '../core/pipeline/noise.ts';
import { type ArDraws, drawsFromTable } from '../core/pipeline/v2/ar-sampler.ts';
import { V2_DEFAULTS, type V2ConvertEvent, type V2ConvertOptions } from '../core/pipeline/v2/convert.ts';
import type { V2LoadEvent } from '../node/load-v2.ts';
import { readSafetensors } from '../core/checkpoint/safetensors.ts';
import { toFloat32 } from '../core/tensor.ts';
import { type PrecisionRequest, precisionFromFp16Flag } from '../core/precision.ts';
import { readAudioFile, writeWavFile } from '../node/audio-file.ts';
import type { DeviceRequest } from '../node/devices.ts';
import { checkUsableDir } from '../node/fs-checks.ts';
import { type LoadEvent, SeedVc, checkThreads } from '../node/load.ts';
import { addModelOptions, parseBool, parseIntStrict, parseNumber } from './options.ts';
import { type Reporter, createReporter } from './progress.ts';

export interface ModelCliOptions {
  model?: ModelSetId | 'v2';
  f0Condition?: boolean;
  checkpoint?: string;
  config?: string;
  precision: PrecisionRequest;
  fp16?: boolean;
  vocoderFp16?: boolean;
  device: DeviceRequest;
  threads?: number;
  hubMirror?: string;
  hubUrl?: string;
  cacheDir?: string;
  offline?: boolean;
}

interface ConvertCliOptions extends ModelCliOptions {
  source: string;
  target: string;
  output?: string;
  diffusionSteps: number;
  lengthAdjust: number;
  inferenceCfgRate: number;
  autoF0Adjust: boolean;
  semiToneShift: number;
  seed?: string;
  noise?: string;
  format: 'float32' | 'pcm16';
  maxDuration: number;
  intelligibilityCfgRate?: number;
  similarityCfgRate?: number;
  convertStyle?: boolean;
  anonymizationOnly?: boolean;
  topP?: number;
  temperature?: number;
  repetitionPenalty?: number;
  draws?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerConvert(program: Command): void {
  const cmd = program.command('convert')
    .description('convert the voice of --source to the voice of --target (the reference)')
    .requiredOption('-s, --source <file>', 'speech or singing to convert (WAV, MP3, FLAC, OGG)')
    .requiredOption('-t, --target <file>', 'reference voice (the first 25 s are used)')
    .option('-o, --output <path>', 'output WAV file, or a folder (default: ./reconstructed/vc_<source>_<target>_<length>_<steps>_<cfg>.wav)')
    .option('--diffusion-steps <n>', 'Euler steps (more is slower and finer)', parseIntStrict, DEFAULTS.diffusionSteps)
    .option('--length-adjust <x>', 'output duration factor (<1 faster speech)', parseNumber, DEFAULTS.lengthAdjust)
    .option('--inference-cfg-rate <x>', 'classifier-free guidance rate (0 disables it)', parseNumber, DEFAULTS.inferenceCfgRate)
    .option('--auto-f0-adjust <bool>', 'singing: move the source pitch to the reference median', parseBool, DEFAULTS.autoF0Adjust)
    .option('--semi-tone-shift <n>', 'singing: pitch shift in semitones', parseIntStrict, DEFAULTS.semiToneShift)
    .option('--seed <n|none>', 'seed of the initial noise (default: random, printed in --json)')
    .option('--noise <file>', 'safetensors file with the initial noise z.0, z.1, ... (reproduces a reference run exactly)')
    .option('--intelligibility-cfg-rate <x>', `v2: guidance toward the source content (default ${V2_DEFAULTS.intelligibilityCfgRate})`, parseNumber)
    .option('--similarity-cfg-rate <x>', `v2: guidance toward the reference voice (default ${V2_DEFAULTS.similarityCfgRate})`, parseNumber)
    .option('--convert-style <bool>', 'v2: convert accent and emotion too, through the AR model (default false)', parseBool)
    .option('--anonymization-only <bool>', 'v2: no reference voice, an anonymous one (default false)', parseBool)
    .option('--top-p <x>', `v2 AR sampling: nucleus probability mass (default ${V2_DEFAULTS.topP})`, parseNumber)
    .option('--temperature <x>', `v2 AR sampling temperature (default ${V2_DEFAULTS.temperature})`, parseNumber)
    .option('--repetition-penalty <x>', `v2 AR repetition penalty (default ${V2_DEFAULTS.repetitionPenalty})`, parseNumber)
    .option('--draws <file>', "v2: safetensors with the AR sampler's Exp(1) draws q [steps, vocab] (reproduces a reference run exactly)")
    .addOption(new Option('--format <fmt>', 'WAV sample format').choices(['float32', 'pcm16']).default('float32'))
    .option('--max-duration <seconds>', 'refuse inputs that decode to longer than this', parseNumber, DEFAULT_MAX_DECODED_SECONDS)
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print the result as one JSON object on stdout')
    .option('-q, --quiet', 'no progress output');
  addModelOptions(cmd).action(async (opts: ConvertCliOptions) => {
    const reporter = createReporter({ quiet: opts.quiet || opts.json });
    const result = await runConvert(opts, reporter);
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`wrote ${result.output} (${result.seconds.toFixed(2)} s at ${result.sampleRate} Hz), RTF ${result.rtf.toFixed(3)}\n`);
  });
}

/** Python's str() of a float (1.0 -> "1.0"), for inference.py's output file name. */
function pyFloat(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** The output file: `--output` itself when it names a .wav, else a file named as inference.py names it in that folder. */
function outputPath(o: ConvertCliOptions): string {
  const stem = (p: string) => basename(p).split('.')[0];
  const name = o.model === 'v2'
    ? `vc_v2_${stem(o.source)}_${stem(o.target)}_${pyFloat(o.lengthAdjust)}_${o.diffusionSteps}_${pyFloat(o.similarityCfgRate ?? V2_DEFAULTS.similarityCfgRate)}.wav`
    : `vc_${stem(o.source)}_${stem(o.target)}_${pyFloat(o.lengthAdjust)}_${o.diffusionSteps}_${pyFloat(o.inferenceCfgRate)}.wav`;
  if (!o.output) return join('reconstructed', name);
  const ext = extname(o.output).toLowerCase();
  if (ext === '.wav') return o.output;
  const isDir = (() => { try { return statSync(o.output).isDirectory(); } catch { return false; } })();
  if (isDir || ext === '' || /[\\/]$/.test(o.output)) return join(o.output, name);
  throw new InvalidInputError(`--output ${o.output}: '${ext}' files are not written; give a .wav file or a folder (the output is always WAV)`);
}

/** Model options that can be judged without loading anything: --threads, --cache-dir. */
export function validateModelOptions(o: Pick<ModelCliOptions, 'threads' | 'cacheDir'>): void {
  checkThreads(o.threads, '--threads');
  const cacheDir = o.cacheDir ?? (process.env.SEED_VC_CACHE || undefined);
  if (cacheDir !== undefined) checkUsableDir(cacheDir, o.cacheDir !== undefined ? '--cache-dir' : 'SEED_VC_CACHE');
}

/** Reads an input file under the duration limit, reports the codec's warnings, and runs the pipeline's input checks. */
export async function readInput(path: string, what: 'source' | 'target', maxSeconds: number): Promise<MonoAudio> {
  const audio = await readAudioFile(path, { maxSeconds });
  for (const w of audio.warnings ?? []) process.stderr.write(`seed-vc: warning: ${path}: ${w}\n`);
  checkInputAudio(audio, what === 'source' ? 'source' : 'reference');
  return audio;
}

export function loadOptions(o: ModelCliOptions, reporter: Reporter) {
  const precision: PrecisionRequest = o.fp16 !== undefined ? precisionFromFp16Flag(o.fp16) : o.precision;
  if (o.model === 'v2') throw new InvalidInputError("--model v2 is supported by 'seed-vc convert' only, so far");
  return {
    model: o.model, f0Condition: o.f0Condition, checkpoint: o.checkpoint, config: o.config,
    precision, vocoderFp16: o.vocoderFp16, device: o.device, threads: o.threads,
    mirror: o.hubMirror, baseUrl: o.hubUrl, cacheDir: o.cacheDir, offline: o.offline,
    log: (line: string) => reporter.info(line),
    onEvent: (e: LoadEvent) => reportLoad(e, reporter),
  };
}

export function reportLoad(e: LoadEvent | V2LoadEvent, r: Reporter): void {
  if (e.type === 'download') r.progress(`download ${e.repo}/${e.file}`, e.loaded, e.total, 'bytes');
  else if (e.type === 'done') r.flush();
  else if (e.type === 'build') r.info(`${e.network}: graph ${e.status === 'cached' ? 'from cache' : 'built'} (${e.ms.toFixed(0)} ms)`);
}

export function reportConvert(e: ConvertEvent | V2ConvertEvent, r: Reporter): void {
  if (e.type === 'diffusion') r.progress(`diffusion window ${e.window}/${e.windows}`, e.step, e.steps, 'steps');
  else if (e.type === 'ar') r.info(`AR chunk ${e.chunk}/${e.chunks}: ${e.tokens} tokens`);
  else if (e.type === 'guard') r.info(`fp16 guard: ${e.stage} window ${e.window} ${e.action} (${e.reason})`);
  else if (e.type === 'stage' && e.status === 'done' && e.stage !== 'diffusion') r.info(`${e.stage.replace('_', ' ')}: ${e.ms!.toFixed(0)} ms`);
  else if (e.type === 'stage' && e.status === 'done') r.flush();
}

export function convertOptions(o: { diffusionSteps: number; lengthAdjust: number; inferenceCfgRate: number; autoF0Adjust: boolean; semiToneShift: number; seed?: string; noise?: string }, reporter: Reporter): ConvertOptions {
  let seed: number | undefined;
  if (o.seed !== undefined && o.seed.toLowerCase() !== 'none') {
    if (!/^\d+$/.test(o.seed) || Number(o.seed) > 2 ** 32 - 1) throw new InvalidInputError(`--seed takes an integer in 0..4294967295 or 'none', got '${o.seed}'`);
    seed = Number(o.seed);
  }
  return {
    diffusionSteps: o.diffusionSteps,
    lengthAdjust: o.lengthAdjust,
    inferenceCfgRate: o.inferenceCfgRate,
    autoF0Adjust: o.autoF0Adjust,
    semiToneShift: o.semiToneShift,
    seed,
    noise: o.noise ? noiseFromSafetensors(new Uint8Array(readFileSync(o.noise)), o.noise) : undefined,
    onProgress: (e) => reportConvert(e, reporter),
  };
}

export interface ConvertSummary {
  output: string;
  sampleRate: number;
  samples: number;
  seconds: number;
  rtf: number;
  timingsMs: ConvertResult['timings'];
  seed: number | null;
  device: string;
  precision: Record<string, string>;
  files: Record<string, string>;
}

const V2_FLAGS = ['intelligibilityCfgRate', 'similarityCfgRate', 'convertStyle', 'anonymizationOnly', 'topP', 'temperature', 'repetitionPenalty', 'draws'] as const;
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

async function runConvert(o: ConvertCliOptions, reporter: Reporter): Promise<ConvertSummary> {
  if (o.model === 'v2') return runConvertV2(o, reporter);
  const v2Only = V2_FLAGS.filter((k) => o[k] !== undefined);
  if (v2Only.length) throw new InvalidInputError(`${v2Only.map(flagName).join(', ')}: only for --model v2`);
  // Check everything the user gave before the (slow, possibly downloading) model load: options, output, inputs.
  const out = outputPath(o);
  validateModelOptions(o);
  if (!(o.maxDuration > 0)) throw new InvalidInputError(`--max-duration must be a positive number of seconds, got ${o.maxDuration}`);
  const cOpts = convertOptions(o, reporter);
  validateConvertOptions(cOpts);
  const protect = [o.source, o.target];
  await writeWavFile(out, new Float32Array(0), 1, { protect, force: o.force, dryRun: true });
  const source = await readInput(o.source, 'source', o.maxDuration);
  const reference = await readInput(o.target, 'target', o.maxDuration);
  const model = await SeedVc.load(loadOptions(o, reporter));
  try {
    reporter.info(`device ${model.device.device}, precision ${model.plan.mode} (${model.plan.reason})`);
    const r = await model.convert(source, reference, cOpts);
    reporter.flush();
    await writeWavFile(out, r.audio, r.sampleRate, { format: o.format, force: o.force, protect });
    return {
      output: out, sampleRate: r.sampleRate, samples: r.audio.length, seconds: r.audio.length / r.sampleRate, rtf: r.rtf,
      timingsMs: r.timings, seed: r.seed ?? null, device: model.device.device,
      precision: Object.fromEntries(Object.entries(model.plan.stages).map(([k, v]) => [k, v.precision])),
      files: model.files,
    };
  } finally {
    await model.dispose();
  }
}

/** `--model v2`: inference_v2.py's flags and defaults. */
async function runConvertV2(o: ConvertCliOptions, reporter: Reporter): Promise<ConvertSummary> {
  const v1Only = (['f0Condition', 'checkpoint'] as const).filter((k) => o[k] !== undefined);
  if (v1Only.length) throw new InvalidInputError(`${v1Only.map(flagName).join(', ')}: not for --model v2 (its files are v2/cfm_small.pth and v2/ar_base.pth; --config takes a v2 wrapper YAML)`);
  if (o.autoF0Adjust !== DEFAULTS.autoF0Adjust || o.semiToneShift !== DEFAULTS.semiToneShift || o.inferenceCfgRate !== DEFAULTS.inferenceCfgRate) {
    throw new InvalidInputError('--auto-f0-adjust, --semi-tone-shift and --inference-cfg-rate are v1 flags; v2 takes --intelligibility-cfg-rate and --similarity-cfg-rate');
  }
  const out = outputPath(o);
  validateModelOptions(o);
  if (!(o.maxDuration > 0)) throw new InvalidInputError(`--max-duration must be a positive number of seconds, got ${o.maxDuration}`);
  const protect = [o.source, o.target];
  await writeWavFile(out, new Float32Array(0), 1, { protect, force: o.force, dryRun: true });
  const source = await readInput(o.source, 'source', o.maxDuration);
  const reference = await readInput(o.target, 'target', o.maxDuration);
  const base = convertOptions(o, reporter);
  let draws: ArDraws | undefined;
  if (o.draws) {
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(o.draws)), o.draws);
    const q = tensors.get('q');
    if (!q) throw new InvalidInputError(`${o.draws}: no tensor 'q' (the AR draws, [steps, vocab]); has ${[...tensors.keys()].join(', ') || 'nothing'}`);
    const f = toFloat32(q);
    draws = drawsFromTable(f.data, f.shape, o.draws);
  }
  const options: V2ConvertOptions = {
    diffusionSteps: o.diffusionSteps, lengthAdjust: o.lengthAdjust,
    intelligibilityCfgRate: o.intelligibilityCfgRate, similarityCfgRate: o.similarityCfgRate,
    convertStyle: o.convertStyle, anonymizationOnly: o.anonymizationOnly,
    topP: o.topP, temperature: o.temperature, repetitionPenalty: o.repetitionPenalty,
    seed: base.seed, noise: base.noise, draws,
    onProgress: (e) => reportConvert(e, reporter),
  };
  const precision: PrecisionRequest = o.fp16 !== undefined ? precisionFromFp16Flag(o.fp16) : o.precision;
  const model = await SeedVc.load({
    model: 'v2', config: o.config, precision, vocoderFp16: o.vocoderFp16, device: o.device, threads: o.threads,
    mirror: o.hubMirror, baseUrl: o.hubUrl, cacheDir: o.cacheDir, offline: o.offline,
    log: (line: string) => reporter.info(line),
    onEvent: (e) => reportLoad(e, reporter),
  });
  try {
    reporter.info(`v2, device ${model.device.device}, precision ${model.plan.mode} (${model.plan.reason})`);
    const r = await model.convert(source, reference, options);
    reporter.flush();
    await writeWavFile(out, r.audio, r.sampleRate, { format: o.format, force: o.force, protect });
    return {
      output: out, sampleRate: r.sampleRate, samples: r.audio.length, seconds: r.audio.length / r.sampleRate, rtf: r.rtf,
      timingsMs: r.timings as unknown as ConvertResult['timings'], seed: r.seed ?? null, device: model.device.device,
      precision: Object.fromEntries(Object.entries(model.plan.stages).map(([k, v]) => [k, v.precision])),
      files: model.files,
    };
  } finally {
    await model.dispose();
  }
}

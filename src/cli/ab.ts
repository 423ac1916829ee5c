/** `seed-vc ab`: one conversion with two settings (fp32 vs fp16 by default), compared in a report folder. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../core/errors.ts';
import { DEFAULTS } from '../core/pipeline/convert.ts';
import { precisionFromFp16Flag } from '../core/precision.ts';
import type { AbReport } from '../core/quality/report.ts';
import { SIDE_SPEC_KEYS, type SideSettings, type SideSpec, parseSideSpec, resolveSide } from '../core/quality/spec.ts';
import { AB_FILES, type AbEvent, type AbSideOptions, DEFAULT_AB_SEED, runAb } from '../node/ab.ts';
import { DNSMOS_FILES } from '../node/dnsmos.ts';
import { DEFAULT_MAX_DECODED_SECONDS } from '../core/audio/limits.ts';
import { type ModelCliOptions, reportConvert, reportLoad, validateModelOptions } from './convert.ts';
import { addModelOptions, parseIntStrict, parseNumber } from './options.ts';
import { type Reporter, createReporter } from './progress.ts';

interface AbCliOptions extends ModelCliOptions {
  source: string;
  target: string;
  output: string;
  a?: string;
  b?: string;
  diffusionSteps: number;
  lengthAdjust: number;
  inferenceCfgRate: number;
  seed: number;
  noise?: string;
  dnsmosDir?: string;
  maxDuration: number;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

const DEFAULT_SPEC = { a: 'precision=fp32', b: 'precision=fp16' } as const;

export function registerAb(program: Command): void {
  const cmd = program.command('ab')
    .description('convert once with two settings (A: fp32, B: fp16 by default) and the same initial noise, and report the difference: numbers, spectrograms and audio in an HTML page')
    .requiredOption('-s, --source <file>', 'speech or singing to convert (WAV, MP3, FLAC, OGG)')
    .requiredOption('-t, --target <file>', 'reference voice (the first 25 s are used)')
    .requiredOption('-o, --output <dir>', 'report folder (created if missing)')
    .option('--a <spec>', `settings of side A (default: ${DEFAULT_SPEC.a})`)
    .option('--b <spec>', `settings of side B (default: ${DEFAULT_SPEC.b})`)
    .option('--diffusion-steps <n>', 'Euler steps of both sides (a spec can override)', parseIntStrict, DEFAULTS.diffusionSteps)
    .option('--length-adjust <x>', 'output duration factor (<1 faster speech)', parseNumber, DEFAULTS.lengthAdjust)
    .option('--inference-cfg-rate <x>', 'classifier-free guidance rate of both sides (a spec can override)', parseNumber, DEFAULTS.inferenceCfgRate)
    .option('--seed <n>', 'seed of the initial noise, the same for both sides (ignored with --noise)', parseIntStrict, DEFAULT_AB_SEED)
    .option('--noise <file>', 'safetensors file with the initial noise z.0, z.1, ... for both sides')
    .option('--dnsmos-dir <dir>', `folder with the DNSMOS models ${DNSMOS_FILES.primary} and ${DNSMOS_FILES.p808} (env SEED_VC_DNSMOS_DIR; skipped when neither is given)`)
    .option('--max-duration <seconds>', 'refuse inputs that decode to longer than this', parseNumber, DEFAULT_MAX_DECODED_SECONDS)
    .option('--force', 'overwrite the report files of an existing report folder')
    .option('--json', 'print the report JSON on stdout')
    .option('-q, --quiet', 'no progress output');
  addModelOptions(cmd);
  cmd.addHelpText('after', `
Side specs (--a, --b): comma lists of key=value with the keys
  ${SIDE_SPEC_KEYS.join(', ')}
  precision=fp32|fp16|int8|auto   device=cpu|webgpu|cuda|auto   vocoder-fp16=true|false
  diffusion-steps=N          inference-cfg-rate=X
A key a spec leaves out comes from the shared option (--device, --vocoder-fp16, --diffusion-steps,
--inference-cfg-rate, and --precision/--fp16 when given), else from the defaults: precision fp32
for A and fp16 for B. So '--b device=cuda' compares fp32 on this machine's default device with fp16
on CUDA, and '--b precision=fp32' runs the same settings twice (an A/A check).

The report folder gets ${Object.values(AB_FILES).join(', ')}.
Open report.html in a browser. Metrics: log-mel L1, mel-cepstral distortion, waveform SNR of B
against A, speaker-embedding cosines (CAMPPlus), F0 RMSE / correlation / voicing agreement (YIN),
DNSMOS SIG/BAK/OVRL and P.808 MOS, RTF, load time and peak memory growth of each side.

DNSMOS needs ${DNSMOS_FILES.primary} and ${DNSMOS_FILES.p808}: get them from the DNSMOS folder of
the public microsoft/DNS-Challenge repository, put both in one folder and pass it with --dnsmos-dir
(or SEED_VC_DNSMOS_DIR). Without them the report says DNSMOS was skipped.

Example:
  seed-vc ab -s speech.wav -t voice.wav -o ab-report --diffusion-steps 10 --dnsmos-dir ~/dnsmos`);
  cmd.action(async (opts: AbCliOptions, command: Command) => {
    const reporter = createReporter({ quiet: opts.quiet || opts.json });
    const report = await runAbCli(opts, command, reporter);
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(summary(report, opts.output));
  });
}

/** The spec label shown in the report: the spec as given, with the precision always spelled out. */
function label(text: string, spec: SideSpec, settings: SideSettings): string {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  return spec.precision ? items.join(',') : [`precision=${settings.precision}`, ...items].join(',');
}

/** The two sides of `seed-vc ab` from its options (`precisionGiven`: --precision was on the command line). */
export function abSides(
  o: Pick<AbCliOptions, 'a' | 'b' | 'precision' | 'fp16' | 'device' | 'vocoderFp16' | 'diffusionSteps' | 'inferenceCfgRate'>,
  precisionGiven: boolean,
): { a: AbSideOptions; b: AbSideOptions } {
  // A side without a spec takes everything from the shared options and the side defaults.
  const specA = o.a !== undefined ? parseSideSpec(o.a, '--a') : {};
  const specB = o.b !== undefined ? parseSideSpec(o.b, '--b') : {};
  const shared: Partial<SideSettings> = {
    precision: o.fp16 !== undefined ? precisionFromFp16Flag(o.fp16) : precisionGiven ? o.precision : undefined,
    device: o.device === 'auto' || o.device === 'cpu' || o.device === 'webgpu' || o.device === 'cuda' ? o.device : undefined,
    vocoderFp16: o.vocoderFp16 ? true : undefined,
    diffusionSteps: o.diffusionSteps,
    inferenceCfgRate: o.inferenceCfgRate,
  };
  const base = { device: 'auto', vocoderFp16: false, diffusionSteps: DEFAULTS.diffusionSteps, inferenceCfgRate: DEFAULTS.inferenceCfgRate } as const;
  const a = resolveSide(specA, shared, { ...base, precision: 'fp32' });
  const b = resolveSide(specB, shared, { ...base, precision: 'fp16' });
  return { a: { spec: label(o.a ?? '', specA, a), settings: a }, b: { spec: label(o.b ?? '', specB, b), settings: b } };
}

async function runAbCli(o: AbCliOptions, command: Command, reporter: Reporter): Promise<AbReport> {
  validateModelOptions(o);
  if (!(o.maxDuration > 0)) throw new InvalidInputError(`--max-duration must be a positive number of seconds, got ${o.maxDuration}`);
  const sides = abSides(o, command.getOptionValueSource('precision') === 'cli');
  const { a, b } = { a: sides.a.settings, b: sides.b.settings };
  if (o.seed < 0 || o.seed > 2 ** 32 - 1) throw new InvalidInputError(`--seed takes an integer in 0..4294967295, got ${o.seed}`);
  const dnsmosDir = o.dnsmosDir ?? (process.env.SEED_VC_DNSMOS_DIR || undefined);

  let current = '';
  const onEvent = (e: AbEvent) => {
    if (e.type === 'side') {
      const s = e.side === 'a' ? a : b;
      if (e.status === 'load') reporter.info(`${e.side.toUpperCase()}: loading (precision ${s.precision}, device ${s.device})`);
      else if (e.status === 'convert') reporter.info(`${e.side.toUpperCase()}: converting`);
      current = e.side.toUpperCase();
    } else if (e.type === 'load') {
      reportLoad(e.event, prefixed(reporter, current));
    } else if (e.type === 'convert') {
      reportConvert(e.event, prefixed(reporter, current));
    } else {
      reporter.info(e.phase === 'metrics' ? 'computing metrics' : e.phase === 'dnsmos' ? 'scoring with DNSMOS' : `writing ${o.output}`);
    }
  };
  return runAb({
    source: o.source,
    target: o.target,
    output: o.output,
    a: sides.a,
    b: sides.b,
    load: o.model === 'v2'
      ? { model: 'v2', config: o.config, threads: o.threads, mirror: o.hubMirror, baseUrl: o.hubUrl, cacheDir: o.cacheDir, offline: o.offline }
      : {
        model: o.model, f0Condition: o.f0Condition, checkpoint: o.checkpoint, config: o.config, threads: o.threads,
        mirror: o.hubMirror, baseUrl: o.hubUrl, cacheDir: o.cacheDir, offline: o.offline,
      },
    lengthAdjust: o.lengthAdjust,
    seed: o.seed,
    noise: o.noise,
    dnsmosDir,
    force: o.force,
    maxSeconds: o.maxDuration,
    onEvent,
    log: (line) => reporter.info(line),
  });
}

function prefixed(r: Reporter, side: string): Reporter {
  return {
    progress: (label, done, total, unit) => r.progress(`${side}: ${label}`, done, total, unit),
    info: (line) => r.info(`${side}: ${line}`),
    flush: () => r.flush(),
  };
}

function fmt(v: number | null, digits: number, unit = ''): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(digits)}${unit}`;
}

function summary(r: AbReport, dir: string): string {
  const c = r.comparison;
  const { a, b } = r.sides;
  const side = (s: typeof a) => `${s.label} (${s.spec}): RTF ${fmt(s.rtf, 3)}, load ${fmt(s.loadMs / 1000, 2, ' s')}, peak RSS +${(s.memory.peakRssGrowthBytes / 2 ** 20).toFixed(0)} MiB${s.dnsmos ? `, DNSMOS OVRL ${fmt(s.dnsmos.OVRL, 2)} P.808 ${fmt(s.dnsmos.P808_MOS, 2)}` : ''}`;
  return [
    `wrote ${join(dir, AB_FILES.html)}`,
    `  log-mel L1 ${fmt(c.logMelL1, 5)}, MCD ${fmt(c.mcdDb, 3, ' dB')}, SNR ${c.snrDb === null ? (c.snrNote ?? 'n/a') : fmt(c.snrDb, 2, ' dB')}, speaker cosine ${fmt(c.speakerCosine, 5)}, F0 RMSE ${fmt(c.f0.rmseCents, 2, ' cents')}`,
    `  ${side(a)}`,
    `  ${side(b)}`,
    ...(r.dnsmos.status === 'skipped' ? [`  ${r.dnsmos.note}`] : []),
    '',
  ].join('\n');
}

/**
 * The `seed-vc` command line. Every command reports bad input as one line on stderr and a non-zero
 * exit code; long work shows progress on stderr; results go to stdout (JSON with --json).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SeedVcError } from '../core/errors.ts';
import { registerAb } from './ab.ts';
import { registerConvert } from './convert.ts';
import { registerDoctor } from './doctor.ts';
import { registerDownload } from './download.ts';
import { registerStream } from './stream.ts';
import { registerServe, registerWorker } from './serve.ts';

export function buildProgram(): Command {
  const program = new Command('seed-vc')
    .description('Zero-shot voice and singing-voice conversion (Seed-VC) on ONNX Runtime, no Python needed.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();
  registerConvert(program);
  registerAb(program);
  registerDoctor(program);
  registerDownload(program);
  registerStream(program);
  registerServe(program);
  registerWorker(program);
  program.addHelpText('after', `
Examples:
  seed-vc convert --source speech.wav --target voice.wav --output out.wav
  seed-vc convert -s song.flac -t singer.wav --f0-condition true --semi-tone-shift -2 -o out.wav
  seed-vc ab -s speech.wav -t voice.wav --output ab-report/
  seed-vc doctor
  arecord -f FLOAT_LE -r 22050 -c 1 -t raw | seed-vc stream -t voice.wav | aplay -f FLOAT_LE -r 22050 -c 1 -t raw

Models are fetched from the Hugging Face hub on first use and cached in ~/.cache/seed-vc
(SEED_VC_CACHE). Use --hub-mirror DIR (SEED_VC_HUB_MIRROR) for a local copy laid out as org/repo/file.`);
  return program;
}

/** Runs the CLI with `argv` (process.argv layout); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`seed-vc: error: ${errorLine(e)}\n`);
    if (process.env.SEED_VC_DEBUG) console.error(e);
    return 1;
  }
}

/** One line describing an error (typed errors carry a complete message). */
export function errorLine(e: unknown): string {
  if (e instanceof SeedVcError) return e.message;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && 'path' in e) return `file not found: ${(e as NodeJS.ErrnoException).path}`;
    if (code === 'EISDIR' && 'path' in e) return `expected a file, got a directory: ${(e as NodeJS.ErrnoException).path}`;
    return e.message.split('\n')[0];
  }
  return String(e);
}

// ---- shared option parsers ----------------------------------------------------------------------

export function parseBool(value: string): boolean {
  const v = value.toLowerCase();
  if (['true', '1', 'yes', 'y', 't'].includes(v)) return true;
  if (['false', '0', 'no', 'n', 'f'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got '${value}'`);
}

export function parseIntStrict(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer, got '${value}'`);
  return Number(value);
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}

/** Options shared by commands that load a model set. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <name>', 'official model set').choices(['offline', 'singing', 'realtime', 'v2']))
    .option('--f0-condition <bool>', 'singing model (44.1 kHz, F0-conditioned) as Seed-VC spells it', parseBool)
    .option('--checkpoint <path>', 'a local (fine-tuned) DiT checkpoint; needs --config')
    .option('--config <path>', 'the YAML config of --checkpoint')
    .addOption(new Option('--precision <mode>', 'compute precision').choices(['auto', 'fp32', 'fp16', 'int8']).default('auto'))
    .option('--fp16 <bool>', 'Seed-VC spelling: true = --precision fp16, false = fp32', parseBool)
    .option('--vocoder-fp16', 'run the vocoder in fp16 too (fp32 by default, as Seed-VC)')
    .addOption(new Option('--device <device>', 'execution device (auto falls back to cpu)').choices(['auto', 'cpu', 'webgpu', 'cuda']).default('auto'))
    .option('--threads <n>', 'CPU threads per session', parseIntStrict)
    .option('--hub-mirror <dir>', 'resolve hub files from a local folder laid out as org/repo/file (env SEED_VC_HUB_MIRROR)')
    .option('--hub-url <url>', 'hub base URL (env SEED_VC_HUB_URL, default https://huggingface.co)')
    .option('--cache-dir <dir>', 'model and graph cache (env SEED_VC_CACHE, default ~/.cache/seed-vc)')
    .option('--offline', 'never download; use the mirror and the cache only');
}

/**
 * The `seed-vc` command line. Every command reports bad input as one line on stderr and a non-zero
 * exit code; long work shows progress on stderr; results go to stdout (JSON with --json).
 */
import { Command, CommanderError } from 'commander';
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

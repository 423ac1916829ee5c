/** Option parsers and the model options shared by the commands (kept apart from main.ts so commands do not import it). */
import { type Command, InvalidArgumentError, Option } from 'commander';

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

/** `seed-vc download`: fetch a model set's files into the cache ahead of time (and build its graphs). */
import type { Command } from 'commander';
import { SeedVc } from '../node/load.ts';
import { type ModelCliOptions, loadOptions, validateModelOptions } from './convert.ts';
import { addModelOptions } from './options.ts';
import { createReporter } from './progress.ts';

export function registerDownload(program: Command): void {
  const cmd = program.command('download')
    .description('download the model files (and build their ONNX graphs) into the cache, then exit')
    .option('-q, --quiet', 'no progress output');
  addModelOptions(cmd).action(async (opts: ModelCliOptions & { quiet?: boolean }) => {
    const reporter = createReporter({ quiet: opts.quiet });
    validateModelOptions(opts);
    if (opts.model === 'v2') {
      // every v2 graph, the AR model's too (it opens lazily in conversions)
      const model = await SeedVc.load({ ...loadOptions({ ...opts, model: undefined }, reporter), model: 'v2', config: opts.config, onEvent: undefined });
      await model.converter.openAr();
      await model.dispose();
      for (const [role, path] of Object.entries(model.files)) process.stdout.write(`${role.padEnd(14)} ${path}\n`);
      return;
    }
    const model = await SeedVc.load(loadOptions(opts, reporter));
    await model.dispose();
    for (const [role, path] of Object.entries(model.files)) process.stdout.write(`${role.padEnd(14)} ${path}\n`);
  });
}

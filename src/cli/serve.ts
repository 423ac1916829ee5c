/** `seed-vc serve` (HTTP API + web app) and `seed-vc worker` (a Redis queue worker). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../core/errors.ts';
import { defaultCacheDir } from '../node/hub.ts';
import { createServer, defaultDataDir, isLoopback } from '../server/app.ts';
import { type ModelCliOptions, loadOptions } from './convert.ts';
import { addModelOptions, parseIntStrict, parseNumber } from './main.ts';
import { createReporter } from './progress.ts';

interface ServeCliOptions extends ModelCliOptions {
  port: number;
  host: string;
  token?: string;
  cors?: string;
  dataDir?: string;
  workers: number;
  queueSize: number;
  resultTtl: number;
  maxUploadMb: number;
  maxSeconds: number;
  queue?: string;
  onWorkerLost: 'retry' | 'fail';
  quiet?: boolean;
}

export function registerServe(program: Command): void {
  const cmd = program.command('serve')
    .description('start the HTTP API and the web app (conversions run in worker threads, or on `seed-vc worker`s with --queue)')
    .option('--port <n>', 'TCP port', parseIntStrict, 7860)
    .option('--host <addr>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .option('--token <secret>', 'require Authorization: Bearer <secret> on /v1 routes (env SEED_VC_TOKEN)')
    .option('--cors <origin>', 'allow this browser origin to call the API (CORS is off by default)')
    .option('--data-dir <dir>', 'uploads, results and saved voices (default <cache-dir>/serve)')
    .option('--workers <n>', 'conversion worker threads (each keeps its models loaded)', parseIntStrict, 1)
    .option('--queue-size <n>', 'jobs that may wait before requests get 429', parseIntStrict, 16)
    .option('--result-ttl <seconds>', 'how long finished jobs and their audio are kept', parseNumber, 3600)
    .option('--max-upload-mb <mb>', 'largest accepted upload', parseNumber, 50)
    .option('--max-seconds <s>', 'longest accepted source audio (decoded duration)', parseNumber, 300)
    .option('--queue <url>', 'redis://HOST:PORT: put jobs on a BullMQ queue for `seed-vc worker` processes instead of local threads')
    .option('--on-worker-lost <what>', 'with --queue: a job whose worker died is retried once, or failed', 'retry')
    .option('-q, --quiet', 'no request log lines');
  addModelOptions(cmd).action(async (opts: ServeCliOptions) => {
    const reporter = createReporter({ quiet: opts.quiet });
    const token = opts.token ?? (process.env.SEED_VC_TOKEN || undefined);
    if (!isLoopback(opts.host) && !token) {
      throw new InvalidInputError(`--host ${opts.host} makes the server reachable from other machines; give --token SECRET too (clients send Authorization: Bearer SECRET)`);
    }
    if (!(opts.port >= 0 && opts.port < 65536)) throw new InvalidInputError(`--port must be in 0..65535, got ${opts.port}`);
    if (opts.workers < 1 || opts.workers > 64) throw new InvalidInputError(`--workers must be in 1..64, got ${opts.workers}`);
    if (opts.onWorkerLost !== 'retry' && opts.onWorkerLost !== 'fail') throw new InvalidInputError(`--on-worker-lost takes retry or fail, got '${opts.onWorkerLost}'`);
    const load = { ...loadOptions(opts, reporter), log: undefined, onEvent: undefined };
    const dataDir = resolve(opts.dataDir ?? defaultDataDir(opts.cacheDir ?? defaultCacheDir()));
    const queue = undefined;
    if (opts.queue) {
      throw new InvalidInputError('--queue: not available yet');
    }
    const server = await createServer({
      host: opts.host, port: opts.port, token, cors: opts.cors, dataDir, workers: opts.workers, queueSize: opts.queueSize,
      resultTtlSeconds: opts.resultTtl, queue,
      limits: { maxUploadBytes: Math.round(opts.maxUploadMb * 2 ** 20), maxSourceSeconds: opts.maxSeconds, maxReferenceSeconds: Math.max(60, opts.maxSeconds) },
      load, log: (line) => reporter.info(line),
    });
    const address = await server.app.listen({ host: opts.host, port: opts.port });
    const url = address.replace('[::1]', 'localhost');
    process.stdout.write(`seed-vc serve: ${url}/ (web app), ${url}/docs (API), data in ${dataDir}, ${opts.queue ? `queue ${opts.queue}` : `${opts.workers} worker thread${opts.workers > 1 ? 's' : ''}`}\n`);
    await new Promise<void>((done) => {
      const stop = (sig: string) => {
        process.stdout.write(`seed-vc serve: ${sig}, shutting down (running jobs are cancelled)\n`);
        void server.close().then(done, (e) => { reporter.info(`shutdown: ${(e as Error).message}`); done(); });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  });
}

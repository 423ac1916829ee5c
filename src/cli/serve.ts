/** `seed-vc serve` (HTTP API + web app) and `seed-vc worker` (a Redis queue worker). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../core/errors.ts';
import { defaultCacheDir } from '../node/hub.ts';
import { createServer, defaultDataDir, isLoopback } from '../server/app.ts';
import { type ModelCliOptions, loadOptions } from './convert.ts';
import { addModelOptions, parseIntStrict, parseNumber } from './options.ts';
import { createReporter } from './progress.ts';

interface ServeCliOptions extends ModelCliOptions {
  v2Config?: string;
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
    .option('--v2-config <yaml>', "a v2 wrapper YAML for requests with model v2 (default: the official one)")
    .option('--workers <n>', 'conversion worker threads (each keeps its models loaded)', parseIntStrict, 1)
    .option('--queue-size <n>', 'jobs that may wait before requests get 429', parseIntStrict, 16)
    .option('--result-ttl <seconds>', 'how long finished jobs and their audio are kept', parseNumber, 3600)
    .option('--max-upload-mb <mb>', 'largest accepted upload', parseNumber, 50)
    .option('--max-seconds <s>', 'longest accepted source audio (decoded duration)', parseNumber, 300)
    .option('--queue <url>', 'redis://HOST:PORT: put jobs on a BullMQ queue for `seed-vc worker` processes instead of local threads')
    .option('-q, --quiet', 'no request log lines');
  addModelOptions(cmd).action(async (opts: ServeCliOptions) => {
    const reporter = createReporter({ quiet: opts.quiet });
    const token = opts.token ?? (process.env.SEED_VC_TOKEN || undefined);
    if (!isLoopback(opts.host) && !token) {
      throw new InvalidInputError(`--host ${opts.host} makes the server reachable from other machines; give --token SECRET too (clients send Authorization: Bearer SECRET)`);
    }
    if (!(opts.port >= 0 && opts.port < 65536)) throw new InvalidInputError(`--port must be in 0..65535, got ${opts.port}`);
    if (opts.workers < 1 || opts.workers > 64) throw new InvalidInputError(`--workers must be in 1..64, got ${opts.workers}`);
    const load = { ...loadOptions(opts, reporter), log: undefined, onEvent: undefined };
    const dataDir = resolve(opts.dataDir ?? defaultDataDir(opts.cacheDir ?? defaultCacheDir()));
    let queue;
    if (opts.queue) {
      const { RedisQueue, redisOptions } = await import('../server/jobs/redis.ts');
      checkRedisUrl(opts.queue, redisOptions);
      queue = await RedisQueue.connect(opts.queue, { capacity: opts.queueSize });
    }
    const server = await createServer({
      host: opts.host, port: opts.port, token, cors: opts.cors, dataDir, workers: opts.workers, queueSize: opts.queueSize,
      resultTtlSeconds: opts.resultTtl, queue,
      limits: { maxUploadBytes: Math.round(opts.maxUploadMb * 2 ** 20), maxSourceSeconds: opts.maxSeconds, maxReferenceSeconds: Math.max(60, opts.maxSeconds) },
      load, v2Config: opts.v2Config ?? (opts.model === 'v2' ? opts.config : undefined), log: (line) => reporter.info(line),
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

function checkRedisUrl(url: string, parse: (u: string) => unknown): void {
  try { parse(url); } catch (e) { throw new InvalidInputError((e as Error).message); }
}

interface WorkerCliOptions extends ModelCliOptions {
  v2Config?: string;
  queue: string;
  dataDir: string;
  name?: string;
  concurrency: number;
  onWorkerLost: string;
  lockMs: number;
  quiet?: boolean;
}

export function registerWorker(program: Command): void {
  const cmd = program.command('worker')
    .description('take conversions from a Redis queue (fed by `seed-vc serve --queue`) and run them here')
    .requiredOption('--queue <url>', 'redis://HOST:PORT of the queue')
    .requiredOption('--data-dir <dir>', "the server's data directory (shared storage: uploads are read and results written there)")
    .option('--name <name>', 'worker name shown in job states (default host:pid)')
    .option('--v2-config <yaml>', "a v2 wrapper YAML for requests with model v2 (default: the official one)")
    .option('--concurrency <n>', 'conversions at once (one worker thread each, models loaded per thread)', parseIntStrict, 1)
    .option('--on-worker-lost <what>', 'a job whose worker died (killed, out of memory): retry (once, on any worker) or fail', 'retry')
    .option('--lock-ms <ms>', 'how long a job stays claimed without a sign of life from its worker', parseIntStrict, 30_000)
    .option('-q, --quiet', 'no log lines');
  addModelOptions(cmd).action(async (opts: WorkerCliOptions) => {
    const reporter = createReporter({ quiet: opts.quiet });
    if (opts.onWorkerLost !== 'retry' && opts.onWorkerLost !== 'fail') throw new InvalidInputError(`--on-worker-lost takes retry or fail, got '${opts.onWorkerLost}'`);
    if (opts.concurrency < 1 || opts.concurrency > 64) throw new InvalidInputError(`--concurrency must be in 1..64, got ${opts.concurrency}`);
    if (opts.lockMs < 1000) throw new InvalidInputError(`--lock-ms must be at least 1000, got ${opts.lockMs}`);
    const { startRedisWorker, redisOptions } = await import('../server/jobs/redis.ts');
    checkRedisUrl(opts.queue, redisOptions);
    const { hostname } = await import('node:os');
    const name = opts.name ?? `${hostname()}:${process.pid}`;
    const load = { ...loadOptions(opts, reporter), log: undefined, onEvent: undefined };
    const runnerLoad = Object.fromEntries(Object.entries(load).filter(([, v]) => v !== undefined && typeof v !== 'function'));
    const worker = await startRedisWorker({
      url: opts.queue, name, concurrency: opts.concurrency, onWorkerLost: opts.onWorkerLost, lockMs: opts.lockMs,
      runner: { load: runnerLoad, v2Config: opts.v2Config, dataDir: resolve(opts.dataDir) }, log: (line) => reporter.info(line),
    });
    process.stdout.write(`seed-vc worker ${name}: ready on ${opts.queue}, data in ${resolve(opts.dataDir)}\n`);
    await new Promise<void>((done) => {
      const stop = () => { void worker.close().then(done, done); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}

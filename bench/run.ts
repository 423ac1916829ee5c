/**
 * `npm run bench` — measurements side by side in one run (never as tests):
 *  1. the DiT estimator at the official whisper-small-wavenet size, CFG batch 2, 1290 frames, against an
 *     ONNX Runtime MatMul 2048^3 measured in the same run (the machine's practical roofline);
 *  2. every stage at official size in fp32 and fp16, per device present: time, peak memory, model bytes.
 * Each measurement runs in its own child process so peak memory is that stage's alone.
 *  3. (--only browser) the tiny models in Chromium WASM, 1 thread and all threads, vs onnxruntime-node (bench/browser.ts).
 * Flags: --json (one JSON object on stdout), --quick (fewer repetitions), --only dit|stages|browser.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { probeDevices } from '../src/node/devices.ts';
import type { StageResult } from './stage.ts';

const args = new Set(process.argv.slice(2));
const json = args.has('--json');
const quick = args.has('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const log = (s: string) => { if (!json) process.stdout.write(`${s}\n`); else process.stderr.write(`${s}\n`); };
const stageScript = fileURLToPath(new URL('./stage.ts', import.meta.url));

function measure(kind: string, precision: string, device: string): StageResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', stageScript, kind, precision, device, quick ? 'quick' : 'full'], {
    encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench ${kind}/${precision}/${device} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as StageResult;
}

const devices = (await probeDevices()).filter((p) => p.available).map((p) => p.device);
const report: Record<string, unknown> = { node: process.version, devices, date: new Date().toISOString() };

if (!only || only === 'dit') {
  log('== DiT estimator vs the MatMul roofline (whisper-small-wavenet, CFG batch 2, 1290 frames, fp32, cpu) ==');
  const roof = measure('matmul2048', 'fp32', 'cpu');
  const dit = measure('dit', 'fp32', 'cpu');
  const ratio = dit.gflops! / roof.gflops!;
  log(`MatMul 2048^3   ${roof.seconds.toFixed(3)} s   ${roof.gflops!.toFixed(1)} GFLOP/s`);
  log(`DiT forward     ${dit.seconds.toFixed(3)} s   ${dit.gflops!.toFixed(1)} GFLOP/s   (${(dit.flops! / 1e9).toFixed(1)} GFLOP)`);
  log(`ratio           ${ratio.toFixed(3)} of the roofline (target >= 0.9)`);
  report.dit = { seconds: dit.seconds, gflops: dit.gflops, gflop: dit.flops! / 1e9, roofline: { seconds: roof.seconds, gflops: roof.gflops }, ratio, runs: dit.runs };
}

if (!only || only === 'stages') {
  const stages: Record<string, Record<string, unknown>> = {};
  for (const device of devices) {
    log(`\n== stages at official size on ${device}: fp32 vs fp16 ==`);
    log('stage      precision   run s   load s   peak MiB   weights MiB');
    for (const stage of ['content', 'speaker', 'length_regulator', 'dit', 'vocoder']) {
      const row: Record<string, StageResult> = {};
      for (const precision of ['fp32', 'fp16']) {
        const r = measure(stage, precision, device);
        row[precision] = r;
        log(`${stage.padEnd(10)} ${precision.padEnd(9)} ${r.seconds.toFixed(3).padStart(7)} ${r.loadSeconds.toFixed(2).padStart(8)} ${r.peakMiB.toFixed(0).padStart(10)} ${(r.weightBytes / 2 ** 20).toFixed(1).padStart(13)}`);
      }
      const speed = row.fp32.seconds / row.fp16.seconds;
      const mem = row.fp16.peakMiB / row.fp32.peakMiB;
      const bytes = row.fp16.weightBytes / row.fp32.weightBytes;
      log(`${''.padEnd(10)} fp16/fp32: ${speed.toFixed(2)}x speed, ${mem.toFixed(2)}x peak memory, ${bytes.toFixed(2)}x weight bytes`);
      stages[`${device}/${stage}`] = { fp32: row.fp32, fp16: row.fp16, speedup: speed, memoryRatio: mem, weightBytesRatio: bytes };
    }
    if (device === 'cpu' || device === 'wasm') {
      log('note: on a CPU, fp16 has no fast arithmetic (it is converted to fp32 per op), so fp16 runs slower; it halves the weight bytes only.');
    }
  }
  report.stages = stages;
}

if (only === 'browser') {
  // Chromium WASM (1 thread, all threads) vs onnxruntime-node on the tiny models; its own script (needs Chromium).
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./browser.ts', import.meta.url)), ...(json ? ['--json'] : []), ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench browser failed (exit ${r.status})`);
  if (json) report.browser = JSON.parse(r.stdout.trim().split('\n').at(-1)!); else process.stdout.write(r.stdout);
}

if (json) process.stdout.write(`${JSON.stringify(report)}\n`);

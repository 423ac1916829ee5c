/**
 * `npm run bench` — measurements side by side in one run (never as tests):
 *  1. the DiT estimator at the official whisper-small-wavenet size, CFG batch 2, 1290 frames, against an
 *     ONNX Runtime MatMul 2048^3 measured in the same run (the machine's practical roofline), and int8 vs fp32;
 *  2. every stage at official size in fp32 and fp16, per device present: time, peak memory, model bytes.
 *  3. e2e: a whole conversion (10 s source, 5 s reference, 10 and 30 steps) at official sizes per precision
 *     (fp32, fp16, int8 where the CPU has int8 dot products): seconds, GFLOP/s and the fraction of the
 *     same-run MatMul roofline per stage, RTF, peak RSS; FLOPs per stage come from an ONNX Runtime profile;
 *  4. memory (on request): resident model weights per network and precision, and the peak RSS of a whole
 *     conversion against the input length (10, 60, 180 s) per precision, for speech and the 44.1 kHz singing set.
 *  5. the streaming converter with the real-time set at official size: per-block compute against the block
 *     time for the README settings and lighter ones (bench/stream.ts).
 *  6. only on request (--only v2): the v2 AR's prefill and KV-cache decode, the other v2 networks, and a whole v2
 *     conversion (10 s source, 5 s reference, default and --convert-style paths, fp32 vs fp16: bench/v2-e2e.ts;
 *     --only v2-e2e runs that alone; --steps N, default 10).
 *  7. only on request (--only serve): the HTTP server under load, N clients converting on the tiny models
 *     (bench/serve.ts); --clients N, --seconds S, --workers W, --steps K.
 *  8. only on request (--only browser): the tiny models in Chromium WASM, 1 thread and all threads, vs onnxruntime-node
 *     (bench/browser.ts).
 *  9. only on request (--only official): a whole conversion by the official PyTorch inference.py next to
 *     `seed-vc convert`, from the same official-size checkpoint files (bench/official-side-by-side.ts; needs the
 *     Python setup of bench/official/README.md, SEED_VC_OFFICIAL_DIR; unconfigured it prints how and exits 0).
 * Each measurement runs in its own child process so peak memory is that stage's alone.
 * Flags: --json (one JSON object on stdout), --quick (fewer repetitions), --only dit|stages|e2e|memory|stream|v2|v2-e2e|serve|browser|official,
 * --precisions fp32,fp16,int8 and --lengths 10,60,180 (e2e and memory), --sets speech,singing, --no-resident and --resident-only (memory).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuCapabilities, probeDevices } from '../src/node/devices.ts';
import { E2E_BENCH_VERSION, type E2eResult, type E2eSet, type E2eStage } from './e2e.ts';
import type { StageResult } from './stage.ts';
import type { StreamBenchRow } from './stream.ts';
import type { V2E2eResult } from './v2-e2e.ts';

const args = new Set(process.argv.slice(2));
const json = args.has('--json');
const quick = args.has('--quick');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const log = (s: string) => { if (!json) process.stdout.write(`${s}\n`); else process.stderr.write(`${s}\n`); };
const stageScript = fileURLToPath(new URL('./stage.ts', import.meta.url));
const e2eScript = fileURLToPath(new URL('./e2e.ts', import.meta.url));
const flag = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const precisions = (flag('--precisions') ?? `fp32,fp16${cpuCapabilities().int8Dot ? ',int8' : ''}`).split(',');

function e2e(precision: string, steps: number[], source: number, reference: number, profile = false, set: E2eSet = 'speech', env: Record<string, string> = {}): E2eResult {
  const extra = [...(profile ? ['profile'] : []), ...(set === 'singing' ? ['singing'] : [])];
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', e2eScript, precision, steps.join(','), String(source), String(reference), ...extra], {
    encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ...env }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`e2e ${precision} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as E2eResult;
}
const MiB = (b: number) => b / 2 ** 20;

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
  if (precisions.includes('int8')) {
    // the int8 mode's target: a DiT step at least 2x faster than fp32, measured in the same run
    const q = measure('dit', 'int8', 'cpu');
    log(`DiT int8        ${q.seconds.toFixed(3)} s   ${(dit.seconds / q.seconds).toFixed(2)}x faster than fp32 (target >= 2)`);
    (report.dit as Record<string, unknown>).int8 = { seconds: q.seconds, runs: q.runs, speedup: dit.seconds / q.seconds };
  }
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

if (!only || only === 'e2e') {
  const STAGES: E2eStage[] = ['content', 'speaker', 'length_regulator', 'dit', 'vocoder'];
  log('\n== whole conversion at official sizes (whisper-small, CAMPPlus, DiT 13x512 + WaveNet, BigVGAN 22 kHz), 10 s source, 5 s reference, cpu ==');
  const roof = measure('matmul2048', 'fp32', 'cpu');
  log(`MatMul 2048^3 roofline: ${roof.gflops!.toFixed(1)} GFLOP/s`);
  // FLOPs per stage, from a profiled fp32 run at one step (the work is the same in every precision),
  // cached next to the bench graphs (profiling slows a run down several times).
  const flopsFile = join(tmpdir(), 'seed-vc-bench', `e2e-flops-v${E2E_BENCH_VERSION}-10-5.json`);
  const prof: E2eResult = existsSync(flopsFile) ? JSON.parse(readFileSync(flopsFile, 'utf8')) : e2e('fp32', [1], 10, 5, true);
  writeFileSync(flopsFile, JSON.stringify(prof));
  const flopsAt = (stage: E2eStage, steps: number) => (stage === 'dit' ? prof.flops!.dit * steps : prof.flops![stage]);
  log(`FLOPs per stage (profiled): ${STAGES.map((st) => `${st} ${(prof.flops![st] / 1e9).toFixed(1)} G${st === 'dit' ? '/step' : ''}`).join(', ')}${prof.unknownNodes ? ` (${prof.unknownNodes} product nodes without shapes)` : ''}`);
  const rows: Record<string, unknown> = {};
  const steps = quick ? [10] : [10, 30];
  for (const precision of precisions) {
    const r = e2e(precision, steps, 10, 5);
    log(`\n-- ${precision} (${STAGES.map((st) => `${st} ${r.plan[st]}`).join(', ')}): peak RSS ${MiB(r.peakRss).toFixed(0)} MiB, sessions resident ${MiB(r.resident.sessions).toFixed(0)} MiB (${STAGES.map((st) => `${st} ${MiB(r.resident.perNet[st]!).toFixed(0)}`).join(', ')}), graphs ${MiB(Object.values(r.graphBytes).reduce((a, b) => a + b, 0)).toFixed(0)} MiB, load ${r.loadSeconds.toFixed(1)} s`);
    for (const run of r.runs) {
      const parts = STAGES.map((st) => {
        const gf = flopsAt(st, run.steps) / run.seconds[st] / 1e9;
        return `${st} ${run.seconds[st].toFixed(2)} s ${gf.toFixed(0)} GFLOP/s ${(gf / roof.gflops!).toFixed(2)}`;
      });
      log(`   ${run.steps} steps: total ${run.seconds.total.toFixed(1)} s, RTF ${run.rtf.toFixed(2)} | ${parts.join(' | ')}`);
    }
    rows[precision] = {
      ...r,
      runs: r.runs.map((run) => ({
        ...run,
        gflops: Object.fromEntries(STAGES.map((st) => [st, flopsAt(st, run.steps) / run.seconds[st] / 1e9])),
        roofline: Object.fromEntries(STAGES.map((st) => [st, flopsAt(st, run.steps) / run.seconds[st] / 1e9 / roof.gflops!])),
      })),
    };
  }
  const base = rows.fp32 as E2eResult | undefined;
  if (base) {
    for (const precision of precisions.filter((p) => p !== 'fp32')) {
      const r = rows[precision] as E2eResult;
      log(`${precision}/fp32: ${r.runs.map((run, i) => `${run.steps} steps ${(base.runs[i].seconds.total / run.seconds.total).toFixed(2)}x speed (DiT ${(base.runs[i].seconds.dit / run.seconds.dit).toFixed(2)}x)`).join(', ')}; peak RSS ${(r.peakRss / base.peakRss).toFixed(2)}x`);
    }
  }
  log('(GFLOP/s counts multiply-accumulates x 2 of matrix products, convolutions and attention; the fraction is of the MatMul roofline above)');
  report.e2e = { roofline: { gflops: roof.gflops }, flops: prof.flops, precisions: rows };
}

if (only === 'memory') {
  const lengths = args.has('--resident-only') ? [] : (flag('--lengths') ?? '10,60,180').split(',').map(Number);
  const sets = (flag('--sets') ?? 'speech,singing').split(',') as E2eSet[];
  const resident: Record<string, Record<string, unknown>> = {};
  if (!args.has('--no-resident')) {
    // What ONNX Runtime keeps per network once its session is open, and the whole process after one short
    // conversion (3 s source, 3 s reference, 1 step). These children run with glibc's mmap threshold fixed
    // at 64 KiB so that freed buffers (the serialized graph, ORT's parse copies) go back to the system
    // and the per-session growth is the network's resident weights, not heap the allocator kept.
    log('\n== resident model weights per precision (official sizes; per network: growth when its session opens; MiB) ==');
    for (const set of sets) {
      for (const precision of precisions) {
        const r = e2e(precision, [1], 3, 3, false, set, { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '65536' });
        const per = r.resident.perNet;
        log(`${set.padEnd(8)} ${precision.padEnd(5)} ${Object.entries(per).map(([k, v]) => `${k} ${MiB(v!).toFixed(0)} (${r.plan[k]}, graph ${MiB(r.graphBytes[k as keyof typeof r.graphBytes]!).toFixed(0)})`).join(', ')}; all sessions ${MiB(r.resident.sessions).toFixed(0)}, after a 3 s conversion ${MiB(r.resident.afterWarmup).toFixed(0)}`);
        resident[`${set}/${precision}`] = { perNet: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, MiB(v!)])), sessions: MiB(r.resident.sessions), afterWarmup: MiB(r.resident.afterWarmup), plan: r.plan };
      }
      const base = resident[`${set}/fp32`] as { perNet: Record<string, number> } | undefined;
      if (base) {
        for (const precision of precisions.filter((p) => p !== 'fp32')) {
          const per = (resident[`${set}/${precision}`] as { perNet: Record<string, number> }).perNet;
          const changed = ['content', 'dit'];
          const ratio = changed.reduce((a, k) => a + per[k], 0) / changed.reduce((a, k) => a + base.perNet[k], 0);
          log(`${set.padEnd(8)} ${precision}/fp32 resident weights of the networks it changes (content + DiT): ${ratio.toFixed(2)}x`);
          (resident[`${set}/${precision}`] as Record<string, unknown>).contentDitRatio = ratio;
        }
      }
    }
  }
  if (lengths.length) log('\n== peak RSS of a whole conversion vs input length (official sizes, 5 s reference, 1 step: memory does not depend on steps) ==');
  const mem: Record<string, Record<string, Record<number, number>>> = {};
  for (const set of lengths.length ? sets : []) {
    log(`${set}: precision ${lengths.map((l) => `${l} s`.padStart(10)).join('')}   (peak RSS MiB; after the conversion, above the bare process)`);
    mem[set] = {};
    for (const precision of precisions) {
      mem[set][precision] = {};
      const after: number[] = [];
      for (const l of lengths) {
        const r = e2e(precision, [1], l, 5, false, set);
        mem[set][precision][l] = MiB(r.peakRss);
        after.push(MiB(r.resident.afterWarmup));
      }
      log(`${set.padEnd(8)} ${precision.padEnd(9)} ${lengths.map((l) => mem[set][precision][l].toFixed(0).padStart(10)).join('')}   (${after.map((a) => a.toFixed(0)).join(' / ')})`);
    }
  }
  report.memory = { peakRssMiB: mem, residentMiB: resident };
}

if (!only || only === 'stream') {
  const streamScript = fileURLToPath(new URL('./stream.ts', import.meta.url));
  const out: Record<string, unknown> = {};
  const runs = devices.filter((d) => d !== 'wasm').map((d) => [d, 'fp32']);
  if (devices.includes('cpu') && process.argv.includes('--int8')) runs.push(['cpu', 'int8']);
  for (const [device, precision] of runs) {
    log(`\n== streaming, real-time set at official size (XLS-R 300m x12, DiT 9x384, HiFT), ${precision}, ${device} ==`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', streamScript, device, quick ? 'quick' : 'full', precision], {
      encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`bench stream/${device} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rows: StreamBenchRow[] };
    log('settings                                              block ms  latency ms  compute p50 / p95 / max ms  ratio   content  LR  diffusion  vocoder');
    for (const row of res.rows) {
      const st = row.stagesMs;
      log(`${row.label.padEnd(53)} ${row.blockMs.toFixed(0).padStart(8)} ${row.latencyMs.toFixed(0).padStart(11)}   ${row.computeMs.p50.toFixed(0).padStart(6)} / ${row.computeMs.p95.toFixed(0).padStart(5)} / ${row.computeMs.max.toFixed(0).padStart(5)}   ${row.ratio.toFixed(2).padStart(5)}   ${st.content.toFixed(0).padStart(7)} ${st.lengthRegulator.toFixed(0).padStart(3)} ${st.diffusion.toFixed(0).padStart(10)} ${st.vocoder.toFixed(0).padStart(8)}`);
    }
    log('ratio = median compute per block / block time: real time needs < 1; end-to-end latency = algorithmic latency + compute.');
    out[`${device}/${precision}`] = res.rows;
  }
  report.stream = out;
}

if (only === 'v2') {
  // Only on request: the official-size v2 builds take minutes. AR: prefill time and decode tokens/s per KV-cache
  // layout and precision (bench/ar.ts); the other v2 networks: bench/v2-nets.ts.
  log('\n== Seed-VC v2 AR: prefill and KV-cache decode (official size 12 x 768, random weights; tiny golden model) ==');
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./ar.ts', import.meta.url)), ...(quick ? ['quick'] : [])], {
    encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench ar failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const ar = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { model: string; layout: string; precision: string; loadSeconds: number; prefillSeconds: number; decodeTokensPerSecond: number; lc: number; lt: number; steps: number }[];
  log('model          precision layout        context   load s  prefill s  decode tok/s');
  for (const x of ar) {
    log(`${x.model.padEnd(14)} ${x.precision.padEnd(9)} ${x.layout.padEnd(13)} ${String(x.lc + x.lt + 2).padStart(7)} ${x.loadSeconds.toFixed(2).padStart(8)} ${x.prefillSeconds.toFixed(3).padStart(10)} ${x.decodeTokensPerSecond.toFixed(1).padStart(13)}`);
  }
  report.v2Ar = ar;
  log('\n== Seed-VC v2 networks at official size (bench/v2-nets.ts) ==');
  const n = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./v2-nets.ts', import.meta.url)), '--json', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (n.status !== 0) throw new Error(`bench v2-nets failed: ${n.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const nets = JSON.parse(n.stdout.trim().split('\n').at(-1)!) as { results: Record<string, { seconds: number; weightMiB: number }> };
  log('network            fp32 s    fp16 s   fp16 speed   weights MiB fp32/fp16');
  for (const name of new Set(Object.keys(nets.results).map((k) => k.slice(0, k.lastIndexOf('.'))))) {
    const a = nets.results[`${name}.fp32`], b = nets.results[`${name}.fp16`];
    if (!a || !b) continue;
    log(`${name.padEnd(16)} ${a.seconds.toFixed(3).padStart(8)} ${b.seconds.toFixed(3).padStart(9)} ${(a.seconds / b.seconds).toFixed(2).padStart(10)}x ${a.weightMiB.toFixed(0).padStart(9)} / ${b.weightMiB.toFixed(0)}`);
  }
  report.v2Nets = nets;
}

if (only === 'v2' || only === 'v2-e2e') {
  // A whole v2 conversion at official sizes (random weights), default and convert-style paths, per precision, each
  // precision in its own child process (bench/v2-e2e.ts); --steps N (default 10; --quick: 4 steps, 2-layer stacks).
  const steps = flag('--steps');
  log(`\n== Seed-VC v2 whole conversion (${quick ? 'quick: 2 layers per deep stack, 3 s source' : 'official sizes, 10 s source, 5 s reference'}, random weights) ==`);
  const rows: V2E2eResult[] = [];
  for (const precision of precisions.filter((p) => p === 'fp32' || p === 'fp16')) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./v2-e2e.ts', import.meta.url)), precision, ...(quick ? ['--quick'] : []), ...(steps ? ['--steps', steps] : [])], {
      encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`bench v2-e2e ${precision} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as V2E2eResult);
  }
  const s = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2)).padStart(7);
  log(`steps ${rows[0]?.steps}; seconds per network (HuBERT, ASTRAL wide + narrow, CAMPPlus, length regulator, AR prefill + decode, DiT/CFM, BigVGAN)`);
  log('path    precision  hubert  astral speaker     lr      ar  tok/s     dit vocoder   total    RTF  peak RSS MiB  build s');
  for (const row of rows) {
    for (const p of row.paths) {
      const n = p.networks;
      const dit = Object.entries(n).filter(([k]) => k.startsWith('dit')).reduce((a, [, v]) => a + v, 0);
      const astral = (n.astral_wide ?? 0) + (n.astral_narrow ?? 0);
      const arS = p.path === 'style' ? p.stages.ar : undefined;
      log(`${p.path.padEnd(7)} ${row.precision.padEnd(9)} ${s(n.hubert)} ${s(astral)} ${s(n.speaker)} ${s(n.length_regulator)} ${s(arS)} ${(p.arTokensPerSecond === undefined ? '-' : p.arTokensPerSecond.toFixed(1)).padStart(6)} ${s(dit)} ${s(n.vocoder)} ${s(p.total)} ${p.rtf.toFixed(2).padStart(6)} ${p.peakRssMiB.toFixed(0).padStart(13)} ${row.buildSeconds.toFixed(0).padStart(8)}`);
    }
  }
  log('dit: the default path runs the CFM in fp32 in both modes (the reference forces it); peak RSS is per process (the style row covers both paths).');
  report.v2E2e = rows;
}

if (only === 'serve') {
  const { benchServe, printServeBench } = await import('./serve.ts');
  const flag = (name: string, def: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def);
  log('== seed-vc serve under load (tiny models of the golden hub mirror) ==');
  const r = await benchServe({ clients: flag('--clients', 8), seconds: flag('--seconds', quick ? 10 : 30), workers: flag('--workers', 1), steps: flag('--steps', 10) }, log);
  printServeBench(r, log);
  report.serve = r;
}

if (only === 'browser') {
  // Chromium WASM (1 thread, all threads) vs onnxruntime-node on the tiny and official-size models, and the DiT loop
  // on WebGPU GPU-resident vs not; its own script (needs Chromium). --sections tiny,cfm,official picks parts.
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./browser.ts', import.meta.url)), ...(json ? ['--json'] : []), ...(quick ? ['--quick'] : []),
    ...(process.argv.includes('--sections') ? ['--sections', process.argv[process.argv.indexOf('--sections') + 1]] : [])], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench browser failed (exit ${r.status})`);
  if (json) report.browser = JSON.parse(r.stdout.trim().split('\n').at(-1)!); else process.stdout.write(r.stdout);
}

if (only === 'official') {
  // Needs Python and the official code (bench/official/README.md); its own script, which passes our flags through.
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./official-side-by-side.ts', import.meta.url)), ...process.argv.slice(2)], {
    encoding: 'utf8', stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench official failed (exit ${r.status})`);
  if (json) report.official = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

if (json) process.stdout.write(`${JSON.stringify(report)}\n`);

/**
 * `npm run bench -- --only browser`, three sections (`--sections tiny,cfm,official`, default all):
 *   tiny     — the parity set's tiny models converted in headless Chromium (the static app of `npm run
 *              build:web`, WASM on 1 thread — no cross-origin isolation — and on all threads) next to
 *              onnxruntime-node on the CPU in the same run: per-stage times as ratios to Node, first-load
 *              time (download + graph builds + sessions, fresh browser storage) and warm-load time.
 *   cfm      — the DiT/CFM loop alone on Chromium's WebGPU adapter (`--enable-unsafe-webgpu`; without a GPU
 *              that is SwiftShader, a CPU emulation: the ratio is not a GPU number) with the tensors kept in
 *              GPU memory between steps and without, for the tiny DiT and a mid-size random-weight DiT.
 *   official — the official-size random-weight networks (bench/official.ts) in Chromium WASM (1 thread and
 *              all threads) next to onnxruntime-node CPU (bench/e2e.ts): per-stage times as ratios, first
 *              load (official-size files downloaded into Cache Storage with sha256 + graphs built in the
 *              worker + sessions) and warm load (cache + OPFS graphs + sessions). Heavy: run it under
 *              `flock /tmp/seedvc-heavy.lock`.
 * Flags: --json, --quick (one conversion per setting instead of three), --sections.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { readWav, toMono } from '../src/core/audio/wav.ts';
import { noiseFromSafetensors } from '../src/core/pipeline/noise.ts';
import { SeedVc } from '../src/node/load.ts';
import { parseSeedVcConfig } from '../src/core/models/config.ts';
import { loadDitCheckpoint } from '../src/core/models/dit-checkpoint.ts';
import { type DitShapes, buildDitEstimator, ditParamShapes } from '../src/core/nets/dit.ts';
import { uvitWavenetDit } from './official.ts';
import { AUDIO, GOLDEN, HUB, PROJECT_ROOT } from '../test/helpers/golden.ts';
import { randomWeights } from '../test/helpers/random-weights.ts';
import { buildLab, runLab } from '../test/browser/lab.ts';
import type { CfmLabResult, OfficialLabResult } from '../test/browser/lab-worker.ts';
import { startStaticServer } from '../test/browser/static-server.ts';
import { E2E_BENCH_VERSION, type E2eResult } from './e2e.ts';

const json = process.argv.includes('--json');
const sectionsArg = process.argv.includes('--sections') ? process.argv[process.argv.indexOf('--sections') + 1] : 'tiny,cfm,official';
const sections = new Set(sectionsArg.split(','));
const runs = process.argv.includes('--quick') ? 1 : 3;
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
const CASE = join(GOLDEN, 'e2e', 'e2e_full_short');
const STAGES = ['content', 'speaker', 'length_regulator', 'diffusion', 'vocoder', 'total'] as const;
type Timings = Record<string, number>;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianTimings = (ts: Timings[]): Timings => Object.fromEntries(STAGES.map((s) => [s, median(ts.map((t) => t[s]))]));

async function benchTiny(): Promise<unknown> {
  // ---- onnxruntime-node, CPU, default threads ----
  const wav = (f: string) => { const a = readWav(new Uint8Array(readFileSync(join(CASE, f))), f); return { samples: toMono(a), sampleRate: a.sampleRate }; };
  const noise = noiseFromSafetensors(new Uint8Array(readFileSync(join(CASE, 'noise.safetensors'))), 'noise.safetensors');
  const nodeCache = mkdtempSync(join(tmpdir(), 'seed-vc-bench-browser-'));
  const t0 = performance.now();
  let model = await SeedVc.load({ mirror: HUB, cacheDir: nodeCache, offline: true, precision: 'fp32', device: 'cpu' });
  const nodeFirstLoad = performance.now() - t0;
  await model.dispose();
  const t1 = performance.now();
  model = await SeedVc.load({ mirror: HUB, cacheDir: nodeCache, offline: true, precision: 'fp32', device: 'cpu' });
  const nodeWarmLoad = performance.now() - t1;
  const nodeTimes: Timings[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await model.convert(wav('source.wav'), wav('reference.wav'), { diffusionSteps: 4, inferenceCfgRate: 0.7, noise });
    nodeTimes.push(r.timings);
  }
  await model.dispose();
  rmSync(nodeCache, { recursive: true, force: true });
  const node = medianTimings(nodeTimes);

  // ---- Chromium: the static app, WASM, 1 thread and all threads ----
  const out = mkdtempSync(join(tmpdir(), 'seed-vc-bench-web-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build:web failed: ${b.stderr}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const results: Record<string, { threads: string; firstLoadMs: number; warmLoadMs: number; times: Timings }> = {};
  try {
    for (const isolate of [false, true]) {
      const server = await startStaticServer({ '/': out, '/hub/': HUB }, { isolate });
      // A fresh on-disk profile: empty Cache Storage and OPFS (a true first load) with a disk-sized quota — an
      // incognito context (browser.newContext) keeps storage in memory and refuses a 350 MB entry.
      const profile = mkdtempSync(join(tmpdir(), 'seed-vc-bench-profile-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const page = await context.newPage();
      const url = `${server.url}/?${new URLSearchParams({ hub: `${server.url}/hub`, layout: 'mirror', device: 'wasm', precision: 'fp32' })}`;
      const load = async (): Promise<Timings> => {
        await page.click('#load');
        await page.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('load-status')!.dataset.state ?? ''), null, { timeout: 600_000 });
        const t = await page.getAttribute('#load-status', 'data-timings');
        if (!t) throw new Error(`load failed: ${await page.textContent('#error')}`);
        return JSON.parse(t);
      };
      await page.goto(url);
      const first = await load();
      await page.reload();
      const warm = await load();
      const threads = (await page.textContent('#device-info'))?.match(/Threads\s*(.*?)Precision/)?.[1] ?? '?';
      await page.setInputFiles('#source', join(CASE, 'source.wav'));
      await page.setInputFiles('#reference', join(CASE, 'reference.wav'));
      await page.setInputFiles('#noise', join(CASE, 'noise.safetensors'));
      await page.fill('#steps', '4');
      const times: Timings[] = [];
      for (let i = 0; i < runs; i++) {
        await page.click('#convert');
        await page.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('convert-status')!.dataset.state ?? '') && !(document.getElementById('convert') as HTMLButtonElement).disabled, null, { timeout: 600_000 });
        const t = await page.getAttribute('#convert-status', 'data-timings');
        if ((await page.getAttribute('#convert-status', 'data-state')) !== 'done' || !t) throw new Error(`conversion failed: ${await page.textContent('#error')}`);
        times.push(JSON.parse(t));
      }
      results[isolate ? 'wasm all threads' : 'wasm 1 thread'] = { threads, firstLoadMs: first.total, warmLoadMs: warm.total, times: medianTimings(times) };
      await context.close();
      await server.close();
    }
  } finally {
    await browser.close();
    rmSync(out, { recursive: true, force: true });
  }

  log(`== e2e_full_short (tiny models, 4 s, 4 steps), median of ${runs}; CPU: ${cpus().length}x ${cpus()[0]?.model ?? '?'} ==`);
  log(`stage              node ms  ${Object.keys(results).map((k) => `${k.padStart(17)} ms  ratio`).join('  ')}`);
  for (const s of STAGES) {
    log(`${s.padEnd(18)} ${node[s].toFixed(0).padStart(7)}  ${Object.values(results).map((r) => `${r.times[s].toFixed(0).padStart(20)}  ${(r.times[s] / node[s]).toFixed(2).padStart(5)}x`).join('  ')}`);
  }
  log(`first load (download + build + sessions): node ${nodeFirstLoad.toFixed(0)} ms (build + sessions, files local); ${Object.entries(results).map(([k, r]) => `${k} ${r.firstLoadMs.toFixed(0)} ms`).join('; ')}`);
  log(`warm load (files and graphs cached):      node ${nodeWarmLoad.toFixed(0)} ms; ${Object.entries(results).map(([k, r]) => `${k} ${r.warmLoadMs.toFixed(0)} ms`).join('; ')}`);
  for (const [k, r] of Object.entries(results)) log(`${k}: ${r.threads.trim()}`);
  return { node: { times: node, firstLoadMs: nodeFirstLoad, warmLoadMs: nodeWarmLoad }, chromium: results, runs };
}

// ---- the DiT/CFM loop on Chromium's WebGPU adapter, GPU-resident vs not ----
/** A mid-size DiT (random weights): the official layout at a quarter of its width, 6 of its 13 blocks (SwiftShader is slow). */
const DIT_MID: DitShapes = uvitWavenetDit(128, 4, 6, 4);

async function benchCfm(): Promise<unknown> {
  const out = mkdtempSync(join(tmpdir(), 'seed-vc-bench-cfm-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build:web failed: ${b.stderr}`);
  await buildLab(out);
  const dir = join(GOLDEN, 'models', 'dit_W');
  const cfg = parseSeedVcConfig(readFileSync(join(dir, 'config_dit_W.yml'), 'utf8'), 'config_dit_W.yml');
  writeFileSync(join(out, 'dit_tiny.onnx'), buildDitEstimator(cfg, loadDitCheckpoint(new Uint8Array(readFileSync(join(dir, 'dit_W.pth'))), 'dit_W.pth', cfg).estimator, { keyMask: false }).toOnnx());
  writeFileSync(join(out, 'dit_mid.onnx'), buildDitEstimator(DIT_MID, randomWeights(ditParamShapes(DIT_MID), 5), { keyMask: false }).toOnnx());
  const server = await startStaticServer({ '/': out, '/golden/': GOLDEN });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
  const steps = 10;
  const repeats = runs;
  const rows: { model: string; frames: number; setting: string; msPerStep: number; adapter: string }[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/lab.html`);
    const models = [
      { model: 'tiny DiT (the parity set dit_W)', name: 'tiny', graphUrl: '/dit_tiny.onnx', inputs: { caseUrl: '/golden/nets/nets_cfm_W_cfg0p7.safetensors' } as const, frames: 56 },
      { model: 'mid DiT (128 x 6, random weights)', name: 'mid', graphUrl: '/dit_mid.onnx', inputs: { random: { C: 80, T: 172, P: 43, D: 128, S: 192, seed: 1 } } as const, frames: 172 },
    ];
    for (const m of models) {
      for (const resident of [false, true]) {
        const t0 = performance.now();
        let r: CfmLabResult;
        try {
          r = await runLab<CfmLabResult>(page, { type: 'cfm', device: 'webgpu', resident, graphUrl: m.graphUrl, inputs: m.inputs, steps, cfgRate: 0.7, repeats: m.name === 'mid' ? 1 : repeats });
        } catch (e) {
          log(`cfm ${m.name} ${resident ? 'resident' : 'host'}: ${(e as Error).message}`);
          throw e;
        }
        rows.push({ model: m.name, frames: m.frames, setting: resident ? 'GPU-resident' : 'read back each step', msPerStep: median(r.solveMs) / steps, adapter: r.adapter });
        log(`cfm ${m.name} ${resident ? 'GPU-resident' : 'read back'}: ${r.solveMs.map((x) => (x / steps).toFixed(1)).join(', ')} ms/step (${((performance.now() - t0) / 1000).toFixed(0)} s with set-up)`);
      }
    }
  } finally {
    await browser.close();
    await server.close();
    rmSync(out, { recursive: true, force: true });
  }
  log(`== DiT/CFM loop on Chromium WebGPU (${rows[0]?.adapter}), ${steps} steps, CFG 0.7, after a warm-up solve: tiny median of ${repeats} solves, mid 1 solve ==`);
  log('model  frames  read back each step ms/step  GPU-resident ms/step  resident / read back');
  for (const name of ['tiny', 'mid']) {
    const [h, g] = [rows.find((r) => r.model === name && r.setting !== 'GPU-resident'), rows.find((r) => r.model === name && r.setting === 'GPU-resident')];
    if (h && g) log(`${name.padEnd(6)} ${String(h.frames).padStart(6)}  ${h.msPerStep.toFixed(1).padStart(27)}  ${g.msPerStep.toFixed(1).padStart(20)}  ${(g.msPerStep / h.msPerStep).toFixed(2).padStart(19)}`);
  }
  log('(SwiftShader is a CPU emulation of a GPU: "GPU memory" is host memory there, so this ratio is not a GPU number.)');
  return { steps, repeats, rows };
}

// ---- official-size random-weight networks: Chromium WASM vs onnxruntime-node ----
const OFFICIAL_STEPS = 10;
const OFFICIAL_SOURCE_S = 5;
const OFFICIAL_REFERENCE_S = 3;

async function benchOfficial(): Promise<unknown> {
  log(`official: load average before ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // Node first: bench/e2e.ts builds (or reuses) the official fp32 graphs and converts; its graph files are
  // then served to the browser as the stand-in for the checkpoints' bytes.
  const e = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'e2e.ts'), 'fp32', String(OFFICIAL_STEPS), String(OFFICIAL_SOURCE_S), String(OFFICIAL_REFERENCE_S)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24,
  });
  if (e.status !== 0) throw new Error(`bench/e2e.ts failed (exit ${e.status})`);
  const node = JSON.parse(e.stdout.trim().split('\n').at(-1)!) as E2eResult;
  const nodeStage = { content: node.runs[0].seconds.content * 1000, speaker: node.runs[0].seconds.speaker * 1000, length_regulator: node.runs[0].seconds.length_regulator * 1000, diffusion: node.runs[0].seconds.dit * 1000, vocoder: node.runs[0].seconds.vocoder * 1000, total: node.runs[0].seconds.total * 1000 };
  log(`official: node ${JSON.stringify(nodeStage)}, load ${node.loadSeconds.toFixed(1)} s`);
  const files = mkdtempSync(join(tmpdir(), 'seed-vc-bench-official-'));
  const repoDir = join(files, 'bench', 'official');
  mkdirSync(repoDir, { recursive: true });
  let bytes = 0;
  for (const net of ['content', 'speaker', 'length_regulator', 'dit', 'vocoder']) {
    const f = join(tmpdir(), 'seed-vc-bench', `e2e-v${E2E_BENCH_VERSION}-${net}-fp32.onnx`);
    bytes += readFileSync(f).length;
    symlinkSync(f, join(repoDir, `${net}.onnx`));
  }
  const out = mkdtempSync(join(tmpdir(), 'seed-vc-bench-web-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build:web failed: ${b.stderr}`);
  await buildLab(out);
  const results: Record<string, { first: OfficialLabResult; warm?: OfficialLabResult; threads: number }> = {};
  try {
    for (const isolate of [false, true]) {
      const server = await startStaticServer({ '/': out, '/files/': files, '/audio/': AUDIO, '/hub/': HUB }, { isolate });
      // A fresh on-disk profile: empty Cache Storage and OPFS (a true first load) with a disk-sized quota — an
      // incognito context (browser.newContext) keeps storage in memory and refuses a 350 MB entry.
      const profile = mkdtempSync(join(tmpdir(), 'seed-vc-bench-profile-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const threads = isolate ? cpus().length : 1;
      const job = {
        type: 'official', threads, graphsBase: `${server.url}/files`, yamlUrl: '/hub/Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml',
        sourceUrl: '/audio/source_s1.wav', referenceUrl: '/audio/s1p1.wav', sourceSeconds: OFFICIAL_SOURCE_S, referenceSeconds: OFFICIAL_REFERENCE_S, steps: OFFICIAL_STEPS,
      } as const;
      const label = isolate ? `wasm ${threads} threads` : 'wasm 1 thread';
      const onLog = (l: string) => log(`official ${label}: ${l}`);
      let page = await context.newPage();
      await page.goto(`${server.url}/lab.html`);
      const first = await runLab<OfficialLabResult>(page, { ...job, phase: 'first', repeats: 0 }, onLog);
      log(`official ${label}: first load ${(first.loadMs / 1000).toFixed(1)} s${first.failed ? `; FAILED: ${first.failed}` : ''}`);
      let warm: OfficialLabResult | undefined;
      if (!first.failed) {
        await page.close();
        page = await context.newPage(); // a new worker: nothing in memory, files and graphs cached
        await page.goto(`${server.url}/lab.html`);
        warm = await runLab<OfficialLabResult>(page, { ...job, phase: 'warm', repeats: runs > 1 ? 2 : 1 }, onLog);
        log(`official ${label}: warm load ${(warm.loadMs / 1000).toFixed(1)} s${warm.failed ? `; FAILED: ${warm.failed}` : ''}`);
      }
      results[label] = { first, warm, threads };
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  }
  log(`official: load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const stages = ['content', 'speaker', 'length_regulator', 'diffusion', 'vocoder', 'total'] as const;
  log(`== official sizes, random weights, fp32: ${OFFICIAL_SOURCE_S} s source, ${OFFICIAL_REFERENCE_S} s reference, ${OFFICIAL_STEPS} steps, CFG 0.7; Chromium WASM vs onnxruntime-node CPU (${cpus().length} threads) ==`);
  log(`stage              node ms  ${Object.keys(results).map((k) => `${k.padStart(17)} ms  ratio`).join('  ')}`);
  for (const st of stages) {
    const cells = Object.values(results).map((r) => {
      const ms = r.warm?.runs.length ? median(r.warm.runs.map((x) => x[st])) : NaN;
      return `${(Number.isFinite(ms) ? ms.toFixed(0) : '—').padStart(20)}  ${(Number.isFinite(ms) ? `${(ms / nodeStage[st]).toFixed(2)}x` : '—').padStart(6)}`;
    });
    log(`${st.padEnd(18)} ${nodeStage[st].toFixed(0).padStart(7)}  ${cells.join('  ')}`);
  }
  log(`files: ${(bytes / 1e6).toFixed(0)} MB (the five official-size fp32 graphs, standing in for the checkpoints)`);
  for (const [k, r] of Object.entries(results)) {
    const f = r.first.load;
    const sum = (key: 'download' | 'build' | 'session') => Object.values(f).reduce((a, x) => a + x[key], 0) / 1000;
    log(`${k}: first load ${(r.first.loadMs / 1000).toFixed(1)} s (download ${sum('download').toFixed(1)} s, build ${sum('build').toFixed(1)} s, sessions ${sum('session').toFixed(1)} s)`
      + `${r.warm ? `; warm load ${(r.warm.loadMs / 1000).toFixed(1)} s` : ''}${r.first.failed ?? r.warm?.failed ? `; failed: ${r.first.failed ?? r.warm?.failed}` : ''}`);
  }
  log(`node: load ${node.loadSeconds.toFixed(1)} s (graphs from its disk cache + sessions)`);
  return { node: { stages: nodeStage, loadSeconds: node.loadSeconds }, chromium: results, bytes, steps: OFFICIAL_STEPS };
}

const report: Record<string, unknown> = {};
if (sections.has('tiny')) report.tiny = await benchTiny();
if (sections.has('cfm')) report.cfm = await benchCfm();
if (sections.has('official')) report.official = await benchOfficial();
if (json) process.stdout.write(`${JSON.stringify(report)}\n`);

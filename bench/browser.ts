/**
 * `npm run bench -- --only browser`: the parity set's tiny models converted in headless Chromium (the static
 * app of `npm run build:web`, WASM on 1 thread — no cross-origin isolation — and on all threads) next to
 * onnxruntime-node on the CPU in the same run: per-stage times as ratios to Node, first-load time (download
 * + graph builds + sessions, fresh browser storage) and warm-load time (a reload: files and graphs cached).
 * Flags: --json, --quick (one conversion per setting instead of three).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { readWav, toMono } from '../src/core/audio/wav.ts';
import { noiseFromSafetensors } from '../src/core/pipeline/noise.ts';
import { SeedVc } from '../src/node/load.ts';
import { GOLDEN, HUB, PROJECT_ROOT } from '../test/helpers/golden.ts';
import { startStaticServer } from '../test/browser/static-server.ts';

const json = process.argv.includes('--json');
const runs = process.argv.includes('--quick') ? 1 : 3;
const log = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
const CASE = join(GOLDEN, 'e2e', 'e2e_full_short');
const STAGES = ['content', 'speaker', 'length_regulator', 'diffusion', 'vocoder', 'total'] as const;
type Timings = Record<string, number>;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianTimings = (ts: Timings[]): Timings => Object.fromEntries(STAGES.map((s) => [s, median(ts.map((t) => t[s]))]));

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
    const context = await browser.newContext(); // fresh Cache Storage and OPFS: a true first load
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
if (json) process.stdout.write(`${JSON.stringify({ node: { times: node, firstLoadMs: nodeFirstLoad, warmLoadMs: nodeWarmLoad }, chromium: results, runs })}\n`);

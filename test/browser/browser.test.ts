/**
 * Conversion inside a real Chromium (Debian's /usr/bin/chromium through playwright-core): the static app of
 * `npm run build:web` and the golden hub mirror served over loopback with COOP/COEP, the golden case
 * e2e_full_short converted in the page's Web Worker on WASM and compared with expected.safetensors; a
 * reload converts again (with a seed, equal to Node's conversion with that seed) without fetching a model
 * file; WebGPU without an adapter falls back to WASM and says so; a failing download is a clear error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { readWav, toMono } from '../../src/core/audio/wav.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, PROJECT_ROOT, assertClose, goldenTensors } from '../helpers/golden.ts';
import { type StaticServer, startStaticServer } from './static-server.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium)`;
const CASE = join(GOLDEN, 'e2e', 'e2e_full_short');
const caseJson = JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { args: { diffusion_steps: number; inference_cfg_rate: number; length_adjust: number }; compare: { tensor: string; tol: number }[] };
const TOL = caseJson.compare.find((c) => c.tensor === 'output')!.tol;
const STEPS = caseJson.args.diffusion_steps;

let out: string;
let server: StaticServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

const hubRequests = () => server.requests.filter((p) => p.startsWith('/hub/')).length;
const CAMPPLUS_PATH = 'funasr/campplus/campplus_cn_common.bin';
const appUrl = (q: Record<string, string>) => `${server.url}/?${new URLSearchParams({ hub: `${server.url}/hub`, layout: 'mirror', precision: 'fp32', ...q })}`;

async function loadModel(p: Page): Promise<string> {
  await p.click('#load');
  await p.waitForFunction(() => ['ready', 'failed'].includes(document.getElementById('load-status')!.dataset.state ?? ''), null, { timeout: 240_000 });
  const status = (await p.textContent('#load-status')) ?? '';
  assert.match(status, /^ready/, `load failed: ${status} ${await p.textContent('#error')}`);
  return status;
}

/** Converts the case's source/reference in the page; returns the waveform of the page's WAV download. */
async function convert(p: Page, noise: boolean, seed?: number): Promise<Float32Array> {
  await p.setInputFiles('#source', join(CASE, 'source.wav'));
  await p.setInputFiles('#reference', join(CASE, 'reference.wav'));
  await p.setInputFiles('#noise', noise ? join(CASE, 'noise.safetensors') : []);
  await p.fill('#steps', String(STEPS));
  await p.fill('#cfg', String(caseJson.args.inference_cfg_rate));
  await p.fill('#length', String(caseJson.args.length_adjust));
  await p.fill('#seed', seed === undefined ? '' : String(seed));
  await p.click('#convert');
  await p.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('convert-status')!.dataset.state ?? ''), null, { timeout: 240_000 });
  const status = (await p.textContent('#convert-status')) ?? '';
  assert.match(status, /^done/, `conversion failed: ${status} ${await p.textContent('#error')}`);
  const bytes = await p.evaluate(async () => {
    const href = (document.getElementById('download') as HTMLAnchorElement).href;
    return [...new Uint8Array(await (await fetch(href)).arrayBuffer())];
  });
  const wav = readWav(new Uint8Array(bytes), 'converted.wav');
  assert.equal(wav.sampleRate, 22050);
  return toMono(wav);
}

/** The case's conversion with a seed (no noise file) through the Node library, memoised. */
const nodeRuns = new Map<number, Promise<Float32Array>>();
function nodeSeeded(seed: number): Promise<Float32Array> {
  let r = nodeRuns.get(seed);
  if (!r) {
    r = (async () => {
      const cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-web-node-'));
      const model = await SeedVc.load({ mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
      try {
        const wav = (f: string) => { const a = readWav(new Uint8Array(readFileSync(join(CASE, f))), f); return { samples: toMono(a), sampleRate: a.sampleRate }; };
        return (await model.convert(wav('source.wav'), wav('reference.wav'), {
          diffusionSteps: STEPS, inferenceCfgRate: caseJson.args.inference_cfg_rate, lengthAdjust: caseJson.args.length_adjust, seed,
        })).audio;
      } finally {
        await model.dispose();
        rmSync(cacheDir, { recursive: true, force: true });
      }
    })();
    nodeRuns.set(seed, r);
  }
  return r;
}

before(async () => {
  if (skip) return;
  out = mkdtempSync(join(tmpdir(), 'seed-vc-web-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  assert.equal(b.status, 0, `build:web failed: ${b.stderr}`);
  server = await startStaticServer(
    { '/': out, '/hub/': HUB, '/cut-once-hub/': HUB, '/cut-always-hub/': HUB, '/slow-hub/': HUB },
    { cuts: { '/cut-once-hub/': 'once', '/cut-always-hub/': 'always' }, slow: ['/slow-hub/'] },
  );
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext();
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

test('e2e_full_short converts inside the page on WASM (its noise file) and equals expected.safetensors', { skip }, async (t) => {
  await page.goto(appUrl({ device: 'wasm' }));
  const status = await loadModel(page);
  assert.equal(await page.textContent('#device-name'), 'WASM');
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated');
  assert.match((await page.textContent('#device-info')) ?? '', /cross-origin isolated: \d+ WASM threads/);
  assert.ok(hubRequests() >= 7, `the model files came from the loopback hub (${hubRequests()} requests)`);
  t.diagnostic(status);
  const before = server.requests.length;
  const audio = await convert(page, true);
  assert.equal(server.requests.length, before, 'a conversion sends no request to the server');
  const exp = goldenTensors(join('e2e', 'e2e_full_short', 'expected.safetensors')).get('output')!;
  const err = assertClose('browser e2e_full_short output', { shape: [audio.length], data: audio }, exp, TOL);
  t.diagnostic(`output err ${err.toExponential(2)} (tol ${TOL}); ${await page.textContent('#convert-status')}`);
});

test('a reload converts again without fetching model files; with a seed it equals the Node conversion with that seed', { skip }, async (t) => {
  const fetched = hubRequests();
  await page.reload();
  const status = await loadModel(page);
  assert.equal(hubRequests(), fetched, 'no model file was requested again');
  assert.match(status, /\(0\.0 MB downloaded, 7 from the cache\), 0 graphs built, 5 from the cache/);
  t.diagnostic(status);
  const seed = 1234;
  const inBrowser = await convert(page, false, seed);
  assert.match((await page.textContent('#rtf')) ?? '', new RegExp(`seed ${seed}`));
  const node = await nodeSeeded(seed);
  const err = assertClose('browser vs Node, seed 1234', { shape: [inBrowser.length], data: inBrowser }, { shape: [node.length], data: node }, TOL);
  t.diagnostic(`browser vs Node with seed ${seed}: err ${err.toExponential(2)} (tol ${TOL})`);
  if (process.env.SEED_VC_SCREENSHOT) await page.screenshot({ path: process.env.SEED_VC_SCREENSHOT, fullPage: true });
});

test('Cancel stops a running in-page conversion between DiT steps; the next conversion in the page equals expected.safetensors', { skip }, async (t) => {
  // The page holds the loaded model (previous test). 200 steps; the page's Cancel is clicked as soon as it shows step 1.
  const STEPS_LONG = 200;
  await page.setInputFiles('#source', join(CASE, 'source.wav'));
  await page.setInputFiles('#reference', join(CASE, 'reference.wav'));
  await page.setInputFiles('#noise', join(CASE, 'noise.safetensors'));
  await page.fill('#steps', String(STEPS_LONG));
  await page.evaluate(() => {
    const s = document.getElementById('convert-status')!;
    new MutationObserver((_, o) => {
      if (s.dataset.steps !== '1') return;
      o.disconnect();
      document.getElementById('cancel')!.click();
    }).observe(s, { attributes: true, attributeFilter: ['data-steps'] });
  });
  await page.click('#convert');
  await page.waitForFunction(() => ['done', 'failed', 'cancelled'].includes(document.getElementById('convert-status')!.dataset.state ?? '')
    && !(document.getElementById('convert') as HTMLButtonElement).disabled, null, { timeout: 240_000 });
  const status = (await page.textContent('#convert-status')) ?? '';
  assert.equal(await page.getAttribute('#convert-status', 'data-state'), 'cancelled', `${status} ${await page.textContent('#error')}`);
  const m = new RegExp(`^Cancelled \\(conversion cancelled after diffusion step (\\d+) of ${STEPS_LONG}\\)$`).exec(status);
  assert.ok(m, status);
  // The cancel left the page right after step 1's event; the worker, busy with the next step, stops at the gate after it.
  assert.ok(Number(m[1]) <= 3, `the worker stopped after step ${m[1]} of ${STEPS_LONG}`);
  assert.equal(await page.getAttribute('#convert-status', 'data-steps'), '1', 'no step event reached the page after the cancel');
  assert.equal(await page.isHidden('#error'), true, 'a cancel is not shown as an error');
  assert.equal(await page.isEnabled('#cancel'), false, 'the page is idle again');
  t.diagnostic(status);
  // Same worker, same sessions: the golden case converts and equals expected.safetensors.
  const audio = await convert(page, true);
  const exp = goldenTensors(join('e2e', 'e2e_full_short', 'expected.safetensors')).get('output')!;
  const err = assertClose('browser e2e_full_short after a cancel', { shape: [audio.length], data: audio }, exp, TOL);
  t.diagnostic(`next conversion: err ${err.toExponential(2)} (tol ${TOL})`);
});

test('Cancel loading cuts the download in flight and stores nothing of it; the same worker then loads another set', { skip }, async (t) => {
  const p = await context.newPage();
  try {
    await p.goto(`${server.url}/?${new URLSearchParams({ hub: `${server.url}/slow-hub`, layout: 'mirror', model: 'singing', device: 'wasm', precision: 'fp32' })}`);
    await p.click('#load');
    await p.waitForFunction(() => /^downloading /.test(document.getElementById('load-status')!.textContent ?? ''), null, { timeout: 60_000 });
    await p.click('#load-cancel');
    await p.waitForFunction(() => ['ready', 'failed', 'cancelled'].includes(document.getElementById('load-status')!.dataset.state ?? ''), null, { timeout: 60_000 });
    assert.equal(await p.getAttribute('#load-status', 'data-state'), 'cancelled', `${await p.textContent('#load-status')} ${await p.textContent('#error')}`);
    assert.equal(await p.textContent('#load-status'), 'Cancelled: no model is loaded');
    assert.equal(await p.isDisabled('#convert'), true);
    const stored = await p.evaluate(async () => (await (await caches.open('seed-vc-models-v1')).keys()).map((r) => r.url));
    assert.ok(!stored.some((u) => u.includes('whisper_base_f0_44k')), 'the cancelled download left no cache entry');
    // The worker is free: the offline set (cached by the first test) loads.
    await p.selectOption('#model', 'offline');
    await p.fill('#hub', `${server.url}/hub`);
    t.diagnostic(await loadModel(p));
  } finally {
    await p.close();
  }
});

test('without a WebGPU adapter, auto and webgpu fall back to WASM and say why', { skip }, async () => {
  const p = await context.newPage();
  try {
    for (const device of ['auto', 'webgpu']) {
      await p.goto(appUrl({ device }));
      await loadModel(p);
      assert.equal(await p.textContent('#device-name'), 'WASM', device);
      const reason = (await p.textContent('#device-reason')) ?? '';
      assert.match(reason, /WebGPU|navigator\.gpu/, reason);
      assert.match(reason, /no adapter|navigator\.gpu is missing/, reason);
      assert.match(reason, /using WASM$/, reason);
      if (device === 'webgpu') assert.match(reason, /^WebGPU requested but unavailable/);
    }
  } finally {
    await p.close();
  }
});

test('a failing model download shows a clear error naming the file, the URL and the HTTP status', { skip }, async () => {
  const p = await context.newPage();
  try {
    await p.goto(`${server.url}/?${new URLSearchParams({ hub: `${server.url}/broken-hub`, layout: 'mirror', model: 'singing' })}`);
    await p.click('#load');
    await p.waitForFunction(() => document.getElementById('load-status')!.dataset.state === 'failed', null, { timeout: 60_000 });
    assert.equal(await p.isVisible('#error'), true);
    const text = (await p.textContent('#error')) ?? '';
    assert.match(text, /DownloadError: could not download Plachta\/Seed-VC\/DiT_seed_v2_uvit_whisper_base_f0_44k_bigvgan_pruned_ft_ema_v2\.pth from http:\/\/127\.0\.0\.1:\d+\/broken-hub\/.+: HTTP 500/, text);
    assert.equal(await p.isDisabled('#convert'), true);
  } finally {
    await p.close();
  }
});

test('the serve web app: Run on "This browser" converts in the page (seeded, equal to Node) and sends no conversion request', { skip }, async (t) => {
  const { startServer, SOURCE, REFERENCE } = await import('../server/helpers.ts');
  const serve = await startServer();
  const p = await context.newPage();
  const conversionRequests: string[] = [];
  p.on('request', (r) => { if (r.url().includes('/v1/conversions')) conversionRequests.push(`${r.method()} ${r.url()}`); });
  const problems: string[] = [];
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    await p.goto(`${serve.url}/?${new URLSearchParams({ hub: `${server.url}/hub`, layout: 'mirror' })}`);
    // seed-vc serve sends COOP/COEP: the page is cross-origin isolated, and the models still load from another origin (CORS).
    assert.equal(await p.evaluate(() => crossOriginIsolated), true, 'the serve web app is cross-origin isolated');
    await p.getByLabel('This browser').check();
    await p.getByLabel('Source', { exact: true }).setInputFiles(SOURCE);
    await p.getByLabel('Reference', { exact: true }).setInputFiles(REFERENCE);
    await p.getByLabel('Diffusion steps', { exact: true }).fill(String(STEPS));
    await p.getByLabel('Inference CFG rate', { exact: true }).fill(String(caseJson.args.inference_cfg_rate));
    await p.getByLabel('Length adjust', { exact: true }).fill(String(caseJson.args.length_adjust));
    await p.getByLabel('Seed', { exact: true }).fill('1234');
    await p.getByLabel('Precision', { exact: true }).selectOption('fp32');
    await p.getByRole('button', { name: 'Convert', exact: true }).click();
    await p.locator('#result').waitFor({ state: 'visible', timeout: 240_000 });
    const info = (await p.textContent('#browser-info')) ?? '';
    assert.match(info, /^This browser: (WASM|WebGPU) \(.+\); .+; precision fp32/, info);
    if (info.startsWith('This browser: WASM')) assert.match(info, /cross-origin isolated: \d+ WASM threads/, info);
    assert.deepEqual(conversionRequests, [], 'no conversion request reached the server');
    const bytes = await p.evaluate(async () => [...new Uint8Array(await (await fetch((document.getElementById('download') as HTMLAnchorElement).href)).arrayBuffer())]);
    const audio = toMono(readWav(new Uint8Array(bytes), 'result.wav'));
    const node = await nodeSeeded(1234);
    const err = assertClose('serve app in-browser vs Node, seed 1234', { shape: [audio.length], data: audio }, { shape: [node.length], data: node }, TOL);
    t.diagnostic(`${info}; vs Node err ${err.toExponential(2)} (tol ${TOL})`);
    assert.deepEqual(problems, [], 'no console errors under COOP/COEP');
    // Cancel while the worker runs 200 steps: clicked as the first step shows; the app says Cancelled and is idle again.
    await p.getByLabel('Diffusion steps', { exact: true }).fill('200');
    await p.evaluate(() => {
      const text = document.getElementById('progress-step-text')!;
      new MutationObserver((_, o) => {
        if (!/^step 1\//.test(text.textContent ?? '')) return;
        o.disconnect();
        document.getElementById('cancel')!.click();
      }).observe(text, { childList: true, characterData: true, subtree: true });
    });
    await p.getByRole('button', { name: 'Convert', exact: true }).click();
    await p.waitForFunction(() => document.getElementById('status')!.textContent === 'Cancelled.', null, { timeout: 120_000 });
    assert.equal(await p.textContent('#progress-stage'), 'cancelled');
    assert.match((await p.textContent('#progress-step-text')) ?? '', /^step [12]\/200/, 'stopped right after the first step');
    assert.equal(await p.isEnabled('#convert'), true);
    assert.equal(await p.isDisabled('#cancel'), true);
    assert.equal(await p.evaluate(() => document.getElementById('status')!.classList.contains('error')), false, 'a cancel is not shown as an error');
    if (process.env.SEED_VC_SCREENSHOT) await p.screenshot({ path: process.env.SEED_VC_SCREENSHOT.replace(/\.png$/, '-serve.png'), fullPage: true });
  } finally {
    await p.close();
    await serve.close();
  }
});

test('a cut download resumes with a Range request and ends verified; one that keeps failing leaves no cache entry', { skip }, async () => {
  const fresh = await browser.newContext(); // empty Cache Storage and OPFS
  try {
    const p = await fresh.newPage();
    // Every file's first response stops half-way: each download resumes from where it was cut.
    await p.goto(appUrl({ device: 'wasm', hub: `${server.url}/cut-once-hub` }));
    const status = await loadModel(p);
    assert.match(status, /7 files \(31\.\d MB downloaded, 0 from the cache\)/, status);
    const resumed = server.requests.filter((r) => r.startsWith(`/cut-once-hub/${CAMPPLUS_PATH} bytes=`));
    assert.equal(resumed.length, 1, `one Range request resumed CAMPPlus: ${resumed.join(', ')}`);
    const size = readFileSync(join(HUB, CAMPPLUS_PATH)).length;
    // The server sends half and resets the connection: the browser resumes at what it had received — half, or
    // less when the reset arrived before the last of it was read (seen under load).
    const from = Number(/ bytes=(\d+)-$/.exec(resumed[0])?.[1]);
    assert.ok(from > 0 && from <= Math.floor(size / 2), `resumed at byte ${from} of ${size} (cut at ${Math.floor(size / 2)})`);

    // Cut on every attempt: the load fails with a clear error and nothing of that file is stored.
    const q = await fresh.newPage();
    await q.goto(`${server.url}/?${new URLSearchParams({ hub: `${server.url}/cut-always-hub`, layout: 'mirror', model: 'singing' })}`);
    await q.click('#load');
    await q.waitForFunction(() => document.getElementById('load-status')!.dataset.state === 'failed', null, { timeout: 60_000 });
    const text = (await q.textContent('#error')) ?? '';
    assert.match(text, /DownloadError: download of Plachta\/Seed-VC\/DiT_seed_v2_uvit_whisper_base_f0_44k_bigvgan_pruned_ft_ema_v2\.pth from .+ was cut after \d+ bytes .*nothing was stored/, text);
    const stored = await q.evaluate(async () => {
      const c = await caches.open('seed-vc-models-v1');
      return (await c.keys()).map((r) => r.url);
    });
    assert.ok(!stored.some((u) => u.includes('whisper_base_f0_44k')), `no entry for the cut file (cache holds ${stored.length} files)`);
    assert.ok(stored.some((u) => u.endsWith(CAMPPLUS_PATH)), 'the files completed earlier are still there');
  } finally {
    await fresh.close();
  }
});

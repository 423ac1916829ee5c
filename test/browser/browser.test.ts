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

before(async () => {
  if (skip) return;
  out = mkdtempSync(join(tmpdir(), 'seed-vc-web-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  assert.equal(b.status, 0, `build:web failed: ${b.stderr}`);
  server = await startStaticServer({ '/': out, '/hub/': HUB });
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
  const cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-web-node-'));
  const model = await SeedVc.load({ mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
  try {
    const wav = (f: string) => { const a = readWav(new Uint8Array(readFileSync(join(CASE, f))), f); return { samples: toMono(a), sampleRate: a.sampleRate }; };
    const r = await model.convert(wav('source.wav'), wav('reference.wav'), {
      diffusionSteps: STEPS, inferenceCfgRate: caseJson.args.inference_cfg_rate, lengthAdjust: caseJson.args.length_adjust, seed,
    });
    const err = assertClose('browser vs Node, seed 1234', { shape: [inBrowser.length], data: inBrowser }, { shape: [r.audio.length], data: r.audio }, TOL);
    t.diagnostic(`browser vs Node with seed ${seed}: err ${err.toExponential(2)} (tol ${TOL})`);
  } finally {
    await model.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
  if (process.env.SEED_VC_SCREENSHOT) await page.screenshot({ path: process.env.SEED_VC_SCREENSHOT, fullPage: true });
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

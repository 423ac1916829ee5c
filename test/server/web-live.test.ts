/**
 * The web app's Live tab in real Chromium with a fake microphone that plays the golden e2e_full_short source
 * (as 16-bit WAV in a temp folder: Chromium's fake capture reads PCM WAV and loops it): the page's AudioWorklet
 * captures it, streams it to /v1/stream (tiny real-time models of the golden hub mirror), plays the converted
 * audio back; the test checks that converted audio arrives, the played samples are finite and not silent, the
 * output meter moved, Stop ends cleanly, and there are no console errors. Screenshot: test-artifacts/web-live.png.
 * Also: settings the server refuses and a denied microphone each show a clear message and leave Start usable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { encodeWav, readWav, toMono } from '../../src/core/audio/index.ts';
import { STREAM_DEFAULTS, algorithmicLatency, streamSizes } from '../../src/core/pipeline/stream.ts';
import { HUB, PROJECT_ROOT } from '../helpers/golden.ts';
import { REFERENCE, SOURCE, type TestServer, startServer } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const run = existsSync(CHROMIUM) ? test : test.skip;

let s: TestServer;
let browser: Browser;
let tmp: string;
before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'seed-vc-live-'));
  const src = readWav(new Uint8Array(readFileSync(SOURCE)), 'source.wav');
  const mic = join(tmp, 'mic.wav');
  writeFileSync(mic, encodeWav(toMono(src), src.sampleRate, { format: 'pcm16' }));
  s = await startServer({ load: { mirror: HUB, offline: true, device: 'cpu', precision: 'fp32', model: 'realtime' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${mic}`],
  });
});
after(async () => {
  await browser?.close();
  await s?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

run(`live conversion from a fake microphone in the web app (Chromium at ${CHROMIUM})`, async (t) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${s.url}/`);

  // The voice: the Convert tab's Reference clip (the Live tab saves it as a voice on start).
  await page.getByLabel('Reference', { exact: true }).setInputFiles(REFERENCE);
  await page.locator('#reference-info').filter({ hasText: '3.00 s' }).waitFor({ timeout: 20_000 });

  // Keyboard: from the Convert tab, ArrowLeft wraps round to Live.
  await page.getByRole('tab', { name: 'Convert' }).focus();
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.getByRole('tab', { name: 'Live' }).getAttribute('aria-selected'), 'true');
  // The GUI's defaults are filled in; lighter settings keep the shared CI machine ahead of real time.
  assert.equal(await page.getByLabel('Block time (s)').inputValue(), '0.18');
  assert.equal(await page.getByLabel('Live diffusion steps').inputValue(), '10');
  assert.equal(await page.getByLabel('Live CFG rate').inputValue(), '0.7');
  await page.getByLabel('Block time (s)').fill('0.3');
  await page.getByLabel('Live diffusion steps').fill('2');
  await page.getByLabel('Live CFG rate').fill('0');
  await page.getByLabel('Extra context (s)').fill('1');
  assert.ok(await page.getByLabel('Monitor (hear the converted voice)').isChecked());

  await page.getByRole('button', { name: 'Start live' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#live-status').filter({ hasText: 'Live: converting' }).waitFor({ timeout: 60_000 });
  assert.equal(await page.getByRole('button', { name: 'Stop live' }).isEnabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Start live' }).isEnabled(), false);
  const rate = await page.evaluate(() => Number(/at (\d+) Hz/.exec(document.getElementById('live-status')!.textContent!)![1]));

  // 1.5 s of converted audio back (f32), played: the output meter moved while it plays.
  await page.waitForFunction((bytes) => Number(document.getElementById('view-live')!.dataset.receivedBytes ?? 0) >= bytes, 1.5 * rate * 4, { timeout: 60_000 });
  await page.waitForFunction(() => (document.getElementById('live-out-level') as HTMLMeterElement).value > -50, undefined, { timeout: 20_000 });
  await page.waitForFunction(() => (document.getElementById('live-in-level') as HTMLMeterElement).value > -50, undefined, { timeout: 20_000 });
  const algo = await page.locator('#live-latency-algo').textContent();
  assert.match(algo!, /^\d+ ms/);
  // The core's latency for these settings (block + right context + SOLA buffer and search), as the page shows it.
  const z = streamSizes({ ...STREAM_DEFAULTS, blockTime: 0.3, diffusionSteps: 2, inferenceCfgRate: 0, extraTimeCe: 1 }, 22050, 256);
  assert.equal(algo!.split(' ')[0], (algorithmicLatency(z).seconds * 1000).toFixed(0));
  await page.locator('#live-latency-rtt').filter({ hasText: /\d+ ms/ }).waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'web-live.png'), fullPage: true });

  const played = await page.evaluate(() => ({ ...document.getElementById('view-live')!.dataset }));
  assert.ok(Number(played.playedSamples) > 0.5 * rate, `played ${played.playedSamples} samples`);
  assert.equal(Number(played.playedNonFinite), 0);
  assert.ok(Number(played.playedPeak) > 0.01 && Number(played.playedPeak) < 2, `played peak ${played.playedPeak}`);

  await page.getByRole('button', { name: 'Stop live' }).click();
  await page.locator('#live-status').filter({ hasText: /^Stopped/ }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('button', { name: 'Start live' }).isEnabled(), true);
  await page.waitForTimeout(1600); // the audio graph closes after the last block has played
  assert.equal(await page.locator('#live-out-level').evaluate((m: HTMLMeterElement) => m.value), -60);

  // A narrow screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow} px wider than a 390 px screen`);
  await page.screenshot({ path: join(ARTIFACTS, 'web-live-narrow.png'), fullPage: true });
  assert.deepEqual(problems, []);
  t.diagnostic(`received ${played.receivedBytes} bytes at ${rate} Hz; round trip ${await page.locator('#live-latency-rtt').textContent()}; compute ${await page.locator('#live-compute').textContent()}`);
});

run('live: settings the server refuses show its message; Start works again', async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${s.url}/`);
  await page.getByRole('tab', { name: 'Live' }).click();
  // No voice yet: said before the microphone opens.
  await page.getByRole('button', { name: 'Start live' }).click();
  await page.locator('#live-status.error').filter({ hasText: 'Pick a saved voice or choose a Reference clip' }).waitFor({ timeout: 10_000 });
  await page.getByRole('tab', { name: 'Convert' }).click();
  await page.getByLabel('Reference', { exact: true }).setInputFiles(REFERENCE);
  await page.locator('#reference-info').filter({ hasText: '3.00 s' }).waitFor({ timeout: 20_000 });
  await page.getByRole('tab', { name: 'Live' }).click();
  await page.getByLabel('Live diffusion steps').fill('0');
  await page.getByRole('button', { name: 'Start live' }).click();
  await page.locator('#live-status.error').filter({ hasText: /server stopped the live stream: stream settings: .*diffusion_steps/ }).waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('button', { name: 'Start live' }).isEnabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Stop live' }).isEnabled(), false);
  assert.deepEqual(problems, []);
});

run('live: a denied microphone is said plainly', async () => {
  // No --use-fake-ui-for-media-stream: headless Chromium dismisses the permission prompt, as a user who says no.
  const denying = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--use-fake-device-for-media-stream'] });
  try {
    const page = await denying.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/`);
    await page.getByLabel('Reference', { exact: true }).setInputFiles(REFERENCE);
    await page.locator('#reference-info').filter({ hasText: '3.00 s' }).waitFor({ timeout: 20_000 });
    await page.getByRole('tab', { name: 'Live' }).click();
    await page.getByRole('button', { name: 'Start live' }).click();
    await page.locator('#live-status.error').filter({ hasText: 'Microphone permission was denied' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.getByRole('button', { name: 'Start live' }).isEnabled(), true);
    assert.deepEqual(errors, []);
  } finally {
    await denying.close();
  }
});

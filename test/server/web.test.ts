/**
 * The web app in real Chromium (Debian's /usr/bin/chromium driven by playwright-core): upload the
 * golden e2e_full_short source and reference, convert with the tiny models, watch progress reach the
 * end, check the player and the downloaded WAV, no console errors; screenshots go to test-artifacts/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { readWav } from '../../src/core/audio/index.ts';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import { REFERENCE, SOURCE, type TestServer, startServer } from './helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const run = existsSync(CHROMIUM) ? test : test.skip;

let s: TestServer;
let browser: Browser;
before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  s = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await s?.close();
});

run(`convert in the web app (Chromium at ${CHROMIUM})`, async (t) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const home = await page.goto(`${s.url}/`);
  // Cross-origin isolated (COOP + COEP on the page and its assets): in-browser conversion gets WASM threads.
  assert.equal(home!.headers()['cross-origin-opener-policy'], 'same-origin');
  assert.equal(home!.headers()['cross-origin-embedder-policy'], 'require-corp');
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);

  // Every control has a visible label that names it.
  for (const name of ['Source', 'Reference', 'Diffusion steps', 'Seed', 'Precision', 'Length adjust', 'Inference CFG rate', 'Semi-tone shift', 'Saved voice']) {
    await assert.doesNotReject(page.getByLabel(name, { exact: true }).waitFor({ state: 'visible', timeout: 5000 }), name);
  }
  // The server's defaults are filled in.
  assert.equal(await page.getByLabel('Diffusion steps', { exact: true }).inputValue(), '30');
  assert.equal(await page.getByLabel('Inference CFG rate', { exact: true }).inputValue(), '0.7');

  // Model v2 shows its own fields and hides the v1-only ones; back to v1 for the conversion below.
  await page.getByLabel('Model', { exact: true }).selectOption('v2');
  for (const name of ['Convert style (accent and emotion)', 'Intelligibility CFG rate', 'Similarity CFG rate']) {
    await assert.doesNotReject(page.getByLabel(name, { exact: true }).waitFor({ state: 'visible', timeout: 5000 }), name);
  }
  for (const name of ['Inference CFG rate', 'Semi-tone shift', 'F0 condition (singing)', 'Auto F0 adjust']) assert.equal(await page.getByLabel(name, { exact: true }).isVisible(), false, name);
  assert.equal(await page.getByLabel('Similarity CFG rate', { exact: true }).inputValue(), '0.7');
  await page.getByLabel('Model', { exact: true }).selectOption('');
  assert.equal(await page.getByLabel('Similarity CFG rate', { exact: true }).isVisible(), false);

  await page.getByLabel('Source', { exact: true }).setInputFiles(SOURCE);
  await page.getByLabel('Reference', { exact: true }).setInputFiles(REFERENCE);
  await page.locator('#source-info').filter({ hasText: '4.00 s' }).waitFor({ timeout: 20_000 });
  await page.locator('#reference-info').filter({ hasText: '3.00 s' }).waitFor({ timeout: 20_000 });
  await page.getByLabel('Diffusion steps', { exact: true }).fill('4');
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await page.getByLabel('Precision', { exact: true }).selectOption('fp32');

  // Keyboard: focus the Convert button by tabbing backwards from Cancel's neighbour, press Enter.
  await page.getByRole('button', { name: 'Convert', exact: true }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#result').waitFor({ state: 'visible', timeout: 120_000 });

  assert.equal(await page.locator('#progress-overall').evaluate((p: HTMLProgressElement) => p.value), 1);
  assert.equal(await page.locator('#progress-step-text').textContent(), 'step 4/4');
  const duration = await page.locator('#result-audio').evaluate((a: HTMLAudioElement) => new Promise<number>((resolve) => {
    if (a.readyState >= 1) resolve(a.duration); else a.addEventListener('loadedmetadata', () => resolve(a.duration), { once: true });
  }));
  assert.ok(Math.abs(duration - 88064 / 22050) < 0.01, `player holds ${duration} s, expected ${88064 / 22050}`);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download WAV' }).click()]);
  const bytes = new Uint8Array(readFileSync((await download.path())!));
  const wav = readWav(bytes, 'download.wav');
  assert.equal(wav.sampleRate, 22050);
  assert.equal(wav.frames, 88064);
  assert.match(download.suggestedFilename(), /^seed-vc-[0-9a-f]{16}\.wav$/);

  // Pictures of input and output were drawn.
  await page.locator('#result-pics').waitFor({ state: 'visible', timeout: 20_000 });
  for (const id of ['source-pics', 'reference-pics', 'result-pics']) {
    const w = await page.locator(`#${id} canvas.mel`).evaluate((c: HTMLCanvasElement) => c.width);
    assert.ok(w > 300, `${id} mel width ${w}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'web-app.png'), fullPage: true });

  // History holds the conversion; tabs work with the arrow keys.
  await page.getByRole('tab', { name: 'Convert' }).focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.locator('#history li').count(), 1);

  // The A/B tab compares fp32 and fp16 on the same inputs and shows the report.
  await page.getByRole('tab', { name: 'A/B' }).click();
  await page.getByLabel('A/B diffusion steps', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Run A/B' }).click();
  await page.locator('#ab-report').waitFor({ state: 'visible', timeout: 120_000 });
  const report = page.frameLocator('#ab-report');
  await report.locator('img').first().waitFor({ timeout: 20_000 });
  assert.ok(await report.locator('img').count() >= 3, 'the report shows its spectrogram figures');
  await page.screenshot({ path: join(ARTIFACTS, 'web-app-ab.png'), fullPage: true });

  // A narrow screen: nothing wider than the viewport.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('tab', { name: 'Convert' }).click();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow} px wider than a 390 px screen`);
  await page.screenshot({ path: join(ARTIFACTS, 'web-app-narrow.png'), fullPage: true });

  assert.deepEqual(problems, []);
  t.diagnostic(`screenshots in ${ARTIFACTS}`);
});

/**
 * The DiT/CFM loop inside Chromium on WebGPU (fp32), with the tensors kept in GPU memory between the steps
 * (GPU-buffer outputs and the Euler step graph) and without, and on WASM: each equals the golden CFM case
 * within its tolerance (WebGPU: the bound WGSL's transcendental accuracy allows). Runs only where Chromium exposes a WebGPU adapter (`--enable-unsafe-webgpu`; on a
 * machine without a GPU that is SwiftShader, a CPU emulation); otherwise the test is skipped and says why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { GOLDEN, PROJECT_ROOT, assertClose, caseTensors, getTensor, goldenCase } from '../helpers/golden.ts';
import { buildLab, runLab } from './lab.ts';
import type { CfmLabResult } from './lab-worker.ts';
import { type StaticServer, startStaticServer } from './static-server.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const noChromium = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium)`;

let out: string;
let server: StaticServer;
let browser: Browser;
let page: Page;
let adapter: string | null = null;

before(async () => {
  if (noChromium) return;
  out = mkdtempSync(join(tmpdir(), 'seed-vc-webgpu-'));
  const b = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'build-web.mjs'), '--outdir', out], { encoding: 'utf8' });
  assert.equal(b.status, 0, `build:web failed: ${b.stderr}`);
  await buildLab(out);
  const dir = join(GOLDEN, 'models', 'dit_W');
  const cfg = parseSeedVcConfig(readFileSync(join(dir, 'config_dit_W.yml'), 'utf8'), 'config_dit_W.yml');
  const ckpt = loadDitCheckpoint(new Uint8Array(readFileSync(join(dir, 'dit_W.pth'))), 'dit_W.pth', cfg);
  writeFileSync(join(out, 'dit_W.onnx'), buildDitEstimator(cfg, ckpt.estimator, { keyMask: false }).toOnnx()); // as the registry builds it
  server = await startStaticServer({ '/': out, '/golden/': GOLDEN });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
  page = await browser.newPage();
  await page.goto(`${server.url}/lab.html`);
  adapter = await page.evaluate(async () => {
    const a = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> } }).gpu?.requestAdapter();
    return a ? [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'unnamed adapter' : null;
  });
  if (adapter === null) console.log('# webgpu.test: this Chromium exposes no WebGPU adapter (even with --enable-unsafe-webgpu): the WebGPU cases are skipped');
});

after(async () => {
  await browser?.close();
  await server?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

for (const id of ['nets_cfm_W_cfg0p7', 'nets_cfm_W_cfg0p0'] as const) {
  test(`CFM in Chromium: WebGPU with GPU-resident steps, WebGPU without, and WASM equal ${id}`, { skip: noChromium }, async (t) => {
    const c = goldenCase(id);
    const args = c.args as { n_timesteps: number; inference_cfg_rate: number };
    const expected = getTensor(caseTensors(c), 'output');
    const tol = c.compare.find((x) => x.tensor === 'output')!.tol;
    // WGSL guarantees sin/cos only to 2^-11 absolute error and exp to 3 + 2|x| ULP (the golden tolerance was set
    // for CPU libm); SwiftShader measured 1.5e-4–1.8e-4 here, so WebGPU gets the WGSL-derived bound 1e-3.
    const tolFor = (device: string) => (device === 'webgpu' ? Math.max(tol, 1e-3) : tol);
    const settings = [
      { device: 'wasm', resident: false },
      ...(adapter === null ? [] : [{ device: 'webgpu', resident: true }, { device: 'webgpu', resident: false }] as const),
    ] as const;
    if (adapter === null) t.diagnostic('skipped on WebGPU: no adapter in this Chromium; WASM only');
    for (const s of settings) {
      const r = await runLab<CfmLabResult>(page, {
        type: 'cfm', device: s.device, resident: s.resident, graphUrl: '/dit_W.onnx', inputs: { caseUrl: `/golden/${c.file}` },
        steps: args.n_timesteps, cfgRate: args.inference_cfg_rate, repeats: 0,
      });
      assert.equal(r.device, s.device, `the session ran on ${s.device}`);
      assert.equal(r.resident, s.resident, `GPU-resident loop ${s.resident ? 'used' : 'not used'}`);
      const err = assertClose(`${id} on ${s.device}${s.resident ? ' (GPU-resident)' : ''}`, { shape: expected.shape, data: Float32Array.from(r.output) }, expected, tolFor(s.device));
      t.diagnostic(`${s.device}${s.resident ? ', GPU-resident' : ''}: err ${err.toExponential(2)} (tol ${tolFor(s.device)})${r.adapter ? `; adapter ${r.adapter}` : ''}`);
    }
  });
}

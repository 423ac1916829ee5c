/**
 * The Node side of lab-worker.ts: bundles it (and an empty lab.html to start it from) into a folder that
 * already holds the static app of `npm run build:web` (for ort/), and runs jobs in a Chromium page.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../helpers/golden.ts';
import type { LabJob } from './lab-worker.ts';

export async function buildLab(outDir: string): Promise<void> {
  await build({
    entryPoints: [join(PROJECT_ROOT, 'test/browser/lab-worker.ts')], outfile: join(outDir, 'lab-worker.js'),
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, keepNames: true,
    conditions: ['onnxruntime-web-use-extern-wasm'], logLevel: 'warning',
  });
  writeFileSync(join(outDir, 'lab.html'), '<!doctype html><meta charset="utf-8"><title>seed-vc lab</title>');
}

/**
 * Runs one job in `page`'s lab worker (started on first use and kept, so onnxruntime-web and WebGPU set up
 * once; the page must be at <server>/lab.html); log lines go to `onLog`.
 */
export async function runLab<R>(page: Page, job: LabJob, onLog: (line: string) => void = () => {}): Promise<R> {
  const fn = `__lab_log_${Math.random().toString(36).slice(2)}`;
  await page.exposeFunction(fn, onLog);
  return page.evaluate(async ([j, logName]) => {
    const g = window as unknown as { __lab?: Worker } & Record<string, (s: string) => void>;
    const w = (g.__lab ??= new Worker('./lab-worker.js', { type: 'module' }));
    return new Promise((resolve, reject) => {
      w.onmessage = (e) => {
        if (e.data.type === 'log') g[logName](e.data.message);
        else if (e.data.type === 'result') resolve(e.data.result);
        else reject(new Error(e.data.message));
      };
      w.onerror = (e) => reject(new Error(`lab worker failed: ${e.message}`));
      w.postMessage(j);
    });
  }, [job, fn] as const) as Promise<R>;
}

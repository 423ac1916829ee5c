/**
 * The web app's files: src/web/index.html and style.css as they are, and src/web/app.ts bundled by
 * esbuild on first request (kept in memory; a bundle of plain TypeScript, no framework).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// From the sources: src/web; from the dist build (which has no .html/.css): the package's src/web.
const WEB = [new URL('../web/', import.meta.url), new URL('../../src/web/', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((d) => existsSync(`${d}app.ts`) && existsSync(`${d}index.html`)) ?? fileURLToPath(new URL('../web/', import.meta.url));

export interface Asset { type: string; body: string | Uint8Array }

const cache = new Map<string, Promise<Asset>>();

/** Bundles the app (the core modules it imports included) into one ES module. */
export async function bundleWebApp(): Promise<string> {
  const esbuild = await import('esbuild');
  const entry = `${WEB}app.ts`;
  const r = await esbuild.build({
    entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2022',
    minify: true, sourcemap: false, legalComments: 'none', logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

/** The in-browser backend's Web Worker (src/browser/worker.ts) with onnxruntime-web loading its files from /browser/ort/. */
export async function bundleBrowserWorker(): Promise<string> {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../browser/worker.ts', import.meta.url))], bundle: true, write: false, format: 'esm',
    platform: 'browser', target: 'es2022', minify: true, keepNames: true, sourcemap: false, legalComments: 'none', logLevel: 'silent',
    conditions: ['onnxruntime-web-use-extern-wasm'],
  });
  return r.outputFiles[0].text;
}

/** onnxruntime-web's runtime files the worker loads (WASM and WebGPU through JSEP). */
export const ORT_WEB_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

export function webAsset(path: string): Promise<Asset> {
  let a = cache.get(path);
  if (!a) {
    a = (async (): Promise<Asset> => {
      if (path === '/app.js') return { type: 'text/javascript; charset=utf-8', body: await bundleWebApp() };
      if (path === '/browser/worker.js') return { type: 'text/javascript; charset=utf-8', body: await bundleBrowserWorker() };
      if (path.startsWith('/browser/ort/') && ORT_WEB_FILES.includes(path.slice('/browser/ort/'.length))) {
        const file = createRequire(import.meta.url).resolve(`onnxruntime-web/${path.slice('/browser/ort/'.length)}`);
        return { type: path.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8', body: await readFile(file) };
      }
      if (path === '/app.css') return { type: 'text/css; charset=utf-8', body: await readFile(`${WEB}style.css`, 'utf8') };
      return { type: 'text/html; charset=utf-8', body: await readFile(`${WEB}index.html`, 'utf8') };
    })();
    cache.set(path, a);
    a.catch(() => cache.delete(path));
  }
  return a;
}

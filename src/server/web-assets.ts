/**
 * The web app's files: src/web/index.html and style.css as they are, and src/web/app.ts bundled by
 * esbuild on first request (kept in memory; a bundle of plain TypeScript, no framework).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

export function webAsset(path: string): Promise<Asset> {
  let a = cache.get(path);
  if (!a) {
    a = (async (): Promise<Asset> => {
      if (path === '/app.js') return { type: 'text/javascript; charset=utf-8', body: await bundleWebApp() };
      if (path === '/app.css') return { type: 'text/css; charset=utf-8', body: await readFile(`${WEB}style.css`, 'utf8') };
      return { type: 'text/html; charset=utf-8', body: await readFile(`${WEB}index.html`, 'utf8') };
    })();
    cache.set(path, a);
    a.catch(() => cache.delete(path));
  }
  return a;
}

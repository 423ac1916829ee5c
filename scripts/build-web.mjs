#!/usr/bin/env node
// `npm run build:web [-- --outdir DIR]`: the static in-browser app (default out/web): index.html, app.js
// (the page), worker.js (the Web Worker: loader, graph builders, pipeline, onnxruntime-web) and ort/
// (onnxruntime-web's WASM runtime, self-hosted). Serve the folder from any static host; for multi-threaded
// WASM send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`
// (the _headers file does that on hosts that read it). See README "In the browser".
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--outdir');
const out = resolve(i > 0 ? process.argv[i + 1] : join(root, 'out', 'web'));
mkdirSync(join(out, 'ort'), { recursive: true });

const common = {
  bundle: true, format: 'esm', platform: 'browser', target: 'es2022', sourcemap: true, minify: true, keepNames: true, // error class names are shown to the user
  // The onnxruntime-web flavour that loads its .mjs/.wasm from env.wasm.wasmPaths (our ort/ folder) instead of
  // embedding them, so WASM threads and WebGPU (JSEP) work from a self-hosted copy.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [join(root, 'src/browser/worker.ts')], outfile: join(out, 'worker.js') });
await build({ ...common, entryPoints: [join(root, 'src/browser/app/page.ts')], outfile: join(out, 'app.js') });
copyFileSync(join(root, 'src/browser/app/index.html'), join(out, 'index.html'));
const ortDist = join(root, 'node_modules/onnxruntime-web/dist');
for (const f of ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm']) copyFileSync(join(ortDist, f), join(out, 'ort', f));
// Netlify / Cloudflare Pages style headers: cross-origin isolation for WASM threads.
writeFileSync(join(out, '_headers'), '/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n');
console.log(`built ${out}`);

/**
 * seed-vc in the browser: the page-side client (BrowserSeedVc) over a Web Worker (worker.ts, bundled as
 * worker.js by `npm run build:web`), the worker-side loader, the model file and graph stores, and the
 * onnxruntime-web backend.
 */
export { createWebBackend, webGpuShaderF16, type OrtWeb } from './backend.ts';
export { BrowserSeedVc, WorkerError } from './client.ts';
export { loadInBrowser, chooseWebDevice, probeWebGpu, type BrowserLoadOptions, type BrowserLoadEvent, type BrowserModel, type DeviceChoice, type LoadedFile, type WebDevice } from './loader.ts';
export { ModelStore, DownloadError, sha256, type ModelStoreOptions, type DownloadEvent, type StoredFile } from './model-store.ts';
export { GraphStore } from './graph-store.ts';
export type { AudioInput, LoadSummary, WorkerConvertOptions, WorkerConvertResult, WorkerLoadOptions } from './protocol.ts';

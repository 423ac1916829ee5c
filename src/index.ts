/**
 * seed-vc for Node.js: the runtime-free core plus the Node adapters (onnxruntime-node, files, hub
 * downloads and caches, device probing).
 *
 *   import { SeedVc, readAudioFile, writeWavFile } from 'seed-vc';
 *   const model = await SeedVc.load();                       // official offline model, fetched once
 *   const out = await model.convert(await readAudioFile('speech.wav'), await readAudioFile('voice.wav'));
 *   await writeWavFile('out.wav', out.audio, out.sampleRate);
 */
export * from './core/index.ts';
export { SeedVc, type LoadOptions, type LoadEvent, type ModelFiles, type NetworkName } from './node/load.ts';
export { SeedVcV2, type V2LoadOptions, type V2LoadEvent } from './node/load-v2.ts';
export { readAudioFile, writeWavFile, type WriteOptions } from './node/audio-file.ts';
export { resolveHubFile, defaultCacheDir, HubError, type HubOptions, type DownloadEvent } from './node/hub.ts';
export { probeDevices, chooseDevice, type DeviceProbe, type DeviceRequest } from './node/devices.ts';
export { nodeBackend } from './node/backend.ts';
export { createVadGate, sileroVadModelPath, type VadGate } from './node/vad.ts';
export { OrtBackend } from './runtime/ort.ts';

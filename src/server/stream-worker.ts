/**
 * The worker thread behind one `/v1/stream` WebSocket: loads the model set (graphs from the cache), runs
 * the StreamingConverter on the client's PCM (decoded, resampled to the model rate and back, framed into
 * blocks) and posts converted PCM and per-block statistics back. onnxruntime's session.run blocks its
 * thread, so this never runs on the HTTP thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resampleSoxr, StreamingSoxr } from '../core/dsp/soxr.ts';
import { StreamingConverter, type StreamSettings, algorithmicLatency } from '../core/pipeline/stream.ts';
import { BlockFramer, type PcmFormat, PcmDecoder, StreamStats, encodePcm } from '../core/pipeline/stream-io.ts';
import { readAudioFile } from '../node/audio-file.ts';
import { type LoadOptions, SeedVc } from '../node/load.ts';
import { type VadGate, createVadGate } from '../node/vad.ts';

export interface StreamWorkerData {
  load: LoadOptions;
  referencePath: string;
  settings: Partial<StreamSettings>;
  format: PcmFormat;
  rate?: number;
  seed?: number;
  vad: boolean;
}

export type ToStreamWorker = { type: 'pcm'; data: Uint8Array } | { type: 'end' };
export type FromStreamWorker =
  | { type: 'ready'; sampleRate: number; rate: number; blockSamples: number; blockSeconds: number; latencyMs: number; settings: StreamSettings }
  | { type: 'audio'; data: Uint8Array; consumedBytes: number }
  | { type: 'consumed'; bytes: number }
  | { type: 'stats'; blocks: number; computeMs: { p50: number; p95: number; max: number }; deadlineMissShare: number; vadSkippedShare: number }
  | { type: 'done'; summary: ReturnType<StreamStats['summary']> }
  | { type: 'error'; message: string };

const port = parentPort!;
const o = workerData as StreamWorkerData;
const post = (m: FromStreamWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

async function main(): Promise<void> {
  const model = await SeedVc.load(o.load);
  let vad: VadGate | undefined;
  try {
    const sr = model.sampleRate;
    const conv = new StreamingConverter(model.config, model.converter.sessions, o.settings, { seed: o.seed });
    const ref = await readAudioFile(o.referencePath);
    conv.setReference(ref.sampleRate === sr ? ref.samples : resampleSoxr(ref.samples, ref.sampleRate, sr));
    await conv.referenceCache();
    if (o.vad) vad = await createVadGate({ sampleRate: sr });
    const rate = o.rate ?? sr;
    const inRes = rate !== sr ? new StreamingSoxr(rate, sr) : undefined;
    const outRes = rate !== sr ? new StreamingSoxr(sr, rate) : undefined;
    const z = conv.sizes;
    const blockSeconds = z.blockFrame / sr;
    const stats = new StreamStats(blockSeconds);
    const decoder = new PcmDecoder(o.format);
    const framer = new BlockFramer(z.blockFrame, 'f32le');
    post({ type: 'ready', sampleRate: sr, rate, blockSamples: z.blockFrame, blockSeconds, latencyMs: algorithmicLatency(z).seconds * 1000, settings: conv.settings });

    const convert = async (block: Float32Array) => {
      const speech = vad ? await vad.speech(block) : true;
      const r = await conv.process(block, { speech });
      stats.add(r.ms.total, r.skipped);
      return encodePcm(outRes ? outRes.push(r.output) : r.output, o.format);
    };
    // Messages are handled one at a time, in order.
    let chain = Promise.resolve();
    port.on('message', (m: ToStreamWorker) => {
      chain = chain.then(async () => {
        if (m.type === 'pcm') {
          const x = decoder.push(m.data);
          const blocks = framer.push(encodePcm(inRes ? inRes.push(x) : x, 'f32le'));
          if (!blocks.length) { post({ type: 'consumed', bytes: m.data.length }); return; }
          for (let i = 0; i < blocks.length; i++) {
            const out = await convert(blocks[i]);
            post({ type: 'audio', data: out, consumedBytes: i === blocks.length - 1 ? m.data.length : 0 }, [out.buffer as ArrayBuffer]);
          }
          if (stats.blocks % 10 === 0) post({ type: 'stats', ...stats.summary() });
        } else {
          const tail = inRes ? framer.push(encodePcm(inRes.push(new Float32Array(0), true), 'f32le')) : [];
          const last = framer.flush();
          if (last) tail.push(last.block);
          for (const b of tail) {
            const out = await convert(b);
            post({ type: 'audio', data: out, consumedBytes: 0 }, [out.buffer as ArrayBuffer]);
          }
          if (outRes) {
            const out = encodePcm(outRes.push(new Float32Array(0), true), o.format);
            post({ type: 'audio', data: out, consumedBytes: 0 }, [out.buffer as ArrayBuffer]);
          }
          post({ type: 'done', summary: stats.summary() });
          await vad?.dispose();
          await model.dispose();
          process.exit(0);
        }
      }).catch((e) => {
        post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
        process.exit(1);
      });
    });
  } catch (e) {
    await vad?.dispose();
    await model.dispose();
    throw e;
  }
}

main().catch((e) => {
  post({ type: 'error', message: e instanceof Error ? e.message.split('\n')[0] : String(e) });
  process.exit(1);
});

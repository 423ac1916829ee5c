/**
 * `seed-vc stream`: live conversion through the streaming converter. Raw PCM on stdin/stdout
 * (`--source - --output -`, `--format f32le|s16le`, `--rate`), so a recorder can be piped through it into a
 * player, or a file through the same block loop (as fast as possible, or `--realtime` paced). The GUI's
 * settings are the flags. Prints the algorithmic latency and per-block compute statistics on stderr.
 */
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { resampleSoxr, StreamingSoxr } from '../core/dsp/soxr.ts';
import { InvalidInputError } from '../core/errors.ts';
import type { ModelSetId } from '../core/models/catalog.ts';
import { streamNoiseFromSafetensors } from '../core/pipeline/noise.ts';
import { STREAM_DEFAULTS, StreamingConverter, type StreamSettings, algorithmicLatency } from '../core/pipeline/stream.ts';
import { BlockFramer, type PcmFormat, PcmDecoder, StreamStats, type StreamSummary, encodePcm } from '../core/pipeline/stream-io.ts';
import { type VadGate, createVadGate } from '../node/vad.ts';
import { readAudioFile, writeWavFile } from '../node/audio-file.ts';
import { SeedVc } from '../node/load.ts';
import { type ModelCliOptions, loadOptions } from './convert.ts';
import { addModelOptions, parseBool, parseIntStrict, parseNumber } from './options.ts';
import { type Reporter, createReporter } from './progress.ts';

interface StreamCliOptions extends ModelCliOptions {
  source: string;
  target: string;
  output?: string;
  format: PcmFormat;
  rate?: number;
  realtime?: boolean;
  blockTime: number;
  crossfadeTime: number;
  extraTimeCe: number;
  extraTime: number;
  extraTimeRight: number;
  diffusionSteps: number;
  inferenceCfgRate: number;
  maxPromptLength: number;
  noise?: string;
  seed?: number;
  hiftConfig?: string;
  vad: boolean;
  vadThreshold: number;
  vadHangover: number;
  wavFormat: 'float32' | 'pcm16';
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerStream(program: Command): void {
  const cmd = program.command('stream')
    .description('live conversion (Seed-VC real-time loop): raw PCM from stdin to stdout, or a file through the same blocks')
    .requiredOption('-t, --target <file>', 'reference voice (the first --max-prompt-length seconds are used)')
    .option('-s, --source <file|->', 'input: a WAV/MP3/FLAC/OGG file, or - for raw PCM on stdin', '-')
    .option('-o, --output <file|->', 'output: a WAV file, or - for raw PCM on stdout (default - when the source is -)')
    .addOption(new Option('--format <fmt>', 'raw PCM sample format (stdin/stdout)').choices(['f32le', 's16le']).default('f32le'))
    .option('--rate <hz>', 'raw PCM sample rate (default: the model rate, 22050 for the real-time model)', parseIntStrict)
    .option('--realtime', 'file input: feed blocks at the pace of real time (deadline misses are measured against it)')
    .option('--block-time <s>', 'block length (rounded to 20 ms)', parseNumber, STREAM_DEFAULTS.blockTime)
    .option('--crossfade-time <s>', 'SOLA crossfade (rounded to 20 ms; the buffer is at most 80 ms)', parseNumber, STREAM_DEFAULTS.crossfadeTime)
    .option('--extra-time-ce <s>', 'left context of the content encoder', parseNumber, STREAM_DEFAULTS.extraTimeCe)
    .option('--extra-time <s>', 'left context of the DiT (<= --extra-time-ce)', parseNumber, STREAM_DEFAULTS.extraTime)
    .option('--extra-time-right <s>', 'right context (adds latency)', parseNumber, STREAM_DEFAULTS.extraTimeRight)
    .option('--diffusion-steps <n>', 'Euler steps per block', parseIntStrict, STREAM_DEFAULTS.diffusionSteps)
    .option('--inference-cfg-rate <x>', 'classifier-free guidance (0: one estimator pass per step)', parseNumber, STREAM_DEFAULTS.inferenceCfgRate)
    .option('--max-prompt-length <s>', 'reference prompt length in seconds', parseNumber, STREAM_DEFAULTS.maxPromptLength)
    .option('--noise <file>', 'safetensors with the random draws per block (z.k, hift.phase.k, hift.sine_noise): reproduces a reference run')
    .option('--seed <n>', 'seed of the random draws (default 0)', parseIntStrict)
    .option('--hift-config <file>', "CosyVoice's hifigan.yml for the HiFT vocoder (default: the released layout)")
    .option('--vad <bool>', 'skip inference for blocks without speech (Silero VAD); off by default', parseBool, false)
    .option('--vad-threshold <p>', 'speech probability threshold', parseNumber, 0.5)
    .option('--vad-hangover <s>', 'keep converting this long after speech ends', parseNumber, 0.3)
    .addOption(new Option('--wav-format <fmt>', 'WAV sample format of a file output').choices(['float32', 'pcm16']).default('float32'))
    .option('--force', 'overwrite an existing output file')
    .option('--json', 'print the summary as one JSON object on stdout (file output only)')
    .option('-q, --quiet', 'no progress output');
  addModelOptions(cmd).action(async (opts: StreamCliOptions) => {
    const reporter = createReporter({ quiet: opts.quiet });
    const summary = await runStream(opts, reporter);
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  });
}

export interface StreamCliSummary extends StreamSummary {
  output: string;
  sampleRate: number;
  blockSeconds: number;
  latencySeconds: { algorithmic: number; withComputeP50: number; resamplers: number };
  vad: boolean;
  settings: StreamSettings;
}

function settingsOf(o: StreamCliOptions): StreamSettings {
  return {
    blockTime: o.blockTime, crossfadeTime: o.crossfadeTime, extraTimeCe: o.extraTimeCe, extraTime: o.extraTime,
    extraTimeRight: o.extraTimeRight, diffusionSteps: o.diffusionSteps, inferenceCfgRate: o.inferenceCfgRate,
    maxPromptLength: o.maxPromptLength,
  };
}

async function runStream(o: StreamCliOptions, reporter: Reporter): Promise<StreamCliSummary> {
  const fromStdin = o.source === '-';
  const output = o.output ?? (fromStdin ? '-' : undefined);
  if (!output) throw new InvalidInputError('--output is needed with a file source (a WAV file, or - for raw PCM on stdout)');
  const toStdout = output === '-';
  if (o.json && toStdout) throw new InvalidInputError('--json needs a file --output (stdout carries the audio)');
  if (o.realtime && fromStdin) throw new InvalidInputError('--realtime paces a file source; stdin is paced by its writer');
  if (o.rate !== undefined && !(o.rate >= 8000 && o.rate <= 192000)) throw new InvalidInputError(`--rate must be in 8000..192000 Hz, got ${o.rate}`);
  // Check the inputs before the (slow) model load.
  const reference = await readAudioFile(o.target);
  const source = fromStdin ? undefined : await readAudioFile(o.source);
  const noise = o.noise ? streamNoiseFromSafetensors(new Uint8Array(readFileSync(o.noise)), o.noise) : undefined;
  if (!toStdout) await writeWavFile(output, new Float32Array(0), 1, { protect: [o.source, o.target], force: o.force, dryRun: true });

  const model = await SeedVc.load({ ...loadOptions({ ...o, model: (o.model ?? 'realtime') as ModelSetId }, reporter), hiftConfig: o.hiftConfig });
  let vad: VadGate | undefined;
  try {
    const sr = model.sampleRate;
    const conv = new StreamingConverter(model.config, model.converter.sessions, settingsOf(o), { seed: o.seed });
    conv.setReference(reference.sampleRate === sr ? reference.samples : resampleSoxr(reference.samples, reference.sampleRate, sr));
    if (o.vad) vad = await createVadGate({ sampleRate: sr, threshold: o.vadThreshold, hangoverSeconds: o.vadHangover });
    const z = conv.sizes;
    const blockSeconds = z.blockFrame / sr;
    const ioRate = fromStdin ? (o.rate ?? sr) : (source!.sampleRate);
    const inRes = ioRate !== sr && fromStdin ? new StreamingSoxr(ioRate, sr) : undefined;
    const outRate = toStdout ? (o.rate ?? sr) : sr;
    const outRes = outRate !== sr ? new StreamingSoxr(sr, outRate) : undefined;
    const resamplerLatency = (inRes ? inRes.reach / ioRate : 0) + (outRes ? outRes.reach / sr : 0);
    const lat = algorithmicLatency(z);
    reporter.info(`device ${model.device.device}, precision ${model.plan.mode}; block ${(blockSeconds * 1000).toFixed(0)} ms at ${sr} Hz`);
    reporter.info(`algorithmic latency ${(lat.seconds * 1000).toFixed(0)} ms = block ${(z.blockFrame / sr * 1000).toFixed(0)} + right context ${(z.extraFrameRight / sr * 1000).toFixed(0)} + SOLA buffer ${(z.solaBufferFrame / sr * 1000).toFixed(0)} + search ${(z.solaSearchFrame / sr * 1000).toFixed(0)} ms (minus the SOLA offset, 0..${(z.solaSearchFrame / sr * 1000).toFixed(0)} ms)${resamplerLatency ? ` + resampling ${(resamplerLatency * 1000).toFixed(0)} ms` : ''}; compute time per block comes on top`);
    await conv.referenceCache();

    const stats = new StreamStats(blockSeconds);
    const outParts: Float32Array[] = [];
    const emit = async (samples: Float32Array) => {
      const y = outRes ? outRes.push(samples) : samples;
      if (!toStdout) { outParts.push(y); return; }
      if (y.length && !process.stdout.write(encodePcm(y, o.format))) await new Promise((r) => process.stdout.once('drain', r));
    };
    const t0 = performance.now();
    const convert = async (block: Float32Array, deadline?: number) => {
      const speech = vad ? await vad.speech(block) : true;
      const r = await conv.process(block, { speech, noise: noise?.noise, vocoderDraws: noise?.vocoderDraws });
      stats.add(r.ms.total, r.skipped, deadline !== undefined ? performance.now() - deadline : undefined);
      if (!o.quiet && stats.blocks % 25 === 0) reporter.info(`${stats.blocks} blocks, compute p50 ${stats.summary().computeMs.p50.toFixed(0)} ms`);
      await emit(r.output);
    };

    let inputSamples = 0;
    if (source) {
      const x = source.sampleRate === sr ? source.samples : resampleSoxr(source.samples, source.sampleRate, sr);
      inputSamples = x.length;
      const blocks = Math.ceil(x.length / z.blockFrame);
      for (let k = 0; k < blocks; k++) {
        const block = new Float32Array(z.blockFrame);
        block.set(x.subarray(k * z.blockFrame, Math.min(x.length, (k + 1) * z.blockFrame)));
        let deadline: number | undefined;
        if (o.realtime) {
          const arrival = t0 + (k + 1) * blockSeconds * 1000; // the block is complete at this wall time
          const wait = arrival - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          deadline = arrival + blockSeconds * 1000; // its output must be ready before the next block is complete
        }
        await convert(block, deadline);
      }
    } else {
      const framer = new BlockFramer(z.blockFrame, 'f32le');
      const decoder = new PcmDecoder(o.format);
      const feed = async (samples: Float32Array) => {
        inputSamples += samples.length;
        for (const b of framer.push(encodePcm(samples, 'f32le'))) await convert(b);
      };
      for await (const chunk of process.stdin as AsyncIterable<Uint8Array>) {
        const x = decoder.push(chunk);
        if (x.length) await feed(inRes ? inRes.push(x) : x);
      }
      if (decoder.leftover) reporter.info(`input ended inside a sample (${decoder.leftover} stray bytes ignored)`);
      if (inRes) await feed(inRes.push(new Float32Array(0), true));
      const last = framer.flush();
      if (last) await convert(last.block);
    }
    if (outRes) {
      const tail = outRes.push(new Float32Array(0), true);
      if (toStdout && tail.length) process.stdout.write(encodePcm(tail, o.format));
      else outParts.push(tail);
    }
    const summary = stats.summary();
    if (!toStdout) {
      const total = outParts.reduce((n, p) => n + p.length, 0);
      const y = new Float32Array(total);
      let off = 0;
      for (const p of outParts) { y.set(p, off); off += p.length; }
      // as many samples out as came in (the last block is zero-padded)
      await writeWavFile(output, y.subarray(0, Math.min(y.length, inputSamples)), sr, { format: o.wavFormat, force: o.force, protect: [o.source, o.target] });
    }
    const result: StreamCliSummary = {
      output, sampleRate: outRate, blockSeconds, ...summary,
      latencySeconds: { algorithmic: lat.seconds, withComputeP50: lat.seconds + summary.computeMs.p50 / 1000, resamplers: resamplerLatency },
      vad: !!vad, settings: conv.settings,
    };
    printSummary(result, o, reporter, performance.now() - t0);
    return result;
  } finally {
    await vad?.dispose();
    await model.dispose();
  }
}

function printSummary(s: StreamCliSummary, o: StreamCliOptions, r: Reporter, wallMs: number): void {
  r.flush();
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `${s.blocks} blocks of ${(s.blockSeconds * 1000).toFixed(0)} ms in ${(wallMs / 1000).toFixed(2)} s${o.output && o.output !== '-' ? ` -> ${o.output}` : ''}`,
    `algorithmic latency ${(s.latencySeconds.algorithmic * 1000).toFixed(0)} ms; with the median compute time ${(s.latencySeconds.withComputeP50 * 1000).toFixed(0)} ms`,
    `compute per block: p50 ${s.computeMs.p50.toFixed(0)} ms, p95 ${s.computeMs.p95.toFixed(0)} ms, max ${s.computeMs.max.toFixed(0)} ms (real-time factor ${s.realTimeFactor.toFixed(2)})`,
    `deadline misses: ${pct(s.deadlineMissShare)} of blocks${o.realtime ? ' (paced)' : ' (compute > block time)'}`,
    `VAD: ${s.vad ? `${pct(s.vadSkippedShare)} of blocks skipped` : 'off'}`,
  ];
  // The summary is the command's result: on stderr, so stdout stays audio (or JSON).
  for (const l of lines) process.stderr.write(`${l}\n`);
}

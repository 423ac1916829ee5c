/**
 * `seed-vc ab` in Node: converts one source to one reference voice twice, with two settings (A and B,
 * by default fp32 and fp16) and the same initial noise, measures what the difference costs (log-mel
 * distance, MCD, waveform SNR, speaker-embedding cosines, F0 agreement, DNSMOS, speed and memory) and
 * writes a report folder: report.json, report.html, the spectrogram PNGs and the four WAVs to listen to.
 *
 * The sides run one after the other in this process: A is loaded, converts, is measured and disposed,
 * then B. The metrics and DNSMOS are computed after both conversions, outside the timed and
 * memory-sampled spans.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeWav } from '../core/audio/index.ts';
import { type MelSpectrogramOptions, melSpectrogram, resample } from '../core/dsp/index.ts';
import { InvalidInputError } from '../core/errors.ts';
import { type ConvertEvent, type ConvertOptions, MAX_REFERENCE_SECONDS, checkInputAudio, validateConvertOptions } from '../core/pipeline/convert.ts';
import { type NoiseSource, noiseFromSafetensors } from '../core/pipeline/noise.ts';
import type { DnsmosScore } from '../core/quality/dnsmos.ts';
import { estimateF0 } from '../core/quality/f0.ts';
import {
  LN_TO_DB, compareF0, cosineSimilarity, f0Summary, logMelL1, melCepstralDistortion, snrDb,
} from '../core/quality/metrics.ts';
import { type MelAxis, differenceScale, renderDifference, renderSpectrogram, spectrogramScale } from '../core/quality/plots.ts';
import { type AbInput, type AbReport, type AbSide, type SideId, finite, renderReportHtml } from '../core/quality/report.ts';
import { speakerEmbedding } from '../core/quality/speaker.ts';
import type { SideSettings } from '../core/quality/spec.ts';
import { readAudioFile } from './audio-file.ts';
import { Dnsmos, dnsmosModelPaths } from './dnsmos.ts';
import { checkUsableDir, sameFile } from './fs-checks.ts';
import { atomicWrite } from './graph-cache.ts';
import type { MelSpectrogramOptions as AbMelOptions } from '../core/dsp/mel.ts';
import type { V2ConvertEvent, V2ConvertOptions } from '../core/pipeline/v2/convert.ts';
import { type LoadEvent, type LoadOptions, SeedVc } from './load.ts';
import { SeedVcV2, type V2LoadEvent, type V2LoadOptions } from './load-v2.ts';
import { encodePng } from './png.ts';

/** The files an A/B report folder holds. */
export const AB_FILES = {
  json: 'report.json',
  html: 'report.html',
  a: 'a.wav',
  b: 'b.wav',
  source: 'source.wav',
  reference: 'reference.wav',
  specA: 'a.png',
  specB: 'b.png',
  diff: 'diff.png',
} as const;

export interface AbSideOptions {
  /** The spec as the user wrote it (for labels), and the settings it resolved to. */
  spec: string;
  settings: SideSettings;
}

export type AbEvent =
  | { type: 'side'; side: SideId; status: 'load' | 'convert' | 'done' }
  | { type: 'load'; side: SideId; event: LoadEvent | V2LoadEvent }
  | { type: 'convert'; side: SideId; event: ConvertEvent | V2ConvertEvent }
  | { type: 'phase'; phase: 'metrics' | 'dnsmos' | 'write' };

export interface AbOptions {
  source: string;
  target: string;
  /** The report folder (created if missing). */
  output: string;
  a: AbSideOptions;
  b: AbSideOptions;
  /** Model set and hub options shared by both sides (precision / device / vocoder come from the sides). */
  load?: Omit<LoadOptions, 'precision' | 'device' | 'vocoderFp16' | 'onEvent' | 'log'> | Omit<V2LoadOptions, 'precision' | 'device' | 'vocoderFp16' | 'onEvent' | 'log'>;
  lengthAdjust?: number;
  /** Seed of the initial noise, the same for both sides (ignored with `noise`). Default 1234. */
  seed?: number;
  /** A safetensors noise file (z.0, z.1, ...), used by both sides. */
  noise?: string;
  /** Folder with the DNSMOS models; DNSMOS is skipped when absent. */
  dnsmosDir?: string;
  /** Overwrite the report files of an existing report folder. */
  force?: boolean;
  /** Longest decoded input accepted, in seconds (default 30 min). */
  maxSeconds?: number;
  onEvent?: (e: AbEvent) => void;
  log?: (line: string) => void;
}

export const DEFAULT_AB_SEED = 1234;

/** Refuses to write into `dir` when it already holds report files (unless `force`) or an input would be overwritten. */
export function checkReportDir(dir: string, force: boolean | undefined, inputs: readonly string[]): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new InvalidInputError(`--output must be a folder, and ${dir} is a file`);
  checkUsableDir(dir, '--output');
  const targets = Object.values(AB_FILES).map((f) => resolve(dir, f));
  for (const p of inputs) {
    if (targets.some((t) => sameFile(p, t))) throw new InvalidInputError(`refusing to write the report over an input file: ${p} (choose another --output folder)`);
  }
  if (!force) {
    const present = Object.values(AB_FILES).filter((f) => existsSync(join(dir, f)));
    if (present.length) throw new InvalidInputError(`${dir} already holds report files (${present.join(', ')}); use --force to overwrite them`);
  }
}

/** Samples the process's resident set size: on a 10 ms timer and whenever `sample()` is called. */
class RssSampler {
  private peak = 0;
  private count = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly before: number;

  constructor() {
    this.before = process.memoryUsage.rss();
    this.peak = this.before;
    this.timer = setInterval(() => this.sample(), 10);
    this.timer.unref?.();
  }

  sample(): void {
    const v = process.memoryUsage.rss();
    this.count++;
    if (v > this.peak) this.peak = v;
  }

  stop(): { rssBeforeBytes: number; peakRssBytes: number; peakRssGrowthBytes: number; samples: number } {
    clearInterval(this.timer);
    this.sample();
    return { rssBeforeBytes: this.before, peakRssBytes: this.peak, peakRssGrowthBytes: this.peak - this.before, samples: this.count };
  }
}

interface SideRun {
  side: Omit<AbSide, 'speakerCosineToReference' | 'f0' | 'dnsmos'>;
  audio: Float32Array;
  sampleRate: number;
  style: Float32Array;
  mel: AbMelOptions;
  files: Record<string, string>;
}

type Audio = { samples: Float32Array; sampleRate: number };

/** Runs the comparison and writes the report folder; returns the report. */
export async function runAb(o: AbOptions): Promise<AbReport> {
  const emit = o.onEvent ?? (() => {});
  const log = o.log ?? (() => {});
  const dir = o.output;
  // Everything the user gave is checked before the (slow) model loads.
  checkReportDir(dir, o.force, [o.source, o.target]);
  const dnsmosPaths = o.dnsmosDir ? dnsmosModelPaths(o.dnsmosDir) : null;
  for (const side of [o.a, o.b]) {
    validateConvertOptions({ diffusionSteps: side.settings.diffusionSteps, inferenceCfgRate: side.settings.inferenceCfgRate, lengthAdjust: o.lengthAdjust });
  }
  const source = await readAudioFile(o.source, { maxSeconds: o.maxSeconds });
  const reference = await readAudioFile(o.target, { maxSeconds: o.maxSeconds });
  for (const [path, audio] of [[o.source, source], [o.target, reference]] as const) {
    for (const w of audio.warnings ?? []) log(`warning: ${path}: ${w}`);
  }
  checkInputAudio(source, 'source');
  checkInputAudio(reference, 'reference');
  let noise: NoiseSource | undefined;
  if (o.noise) {
    if (!existsSync(o.noise)) throw new InvalidInputError(`file not found: ${o.noise}`);
    noise = noiseFromSafetensors(new Uint8Array(readFileSync(o.noise)), o.noise);
  }
  const seed = noise ? undefined : (o.seed ?? DEFAULT_AB_SEED);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 2 ** 32 - 1)) {
    throw new InvalidInputError(`seed must be an integer in 0..4294967295, got ${seed}`);
  }
  const lengthAdjust = o.lengthAdjust ?? 1;

  const runSide = async (id: SideId, opts: AbSideOptions, after?: (model: SeedVc | SeedVcV2, run: SideRun) => Promise<void>): Promise<SideRun> => {
    const s = opts.settings;
    const sampler = new RssSampler();
    const graphs = { built: 0, fromCache: 0, buildMs: 0 };
    emit({ type: 'side', side: id, status: 'load' });
    const t0 = performance.now();
    const onEvent = (e: LoadEvent | V2LoadEvent) => {
      sampler.sample();
      if (e.type === 'build') {
        if (e.status === 'built') graphs.built++; else graphs.fromCache++;
        graphs.buildMs += e.ms;
      }
      emit({ type: 'load', side: id, event: e });
    };
    const common = { precision: s.precision, device: s.device, vocoderFp16: s.vocoderFp16, log };
    const model: SeedVc | SeedVcV2 = o.load?.model === 'v2'
      ? await SeedVc.load({ ...(o.load as Omit<V2LoadOptions, 'precision'>), ...common, model: 'v2', onEvent })
      : await SeedVc.load({ ...(o.load as Omit<LoadOptions, 'precision'>), ...common, onEvent });
    try {
      const loadMs = performance.now() - t0;
      emit({ type: 'side', side: id, status: 'convert' });
      const onProgress = (e: ConvertEvent | V2ConvertEvent) => { sampler.sample(); emit({ type: 'convert', side: id, event: e }); };
      let r;
      if (model instanceof SeedVcV2) {
        // the CFM in the plan's precision on every path: what fp16 would cost where the reference forces fp32
        const v2Options: V2ConvertOptions = { diffusionSteps: s.diffusionSteps, lengthAdjust, seed, noise, forceFp32Cfm: false, onProgress };
        r = await model.convert(source, reference, v2Options);
      } else {
        const convertOptions: ConvertOptions = { diffusionSteps: s.diffusionSteps, inferenceCfgRate: s.inferenceCfgRate, lengthAdjust, seed, noise, onProgress };
        r = await model.convert(source, reference, convertOptions);
      }
      const memory = sampler.stop();
      emit({ type: 'side', side: id, status: 'done' });
      const run: SideRun = {
        side: {
          label: id.toUpperCase(),
          spec: opts.spec,
          settings: s,
          device: { requested: s.device, used: model.device.device, name: model.device.name ?? null },
          precision: model.plan,
          loadMs,
          graphs,
          convertMs: r.timings.total,
          timingsMs: { ...r.timings },
          rtf: r.rtf,
          outputSeconds: r.audio.length / r.sampleRate,
          memory,
          audio: AB_FILES[id],
          spectrogram: id === 'a' ? AB_FILES.specA : AB_FILES.specB,
        },
        audio: r.audio,
        sampleRate: r.sampleRate,
        style: Float32Array.from(r.intermediates.style.data),
        mel: model instanceof SeedVcV2
          ? { nFft: model.config.mel.nFft, numMels: model.config.mel.numMels, sampleRate: model.config.mel.sampleRate, hopSize: model.config.mel.hopSize, winSize: model.config.mel.winSize, fmin: model.config.mel.fmin, fmax: model.config.mel.fmax ?? undefined }
          : { nFft: model.config.mel.nFft, numMels: model.config.mel.nMels, sampleRate: model.config.mel.sampleRate, hopSize: model.config.mel.hopLength, winSize: model.config.mel.winLength, fmin: model.config.mel.fmin, fmax: model.config.mel.fmax ?? undefined },
        files: { ...model.files },
      };
      if (after) await after(model, run);
      return run;
    } finally {
      sampler.stop();
      await model.dispose();
    }
  };

  const A = await runSide('a', o.a);
  // The speaker embeddings of the reference, A and B all come from B's speaker network (CAMPPlus runs in
  // fp32 in every precision plan), computed after B's conversion and its measurements.
  let emb: { ref: Float32Array; a: Float32Array; b: Float32Array } | undefined;
  const B = await runSide('b', o.b, async (model, run) => {
    const speaker = model.converter.sessions.speaker;
    const refCut: Audio = { samples: reference.samples.subarray(0, Math.round(reference.sampleRate * MAX_REFERENCE_SECONDS)), sampleRate: reference.sampleRate };
    emb = {
      ref: await speakerEmbedding(speaker, refCut),
      a: await speakerEmbedding(speaker, { samples: A.audio, sampleRate: A.sampleRate }),
      b: await speakerEmbedding(speaker, { samples: run.audio, sampleRate: run.sampleRate }),
    };
  });
  if (A.sampleRate !== B.sampleRate) throw new InvalidInputError(`the sides produced audio at ${A.sampleRate} and ${B.sampleRate} Hz; compare settings of one model set`);

  // ---- metrics ----
  emit({ type: 'phase', phase: 'metrics' });
  const melOpts: MelSpectrogramOptions = A.mel;
  const melA = melSpectrogram(A.audio, melOpts);
  const melB = melSpectrogram(B.audio, melOpts);
  const l1 = logMelL1(melA, melB);
  const mcd = melCepstralDistortion(melA, melB, 24);
  const snr = snrDb(A.audio, B.audio);
  const notes: string[] = [];
  if (A.audio.length !== B.audio.length) notes.push(`A has ${A.audio.length} samples and B ${B.audio.length}: the comparisons use the first ${Math.min(A.audio.length, B.audio.length)}.`);
  let snrNote: string | null = null;
  if (snr.snr === Number.POSITIVE_INFINITY) snrNote = 'infinite: A and B are identical sample for sample';
  else if (Number.isNaN(snr.snr)) snrNote = 'undefined: A is silent';
  const to16k = (x: Float32Array, sr: number) => (sr === 16000 ? x : resample(x, sr, 16000));
  const f0A = estimateF0(to16k(A.audio, A.sampleRate)).f0;
  const f0B = estimateF0(to16k(B.audio, B.sampleRate)).f0;
  const f0Cmp = compareF0(f0A, f0B);
  const sumA = f0Summary(f0A), sumB = f0Summary(f0B);

  // ---- DNSMOS ----
  let dnsmos: AbReport['dnsmos'];
  const sideScores: Record<SideId, DnsmosScore | null> = { a: null, b: null };
  if (dnsmosPaths && o.dnsmosDir) {
    emit({ type: 'phase', phase: 'dnsmos' });
    const scorer = await Dnsmos.load(o.dnsmosDir, { threads: o.load?.threads });
    try {
      const src = await scorer.score(source);
      const ref = await scorer.score(reference);
      sideScores.a = await scorer.score({ samples: A.audio, sampleRate: A.sampleRate });
      sideScores.b = await scorer.score({ samples: B.audio, sampleRate: B.sampleRate });
      dnsmos = {
        status: 'computed',
        note: `DNSMOS from ${dnsmosPaths.primary} and ${dnsmosPaths.p808} (non-personalised calibration; 9.01 s windows hopped by 1 s on 16 kHz audio, clips shorter than that repeated; scores averaged over ${sideScores.a.windows} window(s) for A).`,
        models: dnsmosPaths, source: src, reference: ref,
      };
    } finally {
      await scorer.release();
    }
  } else {
    dnsmos = {
      status: 'skipped',
      note: 'DNSMOS skipped: no --dnsmos-dir (or SEED_VC_DNSMOS_DIR) given. It needs sig_bak_ovr.onnx and model_v8.onnx from the DNSMOS folder of the public microsoft/DNS-Challenge repository.',
      models: null, source: null, reference: null,
    };
  }

  // ---- report folder ----
  emit({ type: 'phase', phase: 'write' });
  const axis: MelAxis = { sampleRate: melOpts.sampleRate, hopSize: melOpts.hopSize, fmin: melOpts.fmin ?? 0, fmax: melOpts.fmax ?? melOpts.sampleRate / 2 };
  const specScale = spectrogramScale(melA, melB);
  const diffScale = differenceScale(melA, melB);
  const inputInfo = (path: string, a: Audio, copy: string): AbInput => ({ path, sampleRate: a.sampleRate, seconds: a.samples.length / a.sampleRate, copy });
  const side = (run: SideRun, id: SideId, cosRef: number | null, f0: { voicedFraction: number; medianHz: number | null }): AbSide => ({
    ...run.side,
    speakerCosineToReference: finite(cosRef),
    f0: { voicedFraction: finite(f0.voicedFraction), medianHz: f0.medianHz },
    dnsmos: sideScores[id],
  });
  const report: AbReport = {
    tool: 'seed-vc ab',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    inputs: { source: inputInfo(o.source, source, AB_FILES.source), reference: inputInfo(o.target, reference, AB_FILES.reference) },
    model: {
      sampleRate: A.sampleRate,
      mel: { sampleRate: melOpts.sampleRate, nFft: melOpts.nFft, numMels: melOpts.numMels, hopSize: melOpts.hopSize, winSize: melOpts.winSize, fmin: melOpts.fmin ?? 0, fmax: melOpts.fmax ?? null },
      files: A.files,
    },
    settings: { seed: seed ?? null, noise: o.noise ?? null, lengthAdjust, order: 'A, then B, one after the other in one process' },
    sides: {
      a: side(A, 'a', emb ? cosineSimilarity(emb.a, emb.ref) : null, sumA),
      b: side(B, 'b', emb ? cosineSimilarity(emb.b, emb.ref) : null, sumB),
    },
    comparison: {
      frames: l1.frames,
      samples: snr.samples,
      logMelL1: finite(l1.l1),
      logMelL1Db: finite(l1.l1 * LN_TO_DB),
      mcdDb: finite(mcd.mcd),
      snrDb: finite(snr.snr),
      snrNote,
      speakerCosine: emb ? finite(cosineSimilarity(emb.a, emb.b)) : null,
      referenceStyleCosine: finite(cosineSimilarity(A.style, B.style)),
      f0: f0Cmp,
      differencePng: AB_FILES.diff,
      differenceScaleDb: diffScale.hi,
      notes,
    },
    dnsmos,
    measurement: {
      order: 'A is loaded, converts and is released before B is loaded; metrics and DNSMOS run afterwards, outside the measured spans.',
      time: 'load is the wall time of SeedVc.load (file resolution, ONNX graphs built from the checkpoints or read from the graph cache, session creation); conversion is ConvertResult.timings.total; RTF = convert time / output duration.',
      memory: 'peak RSS growth is the highest resident set size of this process, sampled every 10 ms and at every load and conversion progress event from just before the side\'s load until its conversion returned, minus the RSS just before the load. Memory the earlier side released but the allocator kept is not counted again, so B can read lower than it would alone; synchronous JavaScript stretches between samples are only sampled at their edges.',
      speaker: 'the embeddings of the reference, A and B all come from side B\'s speaker network (CAMPPlus, fp32 in every precision plan): output at the model rate -> 16 kHz -> Kaldi fbank 80 bins -> mean normalisation; the reference is cut to its first 25 s as the pipeline does.',
      f0: 'YIN on the 16 kHz resampled outputs, 10 ms hop, 50-1100 Hz, threshold 0.15; frames over 50 dB below the loudest frame are unvoiced.',
      spectra: 'Seed-VC\'s mel_spectrogram with the model\'s config; A and B compared frame by frame (the same source makes them time-aligned).',
    },
    files: { ...AB_FILES },
  };

  // Inputs as WAV re-encodes, the outputs, the figures, then the report files.
  const write = (name: string, data: Uint8Array | string) => atomicWrite(join(dir, name), data);
  await write(AB_FILES.source, encodeWav(source.samples, source.sampleRate, { format: 'float32' }));
  await write(AB_FILES.reference, encodeWav(reference.samples, reference.sampleRate, { format: 'float32' }));
  await write(AB_FILES.a, encodeWav(A.audio, A.sampleRate, { format: 'float32' }));
  await write(AB_FILES.b, encodeWav(B.audio, B.sampleRate, { format: 'float32' }));
  await write(AB_FILES.specA, encodePng(renderSpectrogram(melA, { axis }, specScale)));
  await write(AB_FILES.specB, encodePng(renderSpectrogram(melB, { axis }, specScale)));
  await write(AB_FILES.diff, encodePng(renderDifference(melA, melB, { axis }, diffScale)));
  await write(AB_FILES.html, renderReportHtml(report));
  await write(AB_FILES.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

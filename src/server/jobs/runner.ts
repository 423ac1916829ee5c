/**
 * Executes tasks with warm models: the code every worker runs, whether a worker thread of `seed-vc serve`
 * or a `seed-vc worker` process behind Redis. Loaded model sets are kept (a few, least recently used
 * first out) so consecutive conversions skip the load.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { SeedVcError } from '../../core/errors.ts';
import type { ConvertEvent } from '../../core/pipeline/convert.ts';
import type { V2ConvertEvent } from '../../core/pipeline/v2/convert.ts';
import { readAudioFile, writeWavFile } from '../../node/audio-file.ts';
import { AB_FILES, runAb } from '../../node/ab.ts';
import { type LoadOptions, SeedVc } from '../../node/load.ts';
import { SeedVcV2 } from '../../node/load-v2.ts';
import type { SideDevice } from '../../core/quality/spec.ts';
import type { AbTask, ConversionTask, ModelChoice, Outcome, Task, TaskError, TaskProgress } from './types.ts';

/** How many loaded model sets a worker keeps warm. */
const WARM_SETS = 2;

export interface RunnerOptions {
  /** Model options of the server (hub, cache, device, precision default, checkpoint/config). */
  load: LoadOptions;
  /** A v2 wrapper YAML for model 'v2' (default: the official one). */
  v2Config?: string;
  dataDir: string;
  log?: (line: string) => void;
}

export class CancelledError extends Error {
  constructor() { super('cancelled'); this.name = 'CancelledError'; }
}

export class TaskRunner {
  private readonly models = new Map<string, Promise<SeedVc | SeedVcV2>>();

  constructor(private readonly o: RunnerOptions) {}

  /** A path inside the data directory (tasks carry relative paths; anything escaping it is refused). */
  private path(rel: string): string {
    const root = resolve(this.o.dataDir);
    const p = resolve(root, rel);
    if (!p.startsWith(root + sep)) throw new Error(`task path outside the data directory: ${rel}`);
    return p;
  }

  private async model(choice: ModelChoice, emit: (e: TaskProgress) => void): Promise<SeedVc | SeedVcV2> {
    const precision = choice.precision ?? this.o.load.precision ?? 'auto';
    const key = JSON.stringify([choice.model ?? null, choice.f0Condition ?? null, precision]);
    let m = this.models.get(key);
    if (m) {
      // Most recently used last.
      this.models.delete(key);
      this.models.set(key, m);
      return m;
    }
    const t0 = performance.now();
    emit({ type: 'load', status: 'start' });
    if (choice.model === 'v2') {
      // v2 has its own files and config: the server's v1 --checkpoint/--config do not apply.
      const { checkpoint: _c, config: _f, f0Condition: _f0, hiftConfig: _h, model: _m, onEvent: _e, ...shared } = this.o.load;
      m = SeedVc.load({ ...shared, model: 'v2', config: this.o.v2Config, precision: precision === 'int8' ? 'auto' : precision });
    } else {
      m = SeedVc.load({ ...this.o.load, model: choice.model ?? this.o.load.model, f0Condition: choice.f0Condition, precision });
    }
    this.models.set(key, m);
    try {
      const model = await m;
      emit({ type: 'load', status: 'done', ms: performance.now() - t0 });
      while (this.models.size > WARM_SETS) {
        const [oldest, old] = this.models.entries().next().value!;
        this.models.delete(oldest);
        void old.then((x) => x.dispose()).catch(() => {});
      }
      return model;
    } catch (e) {
      this.models.delete(key);
      throw e;
    }
  }

  async run(task: Task, signal: AbortSignal, emit: (e: TaskProgress) => void): Promise<Outcome> {
    return task.kind === 'conversion' ? this.convert(task, signal, emit) : this.ab(task, signal, emit);
  }

  private async convert(t: ConversionTask, signal: AbortSignal, emit: (e: TaskProgress) => void): Promise<Outcome> {
    const source = await readAudioFile(this.path(t.source));
    const reference = await readAudioFile(this.path(t.reference));
    signal.throwIfAborted();
    const model = await this.model(t.model, emit);
    signal.throwIfAborted();
    const r = model instanceof SeedVcV2
      ? await model.convert(source, reference, {
        diffusionSteps: t.options.diffusionSteps, lengthAdjust: t.options.lengthAdjust, seed: t.options.seed, ...t.v2,
        signal, onProgress: (e: V2ConvertEvent) => emit(e),
      })
      : await (model as SeedVc).convert(source, reference, {
        ...t.options,
        signal,
        onProgress: (e: ConvertEvent) => emit(e),
      });
    const out = this.path(t.output);
    await mkdir(dirname(out), { recursive: true });
    await writeWavFile(out, r.audio, r.sampleRate, { format: 'float32', force: true });
    return {
      kind: 'conversion',
      sampleRate: r.sampleRate,
      samples: r.audio.length,
      seconds: r.audio.length / r.sampleRate,
      rtf: r.rtf,
      timings: r.timings,
      seed: r.seed ?? null,
      guard: r.guard,
      device: model.device.device,
      precision: Object.fromEntries(Object.entries(model.plan.stages).map(([k, v]) => [k, v.precision])),
    };
  }

  private async ab(t: AbTask, signal: AbortSignal, emit: (e: TaskProgress) => void): Promise<Outcome> {
    const side = (p: 'fp32' | 'fp16') => ({
      spec: `precision=${p}`,
      settings: { precision: p, device: (this.o.load.device === 'wasm' ? 'cpu' : this.o.load.device ?? 'auto') as SideDevice, vocoderFp16: false, diffusionSteps: t.diffusionSteps, inferenceCfgRate: t.inferenceCfgRate },
    });
    const { precision: _p, onEvent: _e, log: _l, vocoderFp16: _v, device: _d, ...load } = this.o.load;
    const report = await runAb({
      source: this.path(t.source),
      target: this.path(t.reference),
      output: this.path(t.output),
      a: side(t.a),
      b: side(t.b),
      load: { ...load, model: t.model.model ?? load.model, f0Condition: t.model.f0Condition },
      lengthAdjust: t.lengthAdjust,
      seed: t.seed,
      force: true,
      onEvent: (e) => {
        // runAb has no cancellation of its own: a cancel stops it at the next event.
        signal.throwIfAborted();
        if (e.type === 'side') { emit({ type: 'ab', side: e.side, phase: e.status }); }
        else if (e.type === 'convert') emit(e.event);
        else if (e.type === 'phase') emit({ type: 'ab', side: null, phase: e.phase });
      },
    });
    // The report names its inputs by path: keep the server's data directory out of what clients see.
    const root = resolve(this.o.dataDir) + sep;
    for (const f of [AB_FILES.html, AB_FILES.json]) {
      const p = join(this.path(t.output), f);
      await writeFile(p, (await readFile(p, 'utf8')).split(root).join('').split(JSON.stringify(root).slice(1, -1)).join(''));
    }
    const c = report.comparison;
    return {
      kind: 'ab',
      summary: {
        log_mel_l1: c.logMelL1, mcd_db: c.mcdDb, snr_db: c.snrDb, speaker_cosine: c.speakerCosine,
        rtf_a: report.sides.a.rtf, rtf_b: report.sides.b.rtf,
      },
    };
  }

  async dispose(): Promise<void> {
    const all = [...this.models.values()];
    this.models.clear();
    await Promise.all(all.map((m) => m.then((x) => x.dispose()).catch(() => {})));
  }
}

/** A task failure as the API reports it (typed library errors keep their message; others are generic). */
export function taskError(e: unknown): TaskError | 'cancelled' {
  if (e instanceof CancelledError || (e instanceof Error && e.name === 'AbortError')) return 'cancelled';
  if (e instanceof SeedVcError) {
    const code = e.code === 'AUDIO_FORMAT' ? 'unsupported_audio' : e.code === 'INVALID_INPUT' ? 'unprocessable_audio' : e.code === 'HUB' ? 'model_unavailable' : 'model_error';
    return { code, message: e.message };
  }
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return { code: 'internal', message: `conversion failed: ${msg}` };
}

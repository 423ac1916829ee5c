/**
 * An InferenceBackend over an onnxruntime module (onnxruntime-node or onnxruntime-web: both expose
 * the onnxruntime-common API). It converts between the core Tensor type and ORT tensors and puts the
 * session's label and the feeds' shapes into errors, because native ORT messages say little.
 */
import type * as OrtCommon from 'onnxruntime-common';
import type { Device, InferenceBackend, NetSession, SessionOptions } from '../core/runtime.ts';
import type { DType, Tensor } from '../core/tensor.ts';

type OrtModule = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor'>;

const ORT_TYPE: Partial<Record<DType, OrtCommon.Tensor.Type>> = {
  float32: 'float32', float16: 'float16', float64: 'float64', int64: 'int64', int32: 'int32',
  int16: 'int16', int8: 'int8', uint8: 'uint8', bool: 'bool',
};

export class OrtBackend implements InferenceBackend {
  constructor(private readonly ort: OrtModule, readonly name = 'onnxruntime') {}

  async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<NetSession> {
    const device = options.device ?? 'cpu';
    const label = options.label ?? 'model';
    const opts: OrtCommon.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: options.optimization ?? 'all',
      logSeverityLevel: 3,
    };
    if (options.threads) opts.intraOpNumThreads = options.threads;
    if (options.profilePrefix) Object.assign(opts, { enableProfiling: true, profileFilePrefix: options.profilePrefix });
    let session: OrtCommon.InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(model, opts);
    } catch (e) {
      throw new Error(`${label}: could not create an ONNX Runtime session on ${device}: ${(e as Error).message}`, { cause: e });
    }
    return new OrtSession(this.ort, session, label, device, Boolean(options.profilePrefix));
  }
}

class OrtSession implements NetSession {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtCommon.InferenceSession,
    readonly label: string,
    readonly device: Device,
    private readonly profiling = false,
  ) {}

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`${this.label}: missing inputs ${missing.join(', ')} (expects ${this.session.inputNames.join(', ')})`);
    const ortFeeds: Record<string, OrtCommon.Tensor> = {};
    for (const name of this.session.inputNames) {
      const t = feeds[name];
      const type = ORT_TYPE[t.dtype];
      if (!type) throw new Error(`${this.label}: input ${name} has dtype ${t.dtype}, which ONNX Runtime cannot take`);
      ortFeeds[name] = new this.ort.Tensor(type, t.data as OrtCommon.Tensor.DataType, t.shape as number[]);
    }
    let out: OrtCommon.InferenceSession.ReturnType;
    try {
      out = await this.session.run(ortFeeds);
    } catch (e) {
      const shapes = Object.entries(feeds).map(([k, t]) => `${k}: ${t.dtype}[${t.shape.join(', ')}]`).join('; ');
      throw new Error(`${this.label}: inference failed (${shapes}): ${(e as Error).message}`, { cause: e });
    }
    const result: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { dtype: t.type as DType, shape: [...t.dims], data: t.data as Tensor['data'] };
    }
    return result;
  }

  async release(): Promise<void> {
    if (this.profiling) this.session.endProfiling();
    await this.session.release();
  }
}

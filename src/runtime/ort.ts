/**
 * An InferenceBackend over an onnxruntime module (onnxruntime-node or onnxruntime-web: both expose
 * the onnxruntime-common API). It converts between the core Tensor type and ORT tensors and puts the
 * session's label and the feeds' shapes into errors, because native ORT messages say little.
 */
import type * as OrtCommon from 'onnxruntime-common';
import { type Device, type DeviceTensor, type Feed, type InferenceBackend, type NetSession, type SessionOptions, isDeviceTensor } from '../core/runtime.ts';
import type { DType, Tensor } from '../core/tensor.ts';

type OrtModule = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor'> & { env?: typeof OrtCommon.env };

/** The WebGPU calls `upload` makes (typed here so the project needs no WebGPU type package). */
interface GpuDeviceLike {
  createBuffer(d: { size: number; usage: number }): { destroy(): void };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView): void };
}
const GPU_BUFFER_STORAGE_COPY = 0x80 | 0x04 | 0x08; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST

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
    // Outputs as GPU buffers on WebGPU; elsewhere outputs are the runtime's own tensors, which runOnDevice keeps as they are.
    if (options.outputsOnDevice && device === 'webgpu') opts.preferredOutputLocation = 'gpu-buffer';
    let session: OrtCommon.InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(model, opts);
    } catch (e) {
      throw new Error(`${label}: could not create an ONNX Runtime session on ${device}: ${(e as Error).message}`, { cause: e });
    }
    return new OrtSession(this.ort, session, label, device, Boolean(options.profilePrefix), Boolean(options.outputsOnDevice));
  }
}

/** An ORT tensor kept where the session left it (a GPU buffer on WebGPU). */
class OrtDeviceTensor implements DeviceTensor {
  readonly location = 'device';
  constructor(readonly value: OrtCommon.Tensor) {}
  get dtype(): DType { return this.value.type as DType; }
  get shape(): readonly number[] { return this.value.dims; }
  async download(): Promise<Tensor> {
    return { dtype: this.dtype, shape: [...this.value.dims], data: (await this.value.getData()) as Tensor['data'] };
  }
  dispose(): void { this.value.dispose(); }
}

class OrtSession implements NetSession {
  runOnDevice?: NetSession['runOnDevice'];
  upload?: NetSession['upload'];

  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtCommon.InferenceSession,
    readonly label: string,
    readonly device: Device,
    private readonly profiling = false,
    onDevice = false,
  ) {
    if (onDevice) {
      this.runOnDevice = async (feeds) => {
        const out = await this.runOrt(feeds);
        return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, new OrtDeviceTensor(t)]));
      };
      if (device === 'webgpu') this.upload = (t) => this.uploadToGpu(t);
    }
  }

  /** Copies a host tensor into a GPU buffer on ORT's WebGPU device, freed with the tensor. */
  private async uploadToGpu(t: Tensor): Promise<DeviceTensor> {
    const gpu = (await (this.ort.env?.webgpu as { device?: Promise<unknown> } | undefined)?.device) as GpuDeviceLike | undefined;
    const type = ORT_TYPE[t.dtype];
    if (!gpu || !type) throw new Error(`${this.label}: cannot upload a ${t.dtype} tensor to the GPU`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const padded = (bytes.byteLength + 15) & ~15; // WebGPU copies are 4-byte aligned; ORT rounds buffers to 16
    const buffer = gpu.createBuffer({ size: padded, usage: GPU_BUFFER_STORAGE_COPY });
    const data = bytes.byteLength === padded ? bytes : (() => { const p = new Uint8Array(padded); p.set(bytes); return p; })();
    gpu.queue.writeBuffer(buffer, 0, data);
    const value = this.ort.Tensor.fromGpuBuffer(buffer as unknown as OrtCommon.Tensor.GpuBufferType, {
      dataType: type as OrtCommon.Tensor.GpuBufferDataTypes, dims: t.shape as number[], dispose: () => buffer.destroy(),
    });
    return new OrtDeviceTensor(value);
  }

  get inputNames(): readonly string[] { return this.session.inputNames; }
  get outputNames(): readonly string[] { return this.session.outputNames; }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const out = await this.runOrt(feeds);
    const result: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(out)) {
      // A GPU-buffer output (outputsOnDevice) is read back and its buffer released.
      const data = t.location === 'cpu' || t.location === 'cpu-pinned' ? t.data : await t.getData(true);
      result[name] = { dtype: t.type as DType, shape: [...t.dims], data: data as Tensor['data'] };
    }
    return result;
  }

  private async runOrt(feeds: Record<string, Feed>): Promise<OrtCommon.InferenceSession.ReturnType> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`${this.label}: missing inputs ${missing.join(', ')} (expects ${this.session.inputNames.join(', ')})`);
    const ortFeeds: Record<string, OrtCommon.Tensor> = {};
    for (const name of this.session.inputNames) {
      const f = feeds[name];
      if (isDeviceTensor(f)) {
        ortFeeds[name] = (f as OrtDeviceTensor).value;
        continue;
      }
      const t = f;
      const type = ORT_TYPE[t.dtype];
      if (!type) throw new Error(`${this.label}: input ${name} has dtype ${t.dtype}, which ONNX Runtime cannot take`);
      ortFeeds[name] = new this.ort.Tensor(type, t.data as OrtCommon.Tensor.DataType, t.shape as number[]);
    }
    try {
      return await this.session.run(ortFeeds);
    } catch (e) {
      const shapes = Object.entries(feeds).map(([k, t]) => `${k}: ${t.dtype}[${t.shape.join(', ')}]${isDeviceTensor(t) ? ' (device)' : ''}`).join('; ');
      throw new Error(`${this.label}: inference failed (${shapes}): ${(e as Error).message}`, { cause: e });
    }
  }

  async release(): Promise<void> {
    if (this.profiling) this.session.endProfiling();
    await this.session.release();
  }
}

/**
 * Devices in Node: which execution providers onnxruntime-node can use here, what each can do, and the
 * webgpu/cuda -> cpu fallback (ORT throws instead of falling back, so the fallback is ours). A provider
 * counts as present only when a tiny probe session actually runs on it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { GraphBuilder } from '../core/onnx/graph.ts';
import { Nn } from '../core/onnx/nn.ts';
import type { DeviceCapabilities } from '../core/precision.ts';
import type { Device } from '../core/runtime.ts';
import { f32 } from '../core/tensor.ts';
import { nodeBackend, ort } from './backend.ts';

export interface DeviceProbe {
  device: Device;
  /** The provider is compiled into this onnxruntime-node build. */
  bundled: boolean;
  /** A probe session ran on it. */
  available: boolean;
  /** Why not, when unavailable. */
  error?: string;
  capabilities?: DeviceCapabilities;
}

/** A tiny graph: fp32 y = x W, or the same in fp16 (tests fp16 kernels on the device). */
function probeModel(precision: 'fp32' | 'fp16'): Uint8Array {
  const g = new GraphBuilder('probe');
  const nn = new Nn(g, precision);
  const x = g.input('x', 'float32', [1, 4]);
  g.output(nn.linear(x, f32([4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])), 'y');
  return g.toOnnx();
}

async function runsOn(device: Device, precision: 'fp32' | 'fp16'): Promise<string | null> {
  try {
    const s = await nodeBackend.createSession(probeModel(precision), { device, label: `probe-${device}-${precision}` });
    const out = await s.run({ x: f32([1, 4], [1, 2, 3, 4]) });
    await s.release();
    const y = out.y.data as Float32Array;
    return y[3] === 4 ? null : 'wrong result from the probe graph';
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** NVIDIA GPUs and their compute capability, from nvidia-smi when it is installed. */
export function nvidiaGpus(): { name: string; computeCapability: number }[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,compute_cap', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim().split('\n').filter(Boolean).map((l) => {
      const [name, cc] = l.split(',').map((s) => s.trim());
      return { name, computeCapability: Number(cc) };
    });
  } catch {
    return [];
  }
}

/** Probes cpu, webgpu and cuda. */
export async function probeDevices(): Promise<DeviceProbe[]> {
  const bundled = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const out: DeviceProbe[] = [];
  for (const device of ['cuda', 'webgpu', 'cpu'] as const) {
    const isBundled = bundled.get(device) ?? false;
    // Skip probes that cannot succeed: they only print native start-up errors.
    const skip = device === 'cuda' && !isBundled
      ? 'the CUDA provider is not bundled with onnxruntime-node from npm (install a GPU build of onnxruntime-node)'
      : device !== 'cpu' && process.platform === 'linux' && !hasGpuDeviceNodes() ? 'no GPU device node (/dev/dri, /dev/nvidia*) on this machine' : null;
    const err = skip ?? await runsOn(device, 'fp32');
    const probe: DeviceProbe = { device, bundled: isBundled, available: err === null };
    if (err !== null) {
      probe.error = err;
    } else if (device === 'cuda') {
      const gpu = nvidiaGpus()[0];
      probe.capabilities = { device, cudaComputeCapability: gpu?.computeCapability, name: gpu?.name };
    } else if (device === 'webgpu') {
      // Node's WebGPU provider exposes no adapter features: an fp16 probe graph tells whether f16 shaders work.
      probe.capabilities = { device, shaderF16: (await runsOn('webgpu', 'fp16')) === null, name: 'WebGPU (onnxruntime-node)' };
    } else {
      probe.capabilities = cpuCapabilities();
    }
    out.push(probe);
  }
  return out;
}

/** The CPU's capabilities: its model name and the int8 dot-product instructions the int8 mode uses. */
export function cpuCapabilities(): DeviceCapabilities {
  let name = 'CPU';
  let int8Dot: string | undefined;
  if (process.platform === 'linux') {
    let info = '';
    try { info = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* no procfs: unknown */ }
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
    if (model) name = `CPU (${model})`;
    const flags = new Set((/^(?:flags|Features)\s*:\s*(.+)$/m.exec(info)?.[1] ?? '').split(/\s+/));
    int8Dot = flags.has('avx512_vnni') ? 'AVX512-VNNI' : flags.has('avx_vnni') ? 'AVX-VNNI' : flags.has('asimddp') ? 'NEON dotprod' : undefined;
  } else if (process.platform === 'darwin' && process.arch === 'arm64') {
    int8Dot = 'NEON dotprod'; // every Apple silicon core has it
  }
  return { device: 'cpu', name, int8Dot };
}

/** Whether this machine exposes any GPU device node (DRM render nodes, NVIDIA devices). */
export function hasGpuDeviceNodes(): boolean {
  if (existsSync('/dev/dri')) return true;
  try { return readdirSync('/dev').some((n) => n.startsWith('nvidia')); } catch { return false; }
}

export type DeviceRequest = Device | 'auto';

/**
 * The device to use: an explicit request must be available (else a clear error, unless fallback is
 * allowed, which picks cpu and says so); `auto` takes the first available of cuda, webgpu, cpu.
 */
export async function chooseDevice(request: DeviceRequest, log: (line: string) => void = () => {}): Promise<DeviceCapabilities> {
  if (request === 'cpu') return cpuCapabilities();
  if (request === 'auto' && process.platform === 'linux' && !hasGpuDeviceNodes()) {
    // No GPU device node at all: skip the probes (and the GPU stacks' start-up noise).
    return cpuCapabilities();
  }
  const probes = await probeDevices();
  if (request === 'auto') {
    const pick = probes.find((p) => p.available)!;
    const skipped = probes.filter((p) => !p.available && p.device !== 'cpu').map((p) => `${p.device}: ${p.error}`);
    if (skipped.length) log(`device auto: using ${pick.device} (${skipped.join('; ')})`);
    return pick.capabilities!;
  }
  const p = probes.find((x) => x.device === request);
  if (!p) throw new Error(`unknown device '${request}' (accepted: auto, cpu, webgpu, cuda)`);
  if (!p.available) {
    log(`device ${request} is not available (${p.error}); falling back to cpu`);
    return cpuCapabilities();
  }
  return p.capabilities!;
}

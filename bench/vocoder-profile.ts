/**
 * Where the vocoder's time goes: node --import tsx bench/vocoder-profile.ts [frames] [runs] [threads] [optimization]
 * Builds BigVGAN 22 kHz at official size (the e2e benchmark's random weights, fp32), runs `frames` mel frames
 * (default 862 = 10 s, the length of one DiT window's vocoder call) `runs` times under an ONNX Runtime profile
 * and prints the seconds per run, then kernel time, FLOPs and GFLOP/s per op type (depthwise convs apart from
 * the dense ones) and per upsampling stage (the ops ORT inserts, e.g. the NCHWc reorders, count as 'other').
 * Heavy: wrap it in `flock /tmp/seedvc-heavy.lock` on a shared machine.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../src/core/tensor.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { officialBuilders } from './e2e.ts';
import { nodeFlops } from './profile-flops.ts';

type Shape = number[];
interface NodeEvent { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, Shape>[]; output_type_shape?: Record<string, Shape>[] } }

const frames = Number(process.argv[2] ?? 862), runs = Number(process.argv[3] ?? 2), threads = Number(process.argv[4] ?? 0) || undefined;
// ORT graph optimization level ('all' adds the NCHWc layout transforms; 'extended' stops before them)
const optimization = (process.argv[5] ?? 'all') as 'extended' | 'all';
const dir = mkdtempSync(join(tmpdir(), 'seed-vc-vocoder-prof-'));
const session = await nodeBackend.createSession(officialBuilders().vocoder('fp32').toOnnx(), { label: 'vocoder', threads, optimization, profilePrefix: join(dir, 'vocoder') });
const mel = tensor('float32', [1, 80, frames], Float32Array.from({ length: 80 * frames }, (_, i) => Math.sin(i * 0.37) - 5));
for (let r = 0; r < runs; r++) {
  const t = performance.now();
  await session.run({ mel });
  console.log(`run ${r + 1}: ${((performance.now() - t) / 1000).toFixed(2)} s`);
}
await session.release();

const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as NodeEvent[];
rmSync(dir, { recursive: true, force: true });
const shapes = (l?: Record<string, Shape>[]) => (l ?? []).map((o) => Object.values(o)[0] ?? []);
const byOp = new Map<string, { us: number; flops: number }>(), byStage = new Map<string, { us: number; flops: number }>();
const add = (m: typeof byOp, key: string, us: number, flops: number) => {
  const v = m.get(key) ?? { us: 0, flops: 0 };
  v.us += us; v.flops += flops; m.set(key, v);
};
let totalUs = 0, totalFlops = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
  const inputs = shapes(e.args.input_type_shape);
  const flops = nodeFlops(e.args.op_name, inputs, shapes(e.args.output_type_shape));
  const w = inputs[1];
  const op = e.args.op_name === 'Conv' && w?.length === 4 && w[1] === 1 ? 'Conv (depthwise)' : e.args.op_name;
  // node names carry the module path: resblocks.{i*K+j} and ups.{i} belong to upsampling stage i (K = 3 kernels)
  const rb = /resblocks[./_](\d+)/.exec(e.name), up = /ups[./_](\d+)/.exec(e.name);
  const stage = rb ? `stage ${Math.floor(Number(rb[1]) / 3)}` : up ? `stage ${up[1]}` : 'other';
  add(byOp, op, e.dur, flops);
  add(byStage, stage, e.dur, flops);
  totalUs += e.dur; totalFlops += flops;
}
const show = (title: string, m: typeof byOp) => {
  console.log(title);
  for (const [k, { us, flops }] of [...m].sort((a, b) => b[1].us - a[1].us)) {
    if (us / runs < 1e3) continue;
    const rate = flops ? `${(flops / us / 1e3).toFixed(0).padStart(5)} GFLOP/s` : '';
    console.log(`  ${k.padEnd(18)} ${(us / runs / 1e6).toFixed(3).padStart(7)} s ${(100 * us / totalUs).toFixed(1).padStart(5)} %  ${(flops / runs / 1e9).toFixed(0).padStart(5)} GFLOP ${rate}`);
  }
};
console.log(`kernel time per run ${(totalUs / runs / 1e6).toFixed(2)} s, ${(totalFlops / runs / 1e9).toFixed(0)} GFLOP`);
show('by op type:', byOp);
show('by upsampling stage:', byStage);

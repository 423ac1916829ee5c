/**
 * One benchmark measurement (run by bench/run.ts in a child process of its own):
 *   node --import tsx bench/stage.ts <kind> <fp32|fp16> <device> [quick]
 * Builds the network at its official size with random weights (the ONNX file is cached under
 * $TMPDIR/seed-vc-bench), then, in a fresh child, loads it, runs it and reports time and peak memory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBigvgan, bigvganParamShapes, parseBigvganConfig } from '../src/core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, campplusParamShapes } from '../src/core/nets/campplus.ts';
import { buildDitEstimator, ditParamShapes } from '../src/core/nets/dit.ts';
import { buildLengthRegulator, lengthRegulatorParamShapes } from '../src/core/nets/length-regulator.ts';
import { buildWhisperEncoder, whisperEncoderParamShapes, parseWhisperConfig } from '../src/core/nets/whisper-encoder.ts';
import { GraphBuilder } from '../src/core/onnx/graph.ts';
import type { Precision } from '../src/core/onnx/nn.ts';
import type { Device } from '../src/core/runtime.ts';
import { type Tensor, tensor } from '../src/core/tensor.ts';
import { nodeBackend } from '../src/node/backend.ts';
import { randomWeights, seededUniform } from '../test/helpers/onnx.ts';
import { ditFlops } from './flops.ts';
import { DIT_OFFICIAL } from './official.ts';

export interface StageResult {
  kind: string;
  precision: string;
  device: string;
  /** Median seconds per run. */
  seconds: number;
  runs: number[];
  loadSeconds: number;
  /** Peak resident memory of the process above its baseline before the model was read. */
  peakMiB: number;
  weightBytes: number;
  flops?: number;
  gflops?: number;
}

const DIT_FRAMES = 1290;

const rnd = seededUniform(11);
const fill = (shape: number[]) => tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd));

/** Graph and one set of feeds for each benchmark kind. */
function spec(kind: string, precision: Precision): { build: () => GraphBuilder; feeds: () => Record<string, Tensor>; flops?: number } {
  switch (kind) {
    case 'matmul2048': return {
      build: () => {
        const g = new GraphBuilder('matmul');
        const a = g.input('a', 'float32', [2048, 2048]);
        g.output(g.op('MatMul', [a, g.weight('b', fill([2048, 2048]))]), 'y');
        return g;
      },
      feeds: () => ({ a: fill([2048, 2048]) }),
      flops: 2 * 2048 ** 3,
    };
    case 'dit': return {
      build: () => buildDitEstimator(DIT_OFFICIAL, randomWeights(ditParamShapes(DIT_OFFICIAL), 5), { precision, keyMask: false }),
      feeds: () => ({
        x: fill([2, 80, DIT_FRAMES]), prompt_x: fill([2, 80, DIT_FRAMES]), x_lens: tensor('int64', [1], new BigInt64Array([BigInt(DIT_FRAMES)])),
        t: tensor('float32', [2], new Float32Array([0.5, 0.5])), style: fill([2, 192]), cond: fill([2, DIT_FRAMES, 512]),
      }),
      flops: ditFlops(DIT_OFFICIAL, 2, DIT_FRAMES),
    };
    case 'content': {
      const cfg = parseWhisperConfig({ d_model: 768, encoder_layers: 12, encoder_attention_heads: 12, encoder_ffn_dim: 3072, num_mel_bins: 80, max_source_positions: 1500, activation_function: 'gelu' });
      return { build: () => buildWhisperEncoder(cfg, randomWeights(whisperEncoderParamShapes(cfg), 3), { precision }), feeds: () => ({ input_features: fill([1, 80, 3000]) }) };
    }
    case 'speaker':
      return { build: () => buildCampplus(campplusConfig, randomWeights(campplusParamShapes(campplusConfig), 4), { precision }), feeds: () => ({ feat: fill([1, 1000, 80]) }) };
    case 'length_regulator': {
      const cfg = { channels: 512, inChannels: 768, samplingRatios: [1, 1, 1, 1], isDiscrete: false, f0Condition: false, nF0Bins: 512, groups: 1 };
      return { build: () => buildLengthRegulator(cfg, randomWeights(lengthRegulatorParamShapes(cfg), 6), { precision }), feeds: () => ({ x: fill([1, 1500, 768]), ylens: tensor('int64', [1], new BigInt64Array([2580n])) }) };
    }
    case 'vocoder': {
      const cfg = parseBigvganConfig({
        num_mels: 80, upsample_rates: [4, 4, 2, 2, 2, 2], upsample_kernel_sizes: [8, 8, 4, 4, 4, 4], upsample_initial_channel: 1536,
        resblock: '1', resblock_kernel_sizes: [3, 7, 11], resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        activation: 'snakebeta', snake_logscale: true, use_tanh_at_final: false, use_bias_at_final: false, sampling_rate: 22050, hop_size: 256,
      });
      return { build: () => buildBigvgan(cfg, randomWeights(bigvganParamShapes(cfg), 7), { precision }), feeds: () => ({ mel: fill([1, 80, 344]) }) };
    }
    default: throw new Error(`unknown bench kind ${kind}`);
  }
}

const [kind, precision, device, mode, phase] = process.argv.slice(2) as [string, Precision, Device, string, string | undefined];
const dir = join(tmpdir(), 'seed-vc-bench');
const modelPath = join(dir, `${kind}-${precision}.onnx`);
const s = spec(kind, precision);

if (phase !== 'run') {
  // Phase 1 (this process): build the graph once; phase 2 (a fresh child): load and run it.
  if (!existsSync(modelPath)) {
    mkdirSync(dir, { recursive: true });
    const g = s.build();
    writeFileSync(modelPath, g.toOnnx());
    writeFileSync(`${modelPath}.json`, JSON.stringify({ weightBytes: g.weightBytes }));
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), kind, precision, device, mode, 'run'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
  process.stdout.write(r.stdout);
} else {
  const baseline = process.memoryUsage().rss;
  const t0 = performance.now();
  const session = await nodeBackend.createSession(new Uint8Array(readFileSync(modelPath)), { device, label: kind });
  const loadSeconds = (performance.now() - t0) / 1000;
  const feeds = s.feeds();
  await session.run(feeds); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < (mode === 'quick' ? 2 : 5); i++) {
    const t = performance.now();
    await session.run(feeds);
    runs.push((performance.now() - t) / 1000);
  }
  const seconds = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  const peak = process.resourceUsage().maxRSS * 1024;
  const { weightBytes } = JSON.parse(readFileSync(`${modelPath}.json`, 'utf8'));
  const result: StageResult = {
    kind, precision, device, seconds, runs, loadSeconds, peakMiB: (peak - baseline) / 2 ** 20, weightBytes,
    flops: s.flops, gflops: s.flops ? s.flops / seconds / 1e9 : undefined,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

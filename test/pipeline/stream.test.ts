/**
 * The real-time golden cases (../shared/golden/stream): Seed-VC's streaming loop block by block through the
 * tiny real-time model set of the hub mirror (XLS-R, DiT, HiFT), free-running (every stage fed by our own
 * upstream results) and teacher-forced (every stage fed the golden upstream tensors of the block).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import {
  STREAM_DEFAULTS, StreamingConverter, type StreamSettings, algorithmicLatency, pyFloorDiv, solaFades, solaStep,
  streamSizes, updateInputWindows,
} from '../../src/core/pipeline/stream.ts';
import { InvalidInputError } from '../../src/core/errors.ts';
import { type Tensor, toFloat32 } from '../../src/core/tensor.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, goldenTensors, relErr } from '../helpers/golden.ts';

interface StreamCase {
  id: string;
  settings: Record<string, number>;
  blocks: number;
  sizes: Record<string, number>;
  compare: { tensor: string; tol: number; tol_stage?: number }[];
}
const CASES = ['rt_readme_0p18', 'rt_block0p3_nocfg'];
const STREAM = join(GOLDEN, 'stream');
const loadCase = (id: string): StreamCase => JSON.parse(readFileSync(join(STREAM, id, 'case.json'), 'utf8'));
const wav = (p: string) => toMono(readWav(new Uint8Array(readFileSync(p)), p));
const expected = (id: string) => goldenTensors(join('stream', id, 'expected.safetensors'));
const noiseFile = (id: string) => goldenTensors(join('stream', id, 'noise.safetensors'));
const f32 = (m: Map<string, Tensor>, name: string) => {
  const t = m.get(name);
  assert.ok(t, `golden tensor ${name} missing`);
  return toFloat32(t);
};

/** The case's settings with the GUI's names, as StreamSettings. */
export function caseSettings(c: StreamCase): StreamSettings {
  const s = c.settings;
  return {
    blockTime: s.block_time, crossfadeTime: s.crossfade_time, extraTimeCe: s.extra_time_ce, extraTime: s.extra_time,
    extraTimeRight: s.extra_time_right, diffusionSteps: s.diffusion_steps, inferenceCfgRate: s.inference_cfg_rate,
    maxPromptLength: s.max_prompt_length,
  };
}

/** The golden metric per stream README: where the golden tensor is all zeros, err = max|ours - golden|. */
function err(actual: ArrayLike<number>, golden: ArrayLike<number>): number {
  assert.equal(actual.length, golden.length, `length ${actual.length} != golden ${golden.length}`);
  let zero = true;
  for (let i = 0; i < golden.length; i++) if (golden[i] !== 0) { zero = false; break; }
  if (!zero) return relErr(actual, golden);
  let m = 0;
  for (let i = 0; i < golden.length; i++) m = Math.max(m, Math.abs(actual[i]));
  return m;
}

function tols(c: StreamCase, name: string): { tol: number; tolStage?: number } {
  const e = c.compare.find((x) => x.tensor === name || x.tensor === `${name}.*`);
  assert.ok(e, `case ${c.id} has no tolerance for ${name}`);
  return { tol: e.tol, tolStage: e.tol_stage };
}

/** Worst error per tensor family over the blocks, asserted against `pick(tolerances)`. */
class Checker {
  readonly worst = new Map<string, number>();
  constructor(private readonly c: StreamCase, private readonly stage: boolean) {}
  check(family: string, label: string, actual: ArrayLike<number>, golden: ArrayLike<number>): void {
    const t = tols(this.c, family);
    const tol = this.stage ? t.tolStage : t.tol;
    assert.ok(tol !== undefined, `${family}: no ${this.stage ? 'stage ' : ''}tolerance`);
    const e = err(actual, golden);
    assert.ok(e <= tol, `${this.c.id} ${label}: err ${e.toExponential(3)} > ${this.stage ? 'tol_stage' : 'tol'} ${tol}`);
    this.worst.set(family, Math.max(this.worst.get(family) ?? 0, e));
  }
  report(): string {
    return [...this.worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ');
  }
}

test('stream sizes: every size derived from the settings equals case.json (half-to-even rounding included)', () => {
  for (const id of CASES) {
    const c = loadCase(id);
    const z = streamSizes(caseSettings(c), 22050, 256);
    const g = c.sizes;
    const ours: Record<string, number> = {
      zc: z.zc, block_frame: z.blockFrame, block_frame_16k: z.blockFrame16k, crossfade_frame: z.crossfadeFrame,
      sola_buffer_frame: z.solaBufferFrame, sola_search_frame: z.solaSearchFrame, extra_frame: z.extraFrame,
      extra_frame_right: z.extraFrameRight, input_wav_length: z.inputWavLength, input_wav_res_length: z.inputWavResLength,
      skip_head: z.skipHead, skip_tail: z.skipTail, return_length: z.returnLength, resample_input_length: z.resampleInputLength,
      resample_written_length: z.resampleWrittenLength, ce_dit_frame_difference: z.ceDitFrameDifference,
      target_length: z.targetLength, vocoder_samples: z.targetLength * 256, output_len: z.outputLen, tail_len: z.tailLen,
    };
    for (const [k, v] of Object.entries(ours)) assert.equal(v, g[k], `${id}: ${k} ${v} != ${g[k]}`);
  }
  // the README defaults, and Python's float floor division
  const d = streamSizes(STREAM_DEFAULTS, 22050, 256);
  assert.equal(d.blockFrame, 3969);
  assert.equal(algorithmicLatency(d).seconds, (3969 + 441 + 882 + 441) / 22050);
  assert.equal(pyFloorDiv(16758, 256), 65);
  assert.equal(pyFloorDiv(-7, 2), -4);
  assert.equal(pyFloorDiv(0.7, 0.1), 6); // Python: 0.7 // 0.1 == 6.0 while Math.floor(0.7 / 0.1) == 7
});

test('stream settings the GUI cannot run are refused with the reason', () => {
  assert.throws(() => streamSizes({ ...STREAM_DEFAULTS, extraTimeRight: 0.005 }, 22050, 256), /returned slice would be empty/);
  assert.throws(() => streamSizes({ ...STREAM_DEFAULTS, extraTimeCe: 0.2, extraTime: 0.5 }, 22050, 256), InvalidInputError);
  assert.throws(() => streamSizes({ ...STREAM_DEFAULTS, blockTime: 0 }, 22050, 256), /block time/);
  assert.throws(() => streamSizes({ ...STREAM_DEFAULTS, diffusionSteps: 0 }, 22050, 256), /diffusion steps/);
});

test('SOLA: an exactly repeated waveform is found at its true offset and crossfades without a seam', () => {
  const z = { blockFrame: 400, solaBufferFrame: 100, solaSearchFrame: 50 };
  const fades = solaFades(100);
  assert.equal(fades.fadeIn[0], 0);
  assert.equal(fades.fadeIn[99], 1);
  const sig = (i: number) => Math.sin(i * 0.37) + 0.5 * Math.sin(i * 0.051 + 1);
  const buffer = Float32Array.from({ length: 100 }, (_, j) => sig(1000 + j));
  const shift = 17; // the slice starts 17 samples before the buffer's content
  const slice = Float32Array.from({ length: 550 }, (_, i) => sig(1000 - shift + i));
  const r = solaStep(slice, buffer, z, fades);
  assert.equal(r.offset, shift);
  for (let j = 0; j < 100; j++) assert.ok(Math.abs(r.emitted[j] - sig(1000 + j)) < 1e-5);
  assert.equal(r.buffer.length, 100);
});

let cacheDir: string;
let model: SeedVc;
before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-stream-'));
  model = await SeedVc.load({
    model: 'realtime', mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu',
    hiftConfig: join(STREAM, 'configs', 'hifigan.yml'),
  });
});
after(async () => {
  await model?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

for (const id of CASES) {
  test(`${id}: free-running stream, every block within tol, SOLA offsets identical`, async (t) => {
    const c = loadCase(id);
    const exp = expected(id);
    const nz = noiseFile(id);
    const conv = new StreamingConverter(model.config, model.converter.sessions, caseSettings(c));
    conv.setReference(wav(join(STREAM, id, 'reference.wav')));
    const chk = new Checker(c, false);
    const ref = await conv.referenceCache();
    chk.check('ref.S_ori', 'ref.S_ori', ref.sOri.data, f32(exp, 'ref.S_ori').data);
    chk.check('ref.prompt_condition', 'ref.prompt_condition', ref.promptCondition.data, f32(exp, 'ref.prompt_condition').data);
    chk.check('ref.mel2', 'ref.mel2', ref.mel2.data, f32(exp, 'ref.mel2').data);
    chk.check('ref.style2', 'ref.style2', ref.style2.data, f32(exp, 'ref.style2').data);
    const src = wav(join(STREAM, id, 'source.wav'));
    const B = conv.sizes.blockFrame;
    assert.equal(src.length, c.blocks * B);
    const offsets = [...(exp.get('sola_offsets')!.data as BigInt64Array)].map(Number);
    const sineNoise = f32(nz, 'hift.sine_noise').data;
    const output = new Float32Array(src.length);
    const ours: number[] = [];
    for (let k = 0; k < c.blocks; k++) {
      const r = await conv.process(src.subarray(k * B, (k + 1) * B), {
        keepIntermediates: true,
        noise: (b, shape) => { const z = f32(nz, `z.${b}`); assert.deepEqual(z.shape, shape); return z.data; },
        vocoderDraws: (b) => ({ phase: f32(nz, `hift.phase.${b}`).data, sineNoise }),
      });
      const im = r.intermediates!;
      ours.push(r.offset);
      chk.check('wav16k', `wav16k.${k}`, im.wav16k, f32(exp, `wav16k.${k}`).data);
      chk.check('content', `content.${k}`, im.content.data, f32(exp, `content.${k}`).data);
      assert.deepEqual(im.content.shape, f32(exp, `content.${k}`).shape);
      chk.check('cond', `cond.${k}`, im.cond.data, f32(exp, `cond.${k}`).data);
      chk.check('mel', `mel.${k}`, im.mel.data, f32(exp, `mel.${k}`).data);
      assert.ok(im.f0, 'the HiFT graph reports F0');
      chk.check('f0', `f0.${k}`, im.f0, f32(exp, `f0.${k}`).data);
      chk.check('vocoder', `vocoder.${k}`, im.vocoder, f32(exp, `vocoder.${k}`).data);
      chk.check('sola_corr', `sola_corr.${k}`, im.solaCorr, f32(exp, `sola_corr.${k}`).data);
      chk.check('sola_buffer', `sola_buffer.${k}`, im.solaBuffer, f32(exp, `sola_buffer.${k}`).data);
      chk.check('emitted', `emitted.${k}`, r.output, f32(exp, `emitted.${k}`).data);
      output.set(r.output, k * B);
    }
    assert.deepEqual(ours, offsets, 'SOLA offsets');
    chk.check('output', 'output', output, f32(exp, 'output').data);
    t.diagnostic(`offsets ${ours.join(' ')}`);
    t.diagnostic(`worst per tensor: ${chk.report()}`);
  });

  test(`${id}: teacher-forced, each stage within tol_stage on the golden inputs`, async (t) => {
    const c = loadCase(id);
    const exp = expected(id);
    const nz = noiseFile(id);
    const conv = new StreamingConverter(model.config, model.converter.sessions, caseSettings(c));
    const z = conv.sizes;
    const chk = new Checker(c, true);
    const noReport = () => {};
    const gRef = { sOri: f32(exp, 'ref.S_ori'), promptCondition: f32(exp, 'ref.prompt_condition'), mel2: f32(exp, 'ref.mel2'), style2: f32(exp, 'ref.style2') };
    const P = gRef.mel2.shape[2];
    chk.check('ref.prompt_condition', 'ref.prompt_condition', (await conv.regulate(gRef.sOri, P)).data, gRef.promptCondition.data);
    const src = wav(join(STREAM, id, 'source.wav'));
    const B = z.blockFrame;
    const offsets = [...(exp.get('sola_offsets')!.data as BigInt64Array)].map(Number);
    const sineNoise = f32(nz, 'hift.sine_noise').data;
    const inputWav = new Float32Array(z.inputWavLength);
    const fades = solaFades(z.solaBufferFrame);
    for (let k = 0; k < c.blocks; k++) {
      // the model-rate window is the raw source; the 16 kHz window starts from the golden previous one
      const prev16k = k === 0 ? new Float32Array(z.inputWavResLength) : f32(exp, `wav16k.${k - 1}`).data.slice();
      updateInputWindows(inputWav, prev16k, src.subarray(k * B, (k + 1) * B), z);
      chk.check('wav16k', `wav16k.${k}`, prev16k, f32(exp, `wav16k.${k}`).data);
      const content = await conv.content(f32(exp, `wav16k.${k}`).data, k, noReport);
      chk.check('content', `content.${k}`, content.data, f32(exp, `content.${k}`).data);
      const cond = await conv.regulate(f32(exp, `content.${k}`), z.targetLength);
      chk.check('cond', `cond.${k}`, cond.data, f32(exp, `cond.${k}`).data);
      const mel = await conv.diffuse(f32(exp, `cond.${k}`), f32(nz, `z.${k}`).data, gRef, k, noReport);
      chk.check('mel', `mel.${k}`, mel.data, f32(exp, `mel.${k}`).data);
      const voc = await conv.vocode(f32(exp, `mel.${k}`), { phase: f32(nz, `hift.phase.${k}`).data, sineNoise }, k, noReport);
      chk.check('f0', `f0.${k}`, voc.f0!, f32(exp, `f0.${k}`).data);
      chk.check('vocoder', `vocoder.${k}`, voc.waveform, f32(exp, `vocoder.${k}`).data);
      const prevBuffer = k === 0 ? new Float32Array(z.solaBufferFrame) : f32(exp, `sola_buffer.${k - 1}`).data;
      const sola = solaStep(conv.returnedSlice(f32(exp, `vocoder.${k}`).data), prevBuffer, z, fades);
      assert.equal(sola.offset, offsets[k], `block ${k}: SOLA offset`);
      chk.check('sola_corr', `sola_corr.${k}`, sola.corr, f32(exp, `sola_corr.${k}`).data);
      chk.check('sola_buffer', `sola_buffer.${k}`, sola.buffer, f32(exp, `sola_buffer.${k}`).data);
      chk.check('emitted', `emitted.${k}`, sola.emitted, f32(exp, `emitted.${k}`).data);
    }
    t.diagnostic(`worst per tensor: ${chk.report()}`);
  });
}

test('stream: a non-speech block skips inference and the SOLA fade carries on; bad blocks are refused', async () => {
  const conv = new StreamingConverter(model.config, model.converter.sessions, { diffusionSteps: 2 });
  await assert.rejects(conv.process(new Float32Array(conv.sizes.blockFrame)), /no reference voice/);
  const ref = wav(join(STREAM, 'rt_readme_0p18', 'reference.wav'));
  const conv2 = new StreamingConverter(model.config, model.converter.sessions, { diffusionSteps: 2 });
  conv2.setReference(ref);
  await assert.rejects(conv2.process(new Float32Array(100)), /must have 3969 samples/);
  const src = wav(join(STREAM, 'rt_readme_0p18', 'source.wav'));
  const B = conv2.sizes.blockFrame;
  const a = await conv2.process(src.subarray(0, B), { keepIntermediates: true });
  assert.equal(a.skipped, false);
  const b = await conv2.process(src.subarray(B, 2 * B), { speech: false });
  assert.equal(b.skipped, true);
  assert.equal(b.ms.diffusion, 0);
  assert.equal(b.offset, 0);
  // the skipped block fades the previous tail out over the SOLA buffer, then is silent
  const sb = conv2.sizes.solaBufferFrame;
  const { fadeOut } = solaFades(sb);
  const tail = a.intermediates!.solaBuffer;
  assert.ok(tail.some((v) => v !== 0));
  for (let j = 0; j < sb; j++) assert.ok(b.output[j] === Math.fround(tail[j] * fadeOut[j]), `sample ${j}`);
  assert.ok(b.output.subarray(sb).every((v) => v === 0));
  assert.equal(conv2.blockCount, 2);
  assert.throws(() => new StreamingConverter(model.config, model.converter.sessions, { extraTime: 3 }), InvalidInputError);
});

test('stream: a hazardous vocoder window is recomputed by the fp32 twin and reported (the fp16 guard)', async () => {
  const base = model.converter.sessions;
  let twinCalls = 0;
  const sessions = {
    ...base,
    fp32Fallback: {
      vocoder: async () => { twinCalls++; return base.vocoder; },
      hazard: { vocoder: (d: ArrayLike<number>) => (d.length > 0 ? 'forced for the test' : null) },
    },
  };
  const conv = new StreamingConverter(model.config, sessions, { diffusionSteps: 1 });
  conv.setReference(wav(join(STREAM, 'rt_readme_0p18', 'reference.wav')));
  const r = await conv.process(wav(join(STREAM, 'rt_readme_0p18', 'source.wav')).subarray(0, conv.sizes.blockFrame));
  assert.equal(twinCalls, 1);
  assert.deepEqual(r.guard, [{ stage: 'vocoder', window: 1, reason: 'forced for the test', action: 'recomputed in fp32' }]);
});

test('stream: the offline model set (Whisper content, BigVGAN vocoder) streams too', async () => {
  const offline = await SeedVc.load({ model: 'offline', mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
  try {
    assert.equal(offline.config.vocoder.type, 'bigvgan');
    const conv = new StreamingConverter(offline.config, offline.converter.sessions, { diffusionSteps: 2 });
    conv.setReference(wav(join(STREAM, 'rt_readme_0p18', 'reference.wav')));
    const src = wav(join(STREAM, 'rt_readme_0p18', 'source.wav'));
    const B = conv.sizes.blockFrame;
    for (let k = 0; k < 2; k++) {
      const r = await conv.process(src.subarray(k * B, (k + 1) * B), { keepIntermediates: true });
      assert.equal(r.output.length, B);
      assert.ok(r.output.every(Number.isFinite));
      assert.deepEqual(r.intermediates!.mel.shape, [1, 80, conv.sizes.targetLength]);
      assert.equal(r.intermediates!.f0, undefined); // BigVGAN has no F0 output
      if (k === 1) assert.ok(r.output.some((v) => Math.abs(v) > 1e-3));
    }
  } finally {
    await offline.dispose();
  }
});

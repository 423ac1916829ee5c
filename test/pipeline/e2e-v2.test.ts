/**
 * The Seed-VC v2 end-to-end golden cases (golden/v2/e2e): WAV in -> waveform out through the tiny
 * official-format v2 models of the hub mirror, with the case's noise (and AR draws), through the library
 * (`SeedVc.load({ model: 'v2' })`, intermediates and waveform) and through the CLI (the case's command line).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/core/checkpoint/safetensors.ts';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { noiseFromSafetensors } from '../../src/core/pipeline/noise.ts';
import { drawsFromTable } from '../../src/core/pipeline/v2/ar-sampler.ts';
import { type Tensor, toFloat32 } from '../../src/core/tensor.ts';
import { SeedVc } from '../../src/node/load.ts';
import type { SeedVcV2 } from '../../src/node/load-v2.ts';
import { PROJECT_ROOT, assertClose, assertExactInts, goldenTensors } from '../helpers/golden.ts';
import { GOLDEN_V2, v2Hub } from '../nets/v2/helpers.ts';

interface V2Case {
  id: string;
  cli: { command: string; hub?: string };
  hub?: string;
  args: {
    diffusion_steps: number; length_adjust: number; intelligibility_cfg_rate: number; similarity_cfg_rate: number;
    top_p: number; temperature: number; repetition_penalty: number; convert_style: boolean; anonymization_only: boolean; chunks: number;
  };
  compare: { tensor: string; tol: number }[];
}

const CASES = ['e2e_v2_default', 'e2e_v2_convert_style', 'e2e_v2_anonymize', 'e2e_v2_long'];
const dirOf = (id: string) => join(GOLDEN_V2, 'e2e', id);
const load = (id: string): V2Case => JSON.parse(readFileSync(join(dirOf(id), 'case.json'), 'utf8'));
const wav = (path: string) => {
  const a = readWav(new Uint8Array(readFileSync(path)), path);
  return { samples: toMono(a), sampleRate: a.sampleRate };
};

let cacheDir: string;
let model: SeedVcV2;
before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-e2e-v2-'));
  model = await SeedVc.load({ model: 'v2', config: join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), mirror: v2Hub(), cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
});
after(async () => {
  await model?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

for (const id of CASES) {
  test(`API reproduces ${id} (intermediates, AR tokens and waveform)`, async (t) => {
    const c = load(id);
    const dir = dirOf(id);
    const exp = goldenTensors(join('v2', 'e2e', id, 'expected.safetensors'));
    const a = c.args;
    let draws;
    if (a.convert_style) {
      const q = toFloat32(readSafetensors(new Uint8Array(readFileSync(join(dir, 'draws.safetensors'))), 'draws').tensors.get('q')!);
      draws = drawsFromTable(q.data, q.shape);
    }
    const arEvents: number[] = [];
    const r = await model.convert(wav(join(dir, 'source.wav')), wav(join(dir, 'reference.wav')), {
      diffusionSteps: a.diffusion_steps, lengthAdjust: a.length_adjust, intelligibilityCfgRate: a.intelligibility_cfg_rate,
      similarityCfgRate: a.similarity_cfg_rate, topP: a.top_p, temperature: a.temperature, repetitionPenalty: a.repetition_penalty,
      convertStyle: a.convert_style, anonymizationOnly: a.anonymization_only,
      noise: noiseFromSafetensors(new Uint8Array(readFileSync(join(dir, 'noise.safetensors'))), 'noise.safetensors'), draws,
      onProgress: (e) => { if (e.type === 'ar') arEvents.push(e.tokens); },
    });
    const im = r.intermediates;
    const f = (x: Float32Array) => ({ shape: [x.length], data: x });
    const ours: Record<string, { shape: readonly number[]; data: ArrayLike<number | bigint> }> = {
      output: f(r.audio), wave16k_source: f(im.wave16kSource), wave16k_reference: f(im.wave16kReference),
      source_mel: im.sourceMel, reference_mel: im.referenceMel, source_wide: im.sourceWide, reference_wide: im.referenceWide,
      style: im.style, prompt_condition: im.promptCondition,
    };
    if (im.sourceNarrow) ours.source_narrow = im.sourceNarrow;
    if (im.referenceNarrow) ours.reference_narrow = im.referenceNarrow;
    if (im.cond) ours.cond = im.cond;
    im.chunks.forEach((ch, k) => {
      ours[`chunk${k}.vc_mel`] = ch.vcMel;
      if (ch.cond) ours[`chunk${k}.cond`] = ch.cond;
      if (ch.arTokens) ours[`chunk${k}.ar_tokens`] = { shape: [1, ch.arTokens.length], data: ch.arTokens };
    });
    assert.equal(im.chunks.length, a.chunks, 'chunks');
    for (const cmp of c.compare) {
      const mine = ours[cmp.tensor];
      assert.ok(mine, `no counterpart for ${cmp.tensor}`);
      const g = exp.get(cmp.tensor)! as Tensor;
      if (cmp.tol === 0) {
        assert.deepEqual([...mine.shape], [...g.shape], `${cmp.tensor} shape`);
        assertExactInts(`${id} ${cmp.tensor}`, mine.data as ArrayLike<number>, g);
        t.diagnostic(`${cmp.tensor}: exact (${g.shape.join('x')})`);
      } else {
        const err = assertClose(`${id} ${cmp.tensor}`, mine as { shape: readonly number[]; data: ArrayLike<number> }, g, cmp.tol);
        t.diagnostic(`${cmp.tensor}: err ${err.toExponential(2)} (tol ${cmp.tol})`);
      }
    }
    if (a.convert_style) assert.ok(arEvents.length > 0, 'AR progress events');
    t.diagnostic(`RTF ${r.rtf.toFixed(3)} (${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')})`);
  });

  test(`CLI reproduces ${id} from the case's command line`, (t) => {
    const c = load(id);
    const dir = dirOf(id);
    const out = join(cacheDir, `${id}.wav`);
    const hub = c.cli.hub ?? c.hub ?? '../../../hub';
    const words = c.cli.command.replace('<hub>', hub).split(/\s+/).slice(1);
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'seed-vc.js'), ...words, '--output', out, '--cache-dir', cacheDir, '--offline', '--device', 'cpu', '--json'],
      { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, `seed-vc exited ${r.status}: ${r.stderr}`);
    const summary = JSON.parse(r.stdout.trim());
    const produced = readWav(new Uint8Array(readFileSync(out)), out);
    assert.equal(produced.sampleRate, 22050);
    const tol = c.compare.find((x) => x.tensor === 'output')!.tol;
    const err = assertClose(`${id} CLI output`, { shape: [produced.frames], data: produced.channelData[0] }, goldenTensors(join('v2', 'e2e', id, 'expected.safetensors')).get('output')!, tol);
    t.diagnostic(`CLI output err ${err.toExponential(2)} (tol ${tol}), RTF ${summary.rtf.toFixed(3)}`);
  });
}

test('fp16 plan: content in fp16 (fp16-stored weights on a CPU), and the default path runs the CFM on an fp32 DiT twin, as the reference forces it', async (t) => {
  const sessions: string[] = [];
  const m = await SeedVc.load({
    model: 'v2', config: join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), mirror: v2Hub(), cacheDir, offline: true, precision: 'fp16', device: 'cpu',
    onEvent: (e) => { if (e.type === 'session') sessions.push(`${e.network}:${e.precision}`); },
  });
  try {
    // a CPU runs fp16 mode as fp16-storage (fp16 weights, fp32 arithmetic)
    assert.equal(m.plan.stages.dit.precision, 'fp16-storage');
    assert.ok(sessions.includes('dit:fp16-storage') && sessions.includes('hubert:fp16-storage'), sessions.join(', '));
    const id = 'e2e_v2_default';
    const dir = dirOf(id);
    const a = load(id).args;
    const r = await m.convert(wav(join(dir, 'source.wav')), wav(join(dir, 'reference.wav')), {
      diffusionSteps: a.diffusion_steps, intelligibilityCfgRate: a.intelligibility_cfg_rate, similarityCfgRate: a.similarity_cfg_rate,
      noise: noiseFromSafetensors(new Uint8Array(readFileSync(join(dir, 'noise.safetensors'))), 'noise.safetensors'),
    });
    assert.ok(sessions.includes('dit:fp32'), `the default path opened an fp32 DiT (${sessions.join(', ')})`);
    const exp = goldenTensors(join('v2', 'e2e', id, 'expected.safetensors'));
    assert.equal(r.audio.length, exp.get('output')!.shape[0]);
    assert.ok(r.audio.every(Number.isFinite));
    // fp16 content may flip a few ids; the rest of the chain is the fp32 one.
    const ids = Array.from(r.intermediates.sourceWide.data, Number);
    const gold = Array.from(exp.get('source_wide')!.data as BigInt64Array, Number);
    const same = ids.filter((v, i) => v === gold[i]).length / gold.length;
    assert.ok(same >= 0.9, `fp16 content ids: ${(same * 100).toFixed(1)} % equal`);
    t.diagnostic(`fp16 content ids ${(same * 100).toFixed(1)} % equal; sessions ${sessions.join(', ')}`);
  } finally {
    await m.dispose();
  }
});

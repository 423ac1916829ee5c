/**
 * The full end-to-end golden cases (group D): WAV in -> waveform out through the tiny official-format
 * models of the hub mirror, with the case's noise file, through the library API and through the CLI; the
 * 44.1 kHz singing cases (golden/e2e/SINGING.md) through the CLI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { noiseFromSafetensors } from '../../src/core/pipeline/noise.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, PROJECT_ROOT, assertClose, goldenTensors } from '../helpers/golden.ts';

interface E2eCase {
  id: string;
  dir: string;
  cli: { command: string; flags: Record<string, number | string | boolean> };
  args: { diffusion_steps: number; length_adjust: number; inference_cfg_rate: number; sr?: number };
  compare: { tensor: string; tol: number }[];
}

const CASES = ['e2e_full_short', 'e2e_full_la0p9', 'e2e_full_long'];
/** The 44.1 kHz singing cases (see golden/e2e/SINGING.md): through the CLI, as their case.json states them. */
const SINGING_CASES = ['e2e_full_singing', 'e2e_full_singing_shift'];
const load = (id: string): E2eCase => JSON.parse(readFileSync(join(GOLDEN, 'e2e', id, 'case.json'), 'utf8'));
const wav = (path: string) => {
  const a = readWav(new Uint8Array(readFileSync(path)), path);
  return { samples: toMono(a), sampleRate: a.sampleRate };
};

let cacheDir: string;
let model: SeedVc;
before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-e2e-'));
  model = await SeedVc.load({ mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
});
after(async () => {
  await model?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

for (const id of CASES) {
  test(`API reproduces ${id} (intermediates and waveform)`, async (t) => {
    const c = load(id);
    const dir = join(GOLDEN, 'e2e', id);
    const exp = goldenTensors(join('e2e', id, 'expected.safetensors'));
    const r = await model.convert(wav(join(dir, 'source.wav')), wav(join(dir, 'reference.wav')), {
      diffusionSteps: c.args.diffusion_steps, lengthAdjust: c.args.length_adjust, inferenceCfgRate: c.args.inference_cfg_rate,
      noise: noiseFromSafetensors(new Uint8Array(readFileSync(join(dir, 'noise.safetensors'))), 'noise.safetensors'),
    });
    const im = r.intermediates;
    const ours: Record<string, { shape: readonly number[]; data: ArrayLike<number> }> = {
      S_alt: im.sAlt, S_ori: im.sOri, style2: im.style, mel2: im.prompt, feat2: im.speakerFeatures,
      cond: im.cond, prompt_condition: im.promptCondition, output: { shape: [r.audio.length], data: r.audio },
    };
    im.vcTargets.forEach((v, k) => { ours[`vc_target.${k}`] = v; });
    assert.equal(im.targetLength, Number((exp.get('target_length') as Tensor<'int64'>).data[0]), 'target_length');
    for (const cmp of c.compare) {
      assert.ok(ours[cmp.tensor], `no counterpart for ${cmp.tensor}`);
      const err = assertClose(`${id} ${cmp.tensor}`, ours[cmp.tensor], exp.get(cmp.tensor)!, cmp.tol);
      t.diagnostic(`${cmp.tensor}: err ${err.toExponential(2)} (tol ${cmp.tol})`);
    }
    t.diagnostic(`RTF ${r.rtf.toFixed(3)} (${Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')})`);
  });

  cliTest(id);
}
for (const id of SINGING_CASES) cliTest(id);

function cliTest(id: string): void {
  test(`CLI reproduces ${id} from the case's command line`, (t) => {
    const c = load(id);
    const dir = join(GOLDEN, 'e2e', id);
    const out = join(cacheDir, `${id}.wav`);
    // The case's exact command, run in the case folder, plus an output path.
    const words = c.cli.command.split(/\s+/).slice(1);
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'seed-vc.js'), ...words, '--output', out, '--cache-dir', cacheDir, '--offline', '--device', 'cpu', '--json'], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 0, `seed-vc exited ${r.status}: ${r.stderr}`);
    const summary = JSON.parse(r.stdout.trim());
    const produced = readWav(new Uint8Array(readFileSync(out)), out);
    const exp = goldenTensors(join('e2e', id, 'expected.safetensors')).get('output')!;
    assert.equal(produced.sampleRate, c.args.sr ?? 22050);
    const tol = c.compare.find((x) => x.tensor === 'output')!.tol;
    const err = assertClose(`${id} CLI output`, { shape: [produced.frames], data: produced.channelData[0] }, exp, tol);
    t.diagnostic(`CLI output err ${err.toExponential(2)} (tol ${tol}), RTF ${summary.rtf.toFixed(3)}`);
  });
}

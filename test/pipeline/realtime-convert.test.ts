/**
 * The offline conversion with the real-time model set (`convert --model realtime`: XLS-R, the xlsr-tiny DiT,
 * HiFT) on the hub mirror's tiny twins. No golden conversion exists for this set, so the stages it shares with
 * the streaming loop are checked against the stream goldens (the reference cache is inference.py's reference
 * path on the prompt), the HiFT vocoder (its widths read from the checkpoint, no YAML) against a golden block,
 * and the CLI run end to end for what a conversion must be.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import { toFloat32 } from '../../src/core/tensor.ts';
import { SeedVc } from '../../src/node/load.ts';
import { GOLDEN, HUB, PROJECT_ROOT, assertClose, goldenTensors } from '../helpers/golden.ts';

const CASE = join(GOLDEN, 'stream', 'rt_readme_0p18');
const wav = (p: string) => toMono(readWav(new Uint8Array(readFileSync(p)), p));
const exp = () => goldenTensors(join('stream', 'rt_readme_0p18', 'expected.safetensors'));
const caseJson = () => JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { compare: { tensor: string; tol: number; tol_stage?: number }[] };
const tol = (name: string, stage = false) => {
  const e = caseJson().compare.find((c) => c.tensor === name)!;
  return (stage ? e.tol_stage : e.tol)!;
};

let cacheDir: string;
let model: SeedVc;
before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'seed-vc-rt-'));
  model = await SeedVc.load({ model: 'realtime', mirror: HUB, cacheDir, offline: true, precision: 'fp32', device: 'cpu' });
});
after(async () => {
  await model?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('convert --model realtime: the reference path (XLS-R content, CAMPPlus style, prompt mel and condition) equals the golden reference cache', async (t) => {
  assert.equal(model.config.speechTokenizer.type, 'xlsr');
  assert.equal(model.config.vocoder.type, 'hifigan');
  const g = exp();
  const prompt = wav(join(CASE, 'reference.wav')).slice(0, 22050 * 3); // the case's 3 s prompt
  const src = wav(join(CASE, 'source.wav'));
  const r = await model.convert({ samples: src, sampleRate: 22050 }, { samples: prompt, sampleRate: 22050 }, { diffusionSteps: 2, seed: 1 });
  const im = r.intermediates;
  for (const [name, ours] of [['ref.S_ori', im.sOri], ['ref.prompt_condition', im.promptCondition], ['ref.mel2', im.prompt], ['ref.style2', im.style]] as const) {
    const e = assertClose(name, ours, toFloat32(g.get(name)!), tol(name));
    t.diagnostic(`${name}: err ${e.toExponential(2)} (tol ${tol(name)})`);
  }
  // the whole source becomes floor(samples / hop) mel frames of audio
  assert.equal(r.audio.length, Math.floor(src.length / 256) * 256);
  assert.ok(r.audio.every(Number.isFinite));
});

test('convert --model realtime: HiFT with widths read from hift.pt (no hifigan.yml) vocodes a golden block', async (t) => {
  const g = exp();
  const nz = goldenTensors(join('stream', 'rt_readme_0p18', 'noise.safetensors'));
  const out = await model.converter.sessions.vocoder.run(toFloat32(g.get('mel.3')!), {
    phase: toFloat32(nz.get('hift.phase.3')!).data, sineNoise: toFloat32(nz.get('hift.sine_noise')!).data,
  });
  const ev = assertClose('vocoder.3', { shape: [out.waveform.length], data: out.waveform }, toFloat32(g.get('vocoder.3')!), tol('vocoder.*', true));
  const ef = assertClose('f0.3', { shape: [1, out.f0!.length], data: out.f0! }, toFloat32(g.get('f0.3')!), tol('f0.*', true));
  t.diagnostic(`vocoder err ${ev.toExponential(2)}, f0 err ${ef.toExponential(2)}`);
});

test('seed-vc convert --model realtime runs end to end on the hub twins', (t) => {
  const out = join(cacheDir, 'rt.wav');
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'seed-vc.js'), 'convert', '--model', 'realtime',
    '--source', join(CASE, 'source.wav'), '--target', join(CASE, 'reference.wav'), '--hub-mirror', HUB, '--offline',
    '--cache-dir', cacheDir, '--diffusion-steps', '3', '--seed', '7', '--output', out, '-q'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const a = readWav(new Uint8Array(readFileSync(out)), out);
  assert.equal(a.sampleRate, 22050);
  const y = toMono(a);
  assert.equal(y.length, Math.floor(67473 / 256) * 256);
  let peak = 0;
  for (const v of y) { assert.ok(Number.isFinite(v)); peak = Math.max(peak, Math.abs(v)); }
  assert.ok(peak > 1e-3 && peak <= 0.99, `peak ${peak}`); // HiFT clamps at audio_limit 0.99
  t.diagnostic(`peak ${peak.toFixed(3)}`);
});

/**
 * `seed-vc ab` end to end on the golden case e2e_full_short (tiny official-format models from the hub
 * mirror, the case's noise file): fp32 vs fp16 with DNSMOS, then an A/A run that must be identical.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readWav, toMono } from '../../src/core/audio/index.ts';
import type { AbReport } from '../../src/core/quality/report.ts';
import { AB_FILES } from '../../src/node/ab.ts';
import { GOLDEN, HUB, PROJECT_ROOT, SHARED } from '../helpers/golden.ts';

const CASE = join(GOLDEN, 'e2e', 'e2e_full_short');
const DNSMOS = join(SHARED, 'models', 'dnsmos');
let tmp: string;
before(() => { tmp = mkdtempSync(join(tmpdir(), 'seed-vc-ab-')); });
after(() => { rmSync(tmp, { recursive: true, force: true }); });

function ab(out: string, extra: string[]) {
  const env = { ...process.env };
  delete env.SEED_VC_DNSMOS_DIR;
  return spawnSync(process.execPath, [
    join(PROJECT_ROOT, 'bin', 'seed-vc.js'), 'ab',
    '--source', join(CASE, 'source.wav'), '--target', join(CASE, 'reference.wav'), '--output', out,
    '--hub-mirror', HUB, '--offline', '--cache-dir', join(tmp, 'cache'), '--device', 'cpu',
    '--diffusion-steps', '4', '--noise', join(CASE, 'noise.safetensors'), ...extra,
  ], { encoding: 'utf8', cwd: PROJECT_ROOT, env });
}
const wav = (p: string) => {
  const a = readWav(new Uint8Array(readFileSync(p)), p);
  return { samples: toMono(a), sampleRate: a.sampleRate };
};
const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

test('fp32 vs fp16: report files, sane finite numbers, DNSMOS, figures and page', (t) => {
  const out = join(tmp, 'report');
  const r = ab(out, ['--dnsmos-dir', DNSMOS, '--json']);
  assert.equal(r.status, 0, `seed-vc ab exited ${r.status}: ${r.stderr}`);
  const report: AbReport = JSON.parse(r.stdout);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')), report, '--json prints report.json');
  for (const f of Object.values(AB_FILES)) assert.ok(existsSync(join(out, f)), `${f} written`);

  const { a, b } = report.sides;
  const c = report.comparison;
  t.diagnostic(`L1 ${c.logMelL1} MCD ${c.mcdDb} dB SNR ${c.snrDb} dB speaker cos ${c.speakerCosine} F0 RMSE ${c.f0.rmseCents}`);
  t.diagnostic(`A RTF ${a.rtf.toFixed(3)} load ${a.loadMs.toFixed(0)} ms +${(a.memory.peakRssGrowthBytes / 2 ** 20).toFixed(0)} MiB; B RTF ${b.rtf.toFixed(3)} load ${b.loadMs.toFixed(0)} ms +${(b.memory.peakRssGrowthBytes / 2 ** 20).toFixed(0)} MiB`);
  assert.equal(a.precision.stages.dit.precision, 'fp32');
  // on a CPU, fp16 mode builds fp16-storage graphs (fp16 weights, fp32 arithmetic)
  assert.equal(b.precision.stages.dit.precision, 'fp16-storage');
  assert.equal(b.precision.stages.content.precision, 'fp16-storage');
  assert.equal(b.precision.stages.vocoder.precision, 'fp32');
  assert.ok(a.precision.stages.dit.reason.length > 0);
  assert.equal(a.spec, 'precision=fp32');
  assert.equal(b.spec, 'precision=fp16');
  // fp16 changes the result a little on these tiny random models, never a lot
  assert.ok(isNum(c.logMelL1) && c.logMelL1! > 0 && c.logMelL1! < 0.5, `log-mel L1 ${c.logMelL1}`);
  assert.ok(isNum(c.mcdDb) && c.mcdDb! > 0 && c.mcdDb! < 3, `MCD ${c.mcdDb}`);
  assert.ok(isNum(c.snrDb) && c.snrDb! > 10, `SNR ${c.snrDb}`);
  assert.equal(c.snrNote, null);
  assert.ok(c.speakerCosine! > 0.9, `speaker cosine ${c.speakerCosine}`);
  assert.ok(c.referenceStyleCosine! > 0.9999, 'both sides run the speaker stage in fp32');
  // F0 tracks: 10 ms frames over the whole output; the counts agree with each other and with each side's
  // voiced fraction; at this SNR, fp16 flips no more than 5 % of the voicing decisions (measured: none)
  assert.equal(c.f0.frames, Math.ceil(a.outputSeconds * 100));
  assert.equal(c.f0.voicedA, Math.round(a.f0.voicedFraction! * c.f0.frames));
  assert.equal(c.f0.voicedB, Math.round(b.f0.voicedFraction! * c.f0.frames));
  assert.ok(c.f0.bothVoiced <= Math.min(c.f0.voicedA, c.f0.voicedB));
  assert.ok(c.f0.voicingAgreement <= 1 - Math.abs(c.f0.voicedA - c.f0.voicedB) / c.f0.frames + 1e-12, 'disagreements at least |voicedA - voicedB|');
  assert.ok(Number.isInteger(Math.round(c.f0.voicingAgreement * c.f0.frames * 1e6) / 1e6), 'agreement is a whole number of frames');
  assert.ok(c.f0.voicingAgreement >= 0.95, `voicing agreement ${c.f0.voicingAgreement}`);
  assert.equal(c.frames, 344);
  for (const s of [a, b]) {
    assert.ok(isNum(s.rtf) && s.rtf > 0);
    assert.ok(isNum(s.loadMs) && s.loadMs > 0);
    assert.ok(isNum(s.convertMs) && s.convertMs > 0);
    // a Node process with ONNX Runtime loaded (measured ~100 MiB before A), never above the machine's memory;
    // the sampler ran at least at every diffusion step and at the end
    assert.ok(s.memory.rssBeforeBytes > 50 * 2 ** 20 && s.memory.peakRssBytes <= totalmem(), `${s.label} RSS ${s.memory.rssBeforeBytes} .. ${s.memory.peakRssBytes}`);
    assert.equal(s.memory.peakRssGrowthBytes, s.memory.peakRssBytes - s.memory.rssBeforeBytes);
    assert.ok(s.memory.samples >= 4 + 1, `${s.memory.samples} RSS samples`);
    assert.ok(isNum(s.speakerCosineToReference) && Math.abs(s.speakerCosineToReference!) <= 1);
    assert.equal(s.device.used, 'cpu');
    assert.ok(Math.abs(s.outputSeconds - 88064 / 22050) < 1e-9);
    for (const k of ['SIG', 'BAK', 'OVRL', 'P808_MOS'] as const) {
      const v = s.dnsmos![k];
      assert.ok(isNum(v) && v >= 1 && v <= 5, `${s.label} DNSMOS ${k} ${v}`);
    }
  }
  // loading a whole model set (graphs built, sessions opened) shows in A's peak (measured +272 MiB)
  assert.ok(a.memory.peakRssGrowthBytes > 16 * 2 ** 20, `A's peak RSS growth ${a.memory.peakRssGrowthBytes}`);
  assert.equal(report.dnsmos.status, 'computed');
  assert.ok(report.dnsmos.source!.OVRL > a.dnsmos!.OVRL, 'real speech scores above the random-model output');
  assert.equal(report.settings.noise, join(CASE, 'noise.safetensors'));
  assert.equal(report.settings.seed, null);

  // audio: outputs at the model rate, inputs copied as exact re-encodes
  const wa = wav(join(out, 'a.wav'));
  assert.equal(wa.sampleRate, 22050);
  assert.equal(wa.samples.length, 88064);
  const src = wav(join(CASE, 'source.wav')), copy = wav(join(out, 'source.wav'));
  assert.equal(copy.sampleRate, src.sampleRate);
  assert.deepEqual(copy.samples, src.samples);
  // figures
  for (const f of [AB_FILES.specA, AB_FILES.specB, AB_FILES.diff]) {
    const png = PNG.sync.read(readFileSync(join(out, f)));
    assert.ok(png.width >= 688 && png.height >= 240, `${f} is ${png.width} x ${png.height}`);
  }
  // page
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const f of ['source.wav', 'reference.wav', 'a.wav', 'b.wav']) assert.match(html, new RegExp(`<audio controls[^>]* src="${f}"`));
  for (const f of ['a.png', 'b.png', 'diff.png']) assert.match(html, new RegExp(`<img src="${f}"`));
  assert.match(html, /DNSMOS OVRL/);
  assert.ok(!/(src|href)="(\/|\.\.|[a-z]+:)/.test(html), 'nothing linked outside the folder');

  // the folder now holds a report: a second run without --force refuses before loading anything
  const again = ab(out, []);
  assert.equal(again.status, 1);
  assert.match(again.stderr.trim(), /^seed-vc: error: .* already holds report files \(.*\); use --force to overwrite them$/);
});

test('A/A (--b precision=fp32): identical outputs, SNR null with a note, L1 0; bad specs are one-line errors', () => {
  const out = join(tmp, 'report');
  const r = ab(out, ['--b', 'precision=fp32', '--force', '--json']);
  assert.equal(r.status, 0, `seed-vc ab exited ${r.status}: ${r.stderr}`);
  const report: AbReport = JSON.parse(r.stdout);
  const c = report.comparison;
  assert.equal(report.sides.b.precision.stages.dit.precision, 'fp32');
  assert.deepEqual(readFileSync(join(out, 'a.wav')), readFileSync(join(out, 'b.wav')), 'A and B are the same bytes');
  assert.equal(c.snrDb, null);
  assert.match(c.snrNote!, /^infinite/);
  assert.equal(c.logMelL1, 0);
  assert.equal(c.mcdDb, 0);
  assert.ok(Math.abs(c.speakerCosine! - 1) < 1e-6);
  assert.equal(c.f0.voicingAgreement, 1);
  assert.equal(report.dnsmos.status, 'skipped');
  assert.match(report.dnsmos.note, /sig_bak_ovr\.onnx and model_v8\.onnx .*microsoft\/DNS-Challenge/);
  assert.ok(report.sides.a.dnsmos === null && report.sides.b.dnsmos === null);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /DNSMOS skipped/);

  const bad = ab(join(tmp, 'bad'), ['--b', 'precision=fp8']);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), "seed-vc: error: --b: precision='fp8' is not accepted (precision takes fp32, fp16, int8, auto)");
  assert.ok(!existsSync(join(tmp, 'bad')), 'nothing written');
});

test('--model v2: fp32 vs fp16 on e2e_v2_default, the CFM in the plan precision (what fp16 would cost on the default path)', (t) => {
  const V2 = join(GOLDEN, 'v2');
  const dir = join(V2, 'e2e', 'e2e_v2_default');
  const out = join(tmp, 'report-v2');
  const env = { ...process.env };
  delete env.SEED_VC_DNSMOS_DIR;
  const r = spawnSync(process.execPath, [
    join(PROJECT_ROOT, 'bin', 'seed-vc.js'), 'ab', '--model', 'v2', '--config', join(V2, 'configs/v2/vc_wrapper.yaml'),
    '--source', join(dir, 'source.wav'), '--target', join(dir, 'reference.wav'), '--output', out,
    '--hub-mirror', HUB, '--offline', '--cache-dir', join(tmp, 'cache'), '--device', 'cpu',
    '--diffusion-steps', '4', '--noise', join(dir, 'noise.safetensors'), '--json',
  ], { encoding: 'utf8', cwd: PROJECT_ROOT, env });
  assert.equal(r.status, 0, `seed-vc ab exited ${r.status}: ${r.stderr}`);
  const report: AbReport = JSON.parse(r.stdout);
  const { a, b } = report.sides;
  const c = report.comparison;
  assert.equal(a.precision.stages.dit.precision, 'fp32');
  assert.equal(b.precision.stages.dit.precision, 'fp16-storage', 'a CPU runs fp16 mode as fp16-storage');
  assert.ok(Math.abs(a.outputSeconds - 88064 / 22050) < 1e-9, 'side A has the golden output length');
  assert.ok(isNum(c.snrDb) && c.snrDb! > 0, `SNR ${c.snrDb}`);
  assert.ok(isNum(c.logMelL1) && c.logMelL1! > 0, `log-mel L1 ${c.logMelL1}`);
  const gold = readSafetensorsOutput(join(dir, 'expected.safetensors'));
  const A = wav(join(out, AB_FILES.a)).samples;
  let max = 0, ss = 0;
  for (let i = 0; i < gold.length; i++) { max = Math.max(max, Math.abs(A[i] - gold[i])); ss += gold[i] * gold[i]; }
  const err = max / Math.sqrt(ss / gold.length);
  assert.ok(err < 2e-3, `side A (fp32) reproduces the golden output: err ${err}`);
  t.diagnostic(`v2 fp16 vs fp32: L1 ${c.logMelL1} MCD ${c.mcdDb} dB SNR ${c.snrDb} dB; A vs golden ${err.toExponential(2)}`);
});

function readSafetensorsOutput(p: string): Float32Array {
  const b = new Uint8Array(readFileSync(p));
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))).output;
  return new Float32Array(b.slice(8 + n + h.data_offsets[0], 8 + n + h.data_offsets[1]).buffer);
}

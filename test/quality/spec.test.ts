/** A/B side specs: parsing, errors, and how a side's settings are resolved. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSideSettings, parseSideSpec, resolveSide } from '../../src/core/quality/spec.ts';

test('specs parse every key', () => {
  assert.deepEqual(parseSideSpec('precision=fp16, device=cuda,vocoder-fp16=true,diffusion-steps=10,inference-cfg-rate=0.5'), {
    precision: 'fp16', device: 'cuda', vocoderFp16: true, diffusionSteps: 10, inferenceCfgRate: 0.5,
  });
  assert.deepEqual(parseSideSpec(''), {});
  assert.deepEqual(parseSideSpec('PRECISION=FP32,vocoder_fp16=false'), { precision: 'fp32', vocoderFp16: false });
});

test('bad specs are one-line errors naming the side and what is accepted', () => {
  assert.throws(() => parseSideSpec('precision=fp8', '--b'), /^InvalidInputError: --b: precision='fp8' is not accepted \(precision takes fp32, fp16, int8, auto\)$/);
  assert.throws(() => parseSideSpec('speed=2', '--a'), /--a: unknown key 'speed' \(accepted: precision, device, vocoder-fp16, diffusion-steps, inference-cfg-rate\)/);
  assert.throws(() => parseSideSpec('fp16'), /not key=value/);
  assert.throws(() => parseSideSpec('device=cpu,device=cuda'), /given twice/);
  assert.throws(() => parseSideSpec('diffusion-steps=0'), /integer in 1..1000/);
  assert.throws(() => parseSideSpec('inference-cfg-rate=abc'), /0..10/);
});

test('resolution: spec, then shared options, then the side default', () => {
  const defaults = { precision: 'fp16', device: 'auto', vocoderFp16: false, diffusionSteps: 30, inferenceCfgRate: 0.7 } as const;
  assert.deepEqual(resolveSide({ device: 'cuda' }, { diffusionSteps: 4 }, defaults), { ...defaults, device: 'cuda', diffusionSteps: 4 });
  assert.deepEqual(resolveSide({ precision: 'fp32' }, { precision: 'auto' }, defaults).precision, 'fp32');
  assert.deepEqual(resolveSide({}, { precision: 'auto' }, defaults).precision, 'auto');
  assert.equal(formatSideSettings(defaults), 'precision=fp16,device=auto,vocoder-fp16=false,diffusion-steps=30,inference-cfg-rate=0.7');
});

test('seed-vc ab sides: fp32 vs fp16 by default; --precision applies to sides whose spec leaves it out', async () => {
  const { abSides } = await import('../../src/cli/ab.ts');
  const o = { precision: 'auto', device: 'auto', diffusionSteps: 4, inferenceCfgRate: 0.7 } as const;
  const d = abSides(o, false);
  assert.equal(d.a.spec, 'precision=fp32');
  assert.equal(d.b.spec, 'precision=fp16');
  assert.deepEqual(d.b.settings, { precision: 'fp16', device: 'auto', vocoderFp16: false, diffusionSteps: 4, inferenceCfgRate: 0.7 });
  const cuda = abSides({ ...o, b: 'device=cuda,diffusion-steps=8' }, false);
  assert.equal(cuda.b.spec, 'precision=fp16,device=cuda,diffusion-steps=8');
  assert.deepEqual(cuda.b.settings, { precision: 'fp16', device: 'cuda', vocoderFp16: false, diffusionSteps: 8, inferenceCfgRate: 0.7 });
  assert.equal(cuda.a.settings.diffusionSteps, 4);
  const aa = abSides({ ...o, b: 'precision=fp32' }, false);
  assert.deepEqual(aa.a.settings, aa.b.settings);
  const both16 = abSides({ ...o, precision: 'fp16' }, true);
  assert.equal(both16.a.settings.precision, 'fp16');
  assert.equal(both16.a.spec, 'precision=fp16');
  const fp16Flag = abSides({ ...o, fp16: false, a: 'precision=fp16', vocoderFp16: true }, false);
  assert.equal(fp16Flag.a.settings.precision, 'fp16', 'the spec wins over --fp16');
  assert.equal(fp16Flag.b.settings.precision, 'fp32', '--fp16 false applies to B');
  assert.equal(fp16Flag.b.settings.vocoderFp16, true);
});

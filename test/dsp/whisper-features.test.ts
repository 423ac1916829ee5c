import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whisperLogMel, whisperMelFilters } from '../../src/core/dsp/whisper-features.ts';
import { assertClose, caseTensors, getF32, getTensor, goldenCase, tolerance } from '../helpers/golden.ts';

const c = goldenCase('dsp_whisper_features');

test('dsp_whisper_features: Slaney mel filters 0..8 kHz (transformers mel_filter_bank, transposed)', (t) => {
  const g = caseTensors(c);
  const tol = tolerance(c, 'intermediate.mel_filters');
  const err = assertClose('mel_filters', { shape: [80, 201], data: whisperMelFilters() }, getF32(g, 'intermediate.mel_filters'), tol);
  t.diagnostic(`intermediate.mel_filters err=${err.toExponential(3)} tol=${tol}`);
});

test('dsp_whisper_features: [80, 3000] log-mel features, constant padded tail and attention mask', (t) => {
  const g = caseTensors(c);
  const wav = getF32(g, 'input.wav16k').data;
  const feats = whisperLogMel(wav);
  assert.equal(feats.frames, 3000);
  assert.equal(feats.nMels, 80);
  const headFrames = 256;
  const head = new Float32Array(80 * headFrames);
  for (let m = 0; m < 80; m++) for (let f = 0; f < headFrames; f++) head[m * headFrames + f] = feats.data[m * 3000 + f];
  const tol = tolerance(c, 'output.input_features_head');
  const err = assertClose('input_features_head', { shape: [1, 80, headFrames], data: head }, getF32(g, 'output.input_features_head'), tol);
  t.diagnostic(`output.input_features_head err=${err.toExponential(3)} tol=${tol}`);
  // the full golden tensor: head + the constant fill value everywhere else
  const fill = getF32(g, 'output.pad_fill_value').data[0];
  const full = new Float32Array(80 * 3000).fill(fill);
  const goldHead = getF32(g, 'output.input_features_head').data;
  for (let m = 0; m < 80; m++) for (let f = 0; f < headFrames; f++) full[m * 3000 + f] = goldHead[m * headFrames + f];
  const errFull = assertClose('input_features (full)', { shape: [80, 3000], data: feats.data }, { shape: [80, 3000], data: full }, tol);
  t.diagnostic(`full [80, 3000] input_features err=${errFull.toExponential(3)} tol=${tol}; fill ${feats.data[3000 - 1]} vs golden ${fill}`);
  const mask = getTensor(g, 'output.attention_mask').data as BigInt64Array;
  assert.deepEqual([...feats.attentionMask], [...mask].map(Number));
});

test('whisper features truncate past 30 s and mask every frame of a full window', () => {
  const x = Float32Array.from({ length: 480000 + 1234 }, (_, i) => 0.1 * Math.sin(i * 0.01));
  const f = whisperLogMel(x);
  assert.equal(f.frames, 3000);
  assert.equal(f.attentionMask.reduce((a, b) => a + b, 0), 3000);
  const g = whisperLogMel(x.subarray(0, 480000));
  assert.deepEqual(f.data, g.data);
});

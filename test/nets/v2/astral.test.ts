import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AstralConfig, astralTokens, astralWindows, buildAstralExtractor, loadAstralWeights,
} from '../../../src/core/nets/v2/astral.ts';
import { buildHubert, loadHubertWeights, normalizeHubertInput, parseHubertConfig } from '../../../src/core/nets/v2/hubert.ts';
import { parseV2WrapperConfig } from '../../../src/core/models/v2-config.ts';
import { writeSafetensors, loadStateDict } from '../../../src/core/checkpoint/index.ts';
import { ModelMismatchError } from '../../../src/core/errors.ts';
import { type Tensor, tensor } from '../../../src/core/tensor.ts';
import type { GraphBuilder } from '../../../src/core/onnx/graph.ts';
import { nodeBackend } from '../../../src/node/backend.ts';
import { assertClose, assertExactInts, getF32, getTensor, relErr, tolerance } from '../../helpers/golden.ts';
import { runGraph } from '../../helpers/onnx.ts';
import { GOLDEN_V2, ints, v2Case, v2Hub, v2HubFile, v2Tensors } from './helpers.ts';

const SIDES = ['wide', 'narrow'] as const;
const FILES = { wide: 'bsq2048/bsq2048_light.pth', narrow: 'bsq32/bsq32_light.pth' };

function models() {
  const v2 = parseV2WrapperConfig(readFileSync(join(GOLDEN_V2, 'configs/v2/vc_wrapper.yaml'), 'utf8'));
  const cfgs: Record<'wide' | 'narrow', AstralConfig> = { wide: v2.contentWide, narrow: v2.contentNarrow };
  const hubDir = join(v2Hub(), 'facebook', 'hubert-large-ll60k');
  const hcfg = parseHubertConfig(readFileSync(join(hubDir, 'config.json'), 'utf8'), v2.contentWide.sslOutputLayer);
  const hubert = loadHubertWeights(new Uint8Array(readFileSync(join(hubDir, 'model.safetensors'))), 'model.safetensors', hcfg);
  const load = (side: 'wide' | 'narrow') => loadAstralWeights(v2HubFile('Plachta', 'ASTRAL-quantization', FILES[side]), FILES[side], cfgs[side]);
  return { v2, cfgs, hcfg, hubert, weights: { wide: load('wide'), narrow: load('narrow') } };
}

test('v2 wrapper config: both extractors share the anchored encoder; 2048 / 32 codes; 18 HuBERT layers', () => {
  const { cfgs } = models();
  assert.equal(cfgs.wide.codebookSize, 2048);
  assert.equal(cfgs.narrow.codebookSize, 32);
  for (const side of SIDES) {
    assert.deepEqual({ ...cfgs[side], codebookSize: 0 }, { ...cfgs.wide, codebookSize: 0 });
    assert.equal(cfgs[side].sslOutputLayer, 18);
  }
  assert.equal(cfgs.wide.numBlocks, 3);
});

test('ASTRAL loader: wrong codebook size and a foreign checkpoint are refused by name', () => {
  const { cfgs } = models();
  assert.throws(() => loadAstralWeights(v2HubFile('Plachta', 'ASTRAL-quantization', FILES.narrow), 'bsq32', cfgs.wide),
    (e: unknown) => e instanceof ModelMismatchError && /quantizer\.project_in\.weight/.test((e as Error).message));
  const flat = loadStateDict(v2HubFile('Plachta', 'ASTRAL-quantization', FILES.narrow), 'bsq32');
  const bad: Record<string, Tensor> = {};
  for (const [k, v] of flat) bad[k] = k === 'quantizer.mask' ? tensor('int64', [5], BigInt64Array.from([1n, 2n, 4n, 8n, 16n])) : v;
  assert.throws(() => loadAstralWeights(writeSafetensors(bad), 'lsb-first', cfgs.narrow), /MSB-first/);
  assert.throws(() => loadAstralWeights(writeSafetensors({ x: tensor('float32', [1], new Float32Array(1)) }), 'x', cfgs.narrow), /not an ASTRAL/);
});

test('BSQ alone matches v2_bsq: MSB-first ids exactly, quantized within tolerance, codebook bit order', async (t) => {
  const { cfgs, weights } = models();
  const c = v2Case('v2_bsq');
  const gt = v2Tensors(c);
  for (const side of SIDES) {
    // numBlocks 0 and no projections: the encoder is the identity, the graph is the quantizer alone
    const out = await runGraph(buildAstralExtractor({ ...cfgs[side], numBlocks: 0 }, weights[side], { debugOutputs: true }),
      { hidden: getF32(gt, `input.${side}.x`) });
    assertExactInts(`${side} indices`, out.indices.data as BigInt64Array, getTensor(gt, `output.${side}.indices`));
    const err = assertClose(`${side} quantized`, out.quantized as Tensor<'float32'>, getF32(gt, `output.${side}.quantized`), tolerance(c, `output.${side}.quantized`));
    const idx = ints(out.indices);
    // the codebook buffer: row i = bits of i, MSB first, as -1 / +1
    const book = getF32(gt, `intermediate.${side}.codebook`);
    const d = book.shape[1];
    for (let i = 0; i < book.shape[0]; i++) for (let j = 0; j < d; j++) assert.equal(book.data[i * d + j], ((i >> (d - 1 - j)) & 1) ? 1 : -1);
    t.diagnostic(`${side}: ${idx.length} ids exact, quantized err ${err.toExponential(2)}`);
  }
});

async function session(g: GraphBuilder) {
  const s = await nodeBackend.createSession(g.toOnnx(), { label: g.graphName });
  return s;
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`ASTRAL extractors (shared HuBERT, ConvNeXtV2 + GRN, BSQ) match v2_astral (${precision})`, async (t) => {
    const { cfgs, hcfg, hubert, weights } = models();
    const c = v2Case('v2_astral');
    const gt = v2Tensors(c);
    const audio = getF32(gt, 'input.audio16k').data;
    const input = normalizeHubertInput(audio);
    const { hidden } = await runGraph(buildHubert(hcfg, hubert, { precision }), { input_values: tensor('float32', [1, input.length], input) });
    assert.deepEqual(hidden.shape, [1, 149, 32]);
    assert.deepEqual(ints(getTensor(gt, 'output.feature_lens')), [149]);
    for (const side of SIDES) {
      const out = await runGraph(buildAstralExtractor(cfgs[side], weights[side], { precision, debugOutputs: true }), { hidden });
      const golden = getTensor(gt, `output.${side}.indices`);
      if (precision === 'fp32') {
        assertExactInts(`${side} indices`, out.indices.data as BigInt64Array, golden);
        assertExactInts(`${side} bits`, out.bits.data as BigInt64Array, getTensor(gt, `intermediate.${side}.bits`));
        const errs = [['encoder_out', 'intermediate.%.encoder_out'], ['project_in', 'intermediate.%.project_in'], ['quantized', 'output.%.quantized']].map(([ours, theirs]) => {
          const name = theirs.replace('%', side);
          return `${ours} ${assertClose(`${side} ${ours}`, out[ours] as Tensor<'float32'>, getF32(gt, name), tolerance(c, name)).toExponential(2)}`;
        });
        t.diagnostic(`${side}: 149 ids exact; ${errs.join(', ')}`);
      } else {
        // fp16: a token flips only where a projection is within fp16 noise of 0; report and bound the rate
        const a = ints(out.indices), b = ints(golden);
        const same = a.filter((v, i) => v === b[i]).length;
        const err = relErr((out.project_in as Tensor<'float32'>).data, getF32(gt, `intermediate.${side}.project_in`).data);
        t.diagnostic(`fp16 ${side}: ${same}/${b.length} ids equal, project_in err ${err.toExponential(2)}`);
        assert.ok(err < 5e-2, `fp16 project_in err ${err}`);
        assert.ok(same >= 0.95 * b.length, `fp16 ${side}: only ${same}/${b.length} ids equal`);
      }
    }
  });
}

test('long input: 30 s windows with 5 s overlap, 250 tokens dropped, matches v2_content_chunked exactly', async (t) => {
  const { cfgs, hcfg, hubert, weights } = models();
  const c = v2Case('v2_content_chunked');
  const gt = v2Tensors(c);
  const audio = getF32(gt, 'input.audio16k').data;
  const args = c.args as { windows: { start: number; end: number; tokens_dropped: number }[] };
  assert.deepEqual(astralWindows(audio.length), args.windows.map((w) => ({ start: w.start, end: w.end, drop: w.tokens_dropped })));
  assert.deepEqual(astralWindows(480000), [{ start: 0, end: 480000, drop: 0 }]);
  const sessions = await Promise.all([buildHubert(hcfg, hubert), buildAstralExtractor(cfgs.wide, weights.wide), buildAstralExtractor(cfgs.narrow, weights.narrow)].map(session));
  try {
    const [hub, wide, narrow] = sessions.map((s) => s.run.bind(s));
    const seen: number[] = [];
    const [w, n] = await astralTokens(hub, [wide, narrow], audio, (i) => seen.push(i));
    assert.deepEqual(seen, [0, 1]);
    assertExactInts('chunked wide', w.data, getTensor(gt, 'output.wide.indices'));
    assertExactInts('chunked narrow', n.data, getTensor(gt, 'output.narrow.indices'));
    // one call over everything gives other ids (GRN and attention see the whole input)
    const unchunked = ints(getTensor(gt, 'intermediate.wide.indices_unchunked'));
    const differ = ints(w).filter((v, i) => v !== unchunked[i]).length;
    t.diagnostic(`${w.shape[1]} tokens (unchunked: ${unchunked.length}), ${differ} differ from the one-call ids`);
    assert.ok(differ > 0);
  } finally {
    for (const s of sessions) await s.release();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadStateDict, renameKeys, stripPrefix, WeightStore } from '../../src/core/checkpoint/state-dict.ts';
import { readTorchCheckpoint } from '../../src/core/checkpoint/torch.ts';
import { type Tensor, numel, toFloat32 } from '../../src/core/tensor.ts';
import { GOLDEN } from '../helpers/golden.ts';

const cache = new Map<string, Map<string, Tensor>>();
function load(rel: string): Map<string, Tensor> {
  let sd = cache.get(rel);
  if (!sd) {
    sd = loadStateDict(new Uint8Array(readFileSync(join(GOLDEN, rel))), rel);
    cache.set(rel, sd);
  }
  return sd;
}
const total = (sd: ReadonlyMap<string, Tensor>, prefix = '') => {
  let n = 0;
  for (const [k, t] of sd) if (k.startsWith(prefix)) n += numel(t.shape);
  return n;
};
const shapeOf = (sd: ReadonlyMap<string, Tensor>, key: string) => {
  const t = sd.get(key);
  assert.ok(t, `missing key '${key}'`);
  return [...t.shape];
};

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(pth|pt|bin|safetensors)$/.test(name)) out.push(relative(GOLDEN, p));
  }
  return out;
}

interface CheckpointSpec {
  checkpoint?: string; dir?: string; files?: string[];
  n_elements?: number | Record<string, number>;
  sha256?: string | Record<string, string>;
}

/**
 * Every manifest of the golden set with the folder its paths are relative to: stream/ and v2/ resolve against their
 * own folder, e2e/singing_manifest.json against the golden root (its `paths` field says so).
 */
const MANIFESTS = [
  { file: 'manifest.json', base: '' },
  { file: 'stream/manifest.json', base: 'stream' },
  { file: 'v2/manifest.json', base: 'v2' },
  { file: 'e2e/singing_manifest.json', base: '' },
] as const;
const isWeights = (f: string) => /\.(pth|pt|bin|safetensors)$/.test(f);

/** Weights files a checkpoint entry names (relative to golden/), each with the sha256 the entry records, if any. */
function weightsOf(spec: CheckpointSpec, base: string): { path: string; sha256?: string }[] {
  const at = (p: string) => posix.normalize(posix.join(base, p));
  if (spec.checkpoint) return [{ path: at(spec.checkpoint), sha256: typeof spec.sha256 === 'string' ? spec.sha256 : undefined }];
  if (!spec.dir) return [];
  const names = spec.files ?? readdirSync(join(GOLDEN, at(spec.dir))).sort();
  return names.filter(isWeights).map((f) => ({
    path: at(`${spec.dir}/${f}`),
    sha256: typeof spec.sha256 === 'object' ? spec.sha256[f] : typeof spec.sha256 === 'string' ? spec.sha256 : undefined,
  }));
}

test('every golden checkpoint loads, with the element counts and hashes of every manifest', () => {
  const files = [...walk(join(GOLDEN, 'models')), ...walk(join(GOLDEN, 'hub'))];
  assert.ok(files.length >= 19, `found only ${files.length} checkpoint files`);
  const counted = new Map<string, string>(); // file -> the manifest entry that checked its element count
  const hashed = new Set<string>();
  let entries = 0;
  for (const m of MANIFESTS) {
    assert.ok(existsSync(join(GOLDEN, m.file)), `${m.file} exists`);
    const checkpoints = (JSON.parse(readFileSync(join(GOLDEN, m.file), 'utf8')) as { checkpoints: Record<string, CheckpointSpec> }).checkpoints;
    for (const [name, spec] of Object.entries(checkpoints)) {
      const label = `${m.file} checkpoints.${name}`;
      const weights = weightsOf(spec, m.base);
      if (spec.n_elements !== undefined) assert.equal(weights.length, 1, `${label}: one weights file`);
      for (const w of weights) {
        assert.ok(existsSync(join(GOLDEN, w.path)), `${label}: ${w.path} exists`);
        entries++;
        const sd = load(w.path);
        assert.ok(sd.size > 0, `${label}: ${w.path} loads`);
        if (w.sha256) {
          assert.equal(createHash('sha256').update(readFileSync(join(GOLDEN, w.path))).digest('hex'), w.sha256, `${label}: sha256 of ${w.path}`);
          hashed.add(w.path);
        }
        if (typeof spec.n_elements === 'number') {
          assert.equal(total(sd), spec.n_elements, `${label}: element count of ${w.path}`);
          counted.set(w.path, label);
        } else if (spec.n_elements) {
          for (const [part, n] of Object.entries(spec.n_elements)) assert.equal(total(sd, `net.${part}.`), n, `${label}: ${part} element count`);
          assert.equal(total(sd), Object.values(spec.n_elements).reduce((a, b) => a + b, 0), `${label}: nothing outside net.*`);
          counted.set(w.path, label);
        }
      }
    }
  }
  assert.ok(entries >= 27 && hashed.size >= 7, `${entries} manifest entries, ${hashed.size} hashed files`);
  for (const f of files) assert.ok(load(f).size > 0, `${f} loads`);
  // no checkpoint file in the mirror is left without an element-count check, and no manifest names a file outside it
  assert.deepEqual(files.filter((f) => !counted.has(f)), []);
  assert.deepEqual([...counted.keys()].filter((f) => !files.includes(f)), []);
});

test('dsp_soxr/index.json: every case has its input and output in cases.safetensors, at the indexed lengths', () => {
  const index = JSON.parse(readFileSync(join(GOLDEN, 'dsp_soxr/index.json'), 'utf8')) as {
    cases: { key: string; in_rate: number; out_rate: number; in_samples: number; out_samples: number }[];
  };
  const tensors = loadStateDict(new Uint8Array(readFileSync(join(GOLDEN, 'dsp_soxr/cases.safetensors'))), 'dsp_soxr/cases.safetensors');
  assert.ok(index.cases.length >= 30);
  const named = new Set<string>();
  for (const c of index.cases) {
    assert.deepEqual(shapeOf(tensors, `${c.key}.input`), [1, c.in_samples], c.key);
    assert.deepEqual(shapeOf(tensors, `${c.key}.output`), [1, c.out_samples], c.key);
    // the resampled length is in * out_rate / in_rate, within one sample
    assert.ok(Math.abs(c.out_samples - c.in_samples * c.out_rate / c.in_rate) <= 1, `${c.key}: ${c.in_samples} -> ${c.out_samples}`);
    named.add(`${c.key}.input`).add(`${c.key}.output`);
  }
  assert.deepEqual([...tensors.keys()].filter((k) => !named.has(k)), [], 'no tensor outside the index');
});

test('DiT checkpoints: {net: {cfm, length_regulator}}, shapes follow the YAML, constant buffers exact', () => {
  for (const [dir, cfgPath] of [['models/dit_W/dit_W.pth', 'models/dit_W/config_dit_W.yml'], ['models/dit_M/dit_M.pth', 'models/dit_M/config_dit_M.yml'],
    ['models/dit_F0/dit_F0.pth', 'models/dit_F0/config_dit_F0.yml'],
    ['hub/Plachta/Seed-VC/DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth', 'hub/Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml']] as const) {
    const raw = readTorchCheckpoint(new Uint8Array(readFileSync(join(GOLDEN, dir))), dir);
    assert.ok(raw instanceof Map && raw.get('net') instanceof Map, `${dir}: {'net': {...}}`);
    assert.deepEqual([...(raw.get('net') as Map<string, unknown>).keys()], ['cfm', 'length_regulator']);
    const cfg = parseYaml(readFileSync(join(GOLDEN, cfgPath), 'utf8'));
    const hidden = cfg.model_params.DiT.hidden_dim as number;
    const depth = cfg.model_params.DiT.depth as number;
    const cfm = stripPrefix(load(dir), 'net.cfm.');
    assert.deepEqual(shapeOf(cfm, 'estimator.transformer.layers.0.attention.wqkv.weight'), [3 * hidden, hidden], dir);
    assert.deepEqual(shapeOf(cfm, `estimator.transformer.layers.${depth - 1}.attention.wo.weight`), [hidden, hidden], dir);
    assert.deepEqual(shapeOf(cfm, 'estimator.transformer.layers.0.attention_norm.project_layer.weight'), [2 * hidden, hidden], dir);
    assert.deepEqual(shapeOf(cfm, 'estimator.transformer.layers.0.skip_in_linear.weight'), [hidden, 2 * hidden], dir);
    const pos = cfm.get('estimator.input_pos')!;
    assert.equal(pos.dtype, 'int64');
    assert.deepEqual([...pos.shape], [16384]);
    const p = pos.data as BigInt64Array;
    for (let i = 0; i < p.length; i++) if (p[i] !== BigInt(i)) assert.fail(`${dir}: input_pos[${i}] = ${p[i]}`);
    const freqs = cfm.get('estimator.t_embedder.freqs')!.data as Float32Array;
    assert.equal(freqs.length, 128);
    for (let i = 0; i < 128; i++) assert.ok(Math.abs(freqs[i] - Math.exp(-Math.log(1e4) * i / 128)) <= 1e-6 * Math.max(1, freqs[i]), `${dir}: freqs[${i}]`);
    const lr = stripPrefix(load(dir), 'net.length_regulator.');
    const c = cfg.model_params.length_regulator.channels as number;
    assert.deepEqual(shapeOf(lr, 'content_in_proj.weight'), [c, cfg.model_params.length_regulator.in_channels], dir);
    assert.deepEqual(shapeOf(lr, 'model.0.weight'), [c, c, 3], dir);
    assert.deepEqual(shapeOf(lr, 'model.1.weight'), [c], dir);
  }
  const w = stripPrefix(load('models/dit_W/dit_W.pth'), 'net.cfm.');
  assert.deepEqual(shapeOf(w, 'estimator.wavenet.in_layers.0.conv.conv.weight_g'), [64, 1, 1]);
  assert.deepEqual(shapeOf(w, 'estimator.wavenet.in_layers.0.conv.conv.weight_v'), [64, 32, 5]);
  assert.ok(w.has('estimator.t_embedder2.freqs'));
  assert.ok(stripPrefix(load('models/dit_F0/dit_F0.pth'), 'net.length_regulator.').has('f0_embedding.weight'));
});

test('CAMPPlus: 937 keys, xvector.dense.* spelling, BatchNorm statistics, rename to dense.*', () => {
  const rel = 'hub/funasr/campplus/campplus_cn_common.bin';
  const bytes = new Uint8Array(readFileSync(join(GOLDEN, rel)));
  const t0 = performance.now();
  const sd = loadStateDict(bytes, rel);
  const ms = performance.now() - t0;
  assert.equal(sd.size, 937);
  assert.equal(total(sd), 6930842);
  const dense = [...sd.keys()].filter((k) => k.startsWith('xvector.dense.'));
  assert.ok(dense.length >= 4, 'xvector.dense.* present');
  assert.ok(![...sd.keys()].some((k) => k.startsWith('dense.')));
  const nbt = sd.get('head.bn1.num_batches_tracked')!;
  assert.equal(nbt.dtype, 'int64');
  assert.deepEqual([...nbt.shape], []);
  assert.ok(sd.has('head.bn1.running_mean') && sd.has('head.bn1.running_var'));
  const store = new WeightStore(renameKeys(sd, { 'xvector.dense.': 'dense.', 'xvector.stats.': 'stats.' }), rel);
  assert.deepEqual([...store.get('dense.linear.weight').shape], [...sd.get('xvector.dense.linear.weight')!.shape]);
  assert.ok(!store.has('xvector.dense.linear.weight'));
  // zero-copy: loading 28 MB should not copy the tensors
  assert.equal(sd.get('xvector.dense.linear.weight')!.data.buffer, bytes.buffer);
  console.log(`# CAMPPlus (${(bytes.length / 1e6).toFixed(1)} MB) loaded in ${ms.toFixed(1)} ms`);
});

test('BigVGAN: {generator: ...} with weight_g/weight_v pairs, fixed filters, conv_post without bias', () => {
  for (const rel of ['hub/nvidia/bigvgan_v2_22khz_80band_256x/bigvgan_generator.pt', 'hub/nvidia/bigvgan_v2_44khz_128band_512x/bigvgan_generator.pt']) {
    const raw = readTorchCheckpoint(new Uint8Array(readFileSync(join(GOLDEN, rel))), rel) as Map<string, unknown>;
    assert.deepEqual([...raw.keys()], ['generator']);
    const g = stripPrefix(load(rel), 'generator.');
    const pairs = [...g.keys()].filter((k) => k.endsWith('.weight_g'));
    assert.ok(pairs.length > 10);
    for (const k of pairs) assert.ok(g.has(k.replace(/_g$/, '_v')), `${k} has its _v`);
    assert.ok(!g.has('conv_post.bias') && !g.has('conv_pre.weight'));
    assert.deepEqual(shapeOf(g, 'activation_post.upsample.filter'), [1, 1, 12]);
    assert.ok(g.has('resblocks.0.activations.0.act.alpha') && g.has('activation_post.act.beta'));
    const store = new WeightStore(g, rel);
    assert.deepEqual([...store.get('conv_post.weight').shape], shapeOf(g, 'conv_post.weight_v'));
    assert.deepEqual([...store.get('ups.0.0.weight').shape], shapeOf(g, 'ups.0.0.weight_v'));
  }
});

test('RMVPE plain state dict and HiFT state dict', () => {
  const r = load('hub/lj1995/VoiceConversionWebUI/rmvpe.pt');
  assert.deepEqual(shapeOf(r, 'fc.0.gru.weight_ih_l0'), [768, 384]);
  assert.deepEqual(shapeOf(r, 'fc.0.gru.weight_hh_l0_reverse'), [768, 256]);
  assert.deepEqual(shapeOf(r, 'fc.1.weight'), [360, 512]);
  assert.deepEqual(shapeOf(r, 'unet.encoder.layers.0.conv.0.conv.0.weight')[0], 2);
  assert.equal(new Set([...r.keys()].filter((k) => k.startsWith('unet.encoder.layers.')).map((k) => k.split('.')[3])).size, 5);
  assert.equal(shapeOf(r, 'cnn.weight')[0], 3);
  assert.equal(r.get('unet.encoder.bn.num_batches_tracked')!.dtype, 'int64');
  const h = load('models/hift_tiny/hift_random.pt');
  assert.ok(h.has('f0_predictor.classifier.weight') && h.has('m_source.l_linear.weight'));
  assert.deepEqual(shapeOf(h, 'ups.0.weight_v'), [16, 8, 16]);
  assert.deepEqual(shapeOf(h, 'ups.0.weight_g'), [16, 1, 1]);
});

test('Hugging Face safetensors through loadStateDict: Whisper encoder, XLS-R', () => {
  const wsp = load('hub/openai/whisper-small/model.safetensors');
  assert.deepEqual(shapeOf(wsp, 'model.encoder.conv1.weight'), [64, 80, 3]);
  assert.deepEqual(shapeOf(wsp, 'model.encoder.embed_positions.weight'), [1500, 64]);
  assert.ok(!wsp.has('model.encoder.layers.0.self_attn.k_proj.bias'));
  const x = stripPrefix(load('hub/facebook/wav2vec2-xls-r-300m/model.safetensors'), 'wav2vec2.');
  assert.deepEqual(shapeOf(x, 'encoder.pos_conv_embed.conv.weight_g'), [1, 1, 128]);
  assert.deepEqual(shapeOf(x, 'encoder.pos_conv_embed.conv.weight_v'), [32, 2, 128]);
  assert.ok(!x.has('quantizer.codevectors'), 'pre-training heads sit outside wav2vec2.*');
});

/** Naive reference: the norm of v over every axis but `dim`, by explicit multi-index enumeration in float64. */
function naiveFold(g: Tensor, v: Tensor, dim: number): Float64Array {
  const gv = toFloat32(g).data;
  const vv = toFloat32(v).data;
  const shape = v.shape;
  const sums = new Float64Array(shape[dim]);
  const idxOf = (flat: number) => {
    const idx: number[] = [];
    for (let a = shape.length - 1; a >= 0; a--) { idx[a] = flat % shape[a]; flat = Math.floor(flat / shape[a]); }
    return idx;
  };
  for (let f = 0; f < vv.length; f++) sums[idxOf(f)[dim]] += vv[f] ** 2;
  const out = new Float64Array(vv.length);
  for (let f = 0; f < vv.length; f++) { const c = idxOf(f)[dim]; out[f] = gv[c] * vv[f] / Math.sqrt(sums[c]); }
  return out;
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0; let s = 0;
  for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s += b[i] * b[i]; }
  return m / Math.sqrt(s / b.length);
}

test('weight-norm folding matches a naive computation: Linear, ConvTranspose (per input channel), dim 2', () => {
  const cases = [
    { label: 'Linear (DiT final_layer.linear)', file: 'models/dit_W/dit_W.pth', base: 'net.cfm.estimator.final_layer.linear.', dim: 0 },
    { label: 'Conv1d (DiT wavenet in_layers)', file: 'models/dit_W/dit_W.pth', base: 'net.cfm.estimator.wavenet.in_layers.0.conv.conv.', dim: 0 },
    { label: 'ConvTranspose1d (BigVGAN ups.0.0)', file: 'hub/nvidia/bigvgan_v2_22khz_80band_256x/bigvgan_generator.pt', base: 'generator.ups.0.0.', dim: 0 },
    { label: 'ConvTranspose1d (HiFT ups.1)', file: 'models/hift_tiny/hift_random.pt', base: 'ups.1.', dim: 0 },
    { label: 'dim 2 (XLS-R pos_conv_embed)', file: 'hub/facebook/wav2vec2-xls-r-300m/model.safetensors', base: 'wav2vec2.encoder.pos_conv_embed.conv.', dim: 2 },
  ];
  for (const c of cases) {
    const sd = load(c.file);
    const g = sd.get(`${c.base}weight_g`)!;
    const v = sd.get(`${c.base}weight_v`)!;
    const store = new WeightStore(sd, c.file);
    const w = store.get(`${c.base}weight`, v.shape); // dim inferred from g's shape
    const ref = naiveFold(g, v, c.dim);
    const err = maxRelErr(w.data, ref);
    assert.ok(err < 1e-6, `${c.label}: err ${err}`);
    // explicit dim gives the same; the un-normalised v (std 0.5) does not
    assert.deepEqual([...store.get(`${c.base}weight`, undefined, { weightNormDim: c.dim }).data], [...w.data]);
    assert.ok(maxRelErr(toFloat32(v).data, ref) > 1e-2, `${c.label}: v alone must differ`);
    if (c.label.startsWith('ConvTranspose')) {
      // the wrong convention (norm per OUTPUT channel, axis 1) is far off
      const wrong = naiveFold({ dtype: 'float32', shape: [1, v.shape[1], 1], data: new Float32Array(v.shape[1]).fill(1) }, v, 1);
      assert.ok(maxRelErr(wrong, ref) > 1e-2);
    }
    // the parametrizations spelling folds identically
    const renamed = renameKeys(new Map([[`${c.base}weight_g`, g], [`${c.base}weight_v`, v]]), [
      [`${c.base}weight_g`, `${c.base}parametrizations.weight.original0`], [`${c.base}weight_v`, `${c.base}parametrizations.weight.original1`],
    ]);
    assert.deepEqual([...new WeightStore(renamed).get(`${c.base}weight`).data], [...w.data], `${c.label}: parametrizations spelling`);
  }
});

/**
 * Config bounds: every YAML/JSON value that sizes a network is type- and range-checked before anything is
 * allocated. The hostile values are the ones that once cost gigabytes or crashed V8; the official and
 * parity-set configs must all still parse.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '../../src/core/errors.ts';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { parseBigvganConfig } from '../../src/core/nets/bigvgan.ts';
import { parseHiftConfig } from '../../src/core/nets/hift.ts';
import { parseWav2vec2Config } from '../../src/core/nets/wav2vec2.ts';
import { parseWhisperConfig } from '../../src/core/nets/whisper-encoder.ts';
import { officialV2Wrapper, parseV2WrapperConfig } from '../../src/core/models/v2-config.ts';
import { parseHubertConfig } from '../../src/core/nets/v2/hubert.ts';
import { GOLDEN, HUB } from '../helpers/golden.ts';

const SEED = join(HUB, 'Plachta', 'Seed-VC');
const OFFLINE_YML = 'config_dit_mel_seed_uvit_whisper_small_wavenet.yml';
const yml = (f: string) => readFileSync(join(SEED, f), 'utf8');
const json = (p: string) => JSON.parse(readFileSync(join(HUB, p), 'utf8')) as Record<string, unknown>;
/** The YAML with one `key: value` line (first match, at any depth) replaced. */
const withYaml = (text: string, key: string, value: string) => {
  const re = new RegExp(`^(\\s*${key}:).*$`, 'm');
  assert.match(text, re, `${key} is in the config`);
  return text.replace(re, `$1 ${value}`);
};
const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => {
  assert.ok(e instanceof InvalidInputError, `InvalidInputError, got ${(e as Error).name}: ${(e as Error).message}`);
  assert.match(e.message, re);
  return true;
});

test('every official and parity-set config parses within the bounds', () => {
  for (const f of readdirSync(SEED).filter((n) => n.endsWith('.yml'))) parseSeedVcConfig(yml(f), f);
  for (const d of ['dit_W', 'dit_M', 'dit_F0']) parseSeedVcConfig(readFileSync(join(GOLDEN, 'models', d, `config_${d}.yml`), 'utf8'), d);
  parseWhisperConfig(json('openai/whisper-small/config.json'));
  parseWav2vec2Config(json('facebook/wav2vec2-xls-r-300m/config.json'), 12);
  for (const v of ['bigvgan_v2_22khz_80band_256x', 'bigvgan_v2_44khz_128band_512x']) parseBigvganConfig(json(`nvidia/${v}/config.json`));
  parseHiftConfig(readFileSync(join(GOLDEN, 'models', 'hift_tiny', 'hifigan_tiny.yml'), 'utf8'));
  parseHiftConfig('hift: {}\nf0_predictor: {}');
});

test('hostile Seed-VC YAML values are refused naming the file, the key and the range', () => {
  const base = yml(OFFLINE_YML);
  const cases: [string, string, RegExp][] = [
    ['depth', '1000000', /^x\.yml: model_params\.DiT\.depth is 1000000; accepted: an integer in 1\.\.256$/],
    ['n_mels', '1000000000', /^x\.yml: preprocess_params\.spect_params\.n_mels is 1000000000; accepted: an integer in 1\.\.512$/],
    ['sr', '1000000000', /^x\.yml: preprocess_params\.sr is 1000000000; accepted: an integer in 8000\.\.96000$/],
    ['num_heads', '0', /^x\.yml: model_params\.DiT\.num_heads is 0; accepted: an integer in 1\.\.256$/],
    ['num_heads', '7', /^x\.yml: model_params\.DiT\.hidden_dim is 32; accepted: a multiple of num_heads \(7\)$/],
    ['hidden_dim', '1e9', /DiT\.hidden_dim is 1000000000; accepted: an integer in 1\.\.8192/],
    ['hidden_dim', '"512"', /DiT\.hidden_dim is "512"; accepted: an integer/],
    ['n_fft', '1024.5', /spect_params\.n_fft is 1024\.5; accepted: an integer in 16\.\.8192/],
    ['hop_length', '4096', /^x\.yml: preprocess_params\.spect_params\.hop_length is 4096; accepted: an integer in 1\.\.1024 \(n_fft\)$|hop_length is 4096; accepted: an integer in 1\.\.1024$/],
    ['num_layers', '100000', /model_params\.wavenet\.num_layers is 100000; accepted: an integer in 1\.\.256/],
    ['n_f0_bins', '-1', /length_regulator\.n_f0_bins is -1; accepted: an integer in 1\.\.4096/],
    ['dim', '.inf', /^x\.yml: model_params\.style_encoder\.dim is Infinity; accepted: an integer in 1\.\.8192$/],
  ];
  for (const [key, value, re] of cases) refused(() => parseSeedVcConfig(withYaml(base, key, value), 'x.yml'), re);
  const ratios = base.replace(/(sampling_ratios:)\n(\s+- \d+\n)+/, `$1 [${new Array(17).fill(1).join(', ')}]\n`);
  assert.notEqual(ratios, base);
  refused(() => parseSeedVcConfig(ratios, 'x.yml'), /^x\.yml: model_params\.length_regulator\.sampling_ratios is \[1,1,.*; accepted: a list of 0\.\.16 integers in 1\.\.16$/);
  // WaveNet dilations grow as dilation_rate ** layer
  refused(() => parseSeedVcConfig(withYaml(withYaml(base, 'num_layers', '20'), 'dilation_rate', '2'), 'x.yml'),
    /^x\.yml: model_params\.wavenet\.dilation_rate is 2; accepted: dilation_rate \*\* \(num_layers - 1\) <= 4096 \(num_layers is 20\)$/);
  // a numeric vocoder name once reached the hub code as "repo.split is not a function"
  const numericVocoder = base.replace(/(vocoder:\n\s+type: bigvgan\n\s+name:).*/, '$1 123');
  assert.notEqual(numericVocoder, base);
  refused(() => parseSeedVcConfig(numericVocoder, 'x.yml'), /^x\.yml: model_params\.vocoder\.name is 123; accepted: a string of 1\.\.256 characters$/);
  refused(() => parseSeedVcConfig('[1, 2]', 'x.yml'), /^x\.yml: the document is \[1,2\]; accepted: a mapping$/);
  refused(() => parseSeedVcConfig('model_params: {}', 'x.yml'), /^x\.yml: preprocess_params is missing; accepted: a mapping$/);
});

test('hostile network configs (Whisper, wav2vec2, BigVGAN, HiFT) are refused naming the file and the key', () => {
  const w = json('openai/whisper-small/config.json');
  refused(() => parseWhisperConfig({ ...w, encoder_layers: 1e7 }, 'w.json'), /^w\.json: encoder_layers is 10000000; accepted: an integer in 1\.\.128$/);
  refused(() => parseWhisperConfig({ ...w, num_mel_bins: 1e9 }, 'w.json'), /num_mel_bins is 1000000000; accepted: an integer in 1\.\.512/);
  refused(() => parseWhisperConfig({ ...w, encoder_attention_heads: 0 }, 'w.json'), /encoder_attention_heads is 0; accepted: an integer in 1\.\.256/);
  refused(() => parseWhisperConfig({ ...w, max_source_positions: 1e8 }, 'w.json'), /max_source_positions is 100000000/);
  refused(() => parseWhisperConfig('{"d_model": ', 'w.json'), /^w\.json: not valid JSON/);
  const x = json('facebook/wav2vec2-xls-r-300m/config.json');
  refused(() => parseWav2vec2Config({ ...x, num_hidden_layers: 1e7 }, undefined, 'x.json'), /^x\.json: num_hidden_layers is 10000000; accepted: an integer in 1\.\.128$/);
  refused(() => parseWav2vec2Config({ ...x, hidden_size: 1e9 }, 12, 'x.json'), /hidden_size is 1000000000/);
  refused(() => parseWav2vec2Config({ ...x, conv_dim: new Array(100).fill(512) }, 12, 'x.json'), /conv_dim is \[512,.*; accepted: a list of 1\.\.16 integers in 1\.\.8192/);
  refused(() => parseWav2vec2Config({ ...x, num_conv_pos_embeddings: 1e6 }, 12, 'x.json'), /num_conv_pos_embeddings is 1000000/);
  const b = json('nvidia/bigvgan_v2_22khz_80band_256x/config.json');
  refused(() => parseBigvganConfig({ ...b, num_mels: 1e9 }, 'b.json'), /^b\.json: 'num_mels' is 1000000000, expected an integer in 1\.\.512$/);
  refused(() => parseBigvganConfig({ ...b, upsample_initial_channel: 1e9 }, 'b.json'), /upsample_initial_channel' is 1000000000, expected an integer in 1\.\.8192/);
  refused(() => parseBigvganConfig({ ...b, upsample_rates: [64, 64, 64], upsample_kernel_sizes: [64, 64, 64] }, 'b.json'), /upsample_rates' is \[64,64,64\], expected rates whose product \(the hop size\) is at most 8192/);
  refused(() => parseBigvganConfig({ ...b, resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 1e6]] }, 'b.json'), /resblock_dilation_sizes/);
  refused(() => parseHiftConfig('hift:\n  base_channels: 1000000000\nf0_predictor: {}', 'h.yml'), /^h\.yml: hift\.base_channels is 1000000000; accepted: an integer in 1\.\.8192$/);
  refused(() => parseHiftConfig('hift:\n  istft_params: {n_fft: 1e9, hop_len: 4}\nf0_predictor: {}', 'h.yml'), /^h\.yml: hift\.istft_params\.n_fft is 1000000000; accepted: an integer in 2\.\.4096$/);
  refused(() => parseHiftConfig('hift:\n  resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 99999]]\nf0_predictor: {}', 'h.yml'), /hift\.resblock_dilation_sizes\[2\] is \[1,3,99999\]/);
});

test('hostile Seed-VC v2 values (wrapper YAML, ASTRAL extractors, HuBERT) are refused naming the key and the range', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a YAML document edited at any depth
  const doc = () => structuredClone(officialV2Wrapper()) as Record<string, any>;
  parseV2WrapperConfig(JSON.stringify(doc()), 'v.yaml');
  const hostile: [(d: ReturnType<typeof doc>) => void, RegExp][] = [
    [(d) => { d.cfm.estimator.depth = 1e6; }, /^v\.yaml: cfm\.estimator\.depth: expected an integer in 0\.\.256, got 1000000$/],
    [(d) => { d.mel_fn.num_mels = 1e9; }, /^v\.yaml: mel_fn\.num_mels: expected an integer in 0\.\.512, got 1000000000$/],
    [(d) => { d.sr = 1e9; }, /^v\.yaml\.sr: expected an integer in 0\.\.96000, got 1000000000$/],
    [(d) => { d.cfm_length_regulator.sampling_ratios = new Array(40).fill(1); }, /cfm_length_regulator\.sampling_ratios: expected a list of at most 16 integers in 1\.\.16/],
    [(d) => { d.content_extractor_narrow.encoder.num_blocks = 1e6; }, /content_extractor_narrow\.encoder\.num_blocks: expected an integer in 1\.\.256, got 1000000/],
  ];
  for (const [edit, re] of hostile) {
    const d = doc();
    edit(d);
    refused(() => parseV2WrapperConfig(JSON.stringify(d), 'v.yaml'), re);
  }
  const h = json('facebook/hubert-large-ll60k/config.json');
  parseHubertConfig(h);
  refused(() => parseHubertConfig({ ...h, num_hidden_layers: 1e7 }), /^hubert config\.json: num_hidden_layers is 10000000; accepted: an integer in 1\.\.128$/);
  refused(() => parseHubertConfig('<html>'), /^hubert config\.json: not valid JSON/);
});

let tmp: string;
before(() => { tmp = mkdtempSync(join(tmpdir(), 'seed-vc-config-bounds-')); });
after(() => { rmSync(tmp, { recursive: true, force: true }); });

/** A hub mirror of the parity set's files (symlinks), with some files replaced. */
function mirror(name: string, replace: Record<string, string>): string {
  const root = join(tmp, name);
  for (const rel of readdirSync(HUB, { recursive: true }).map(String)) {
    const src = join(HUB, rel);
    try { readdirSync(src); mkdirSync(join(root, rel), { recursive: true }); continue; } catch { /* a file */ }
    mkdirSync(join(root, rel, '..'), { recursive: true });
    if (replace[rel] !== undefined) writeFileSync(join(root, rel), replace[rel]);
    else symlinkSync(src, join(root, rel));
  }
  return root;
}

test('through the loader: hostile configs end in typed errors naming the file, in bounded time and memory (child process)', async () => {
  const hostileYaml = join(tmp, 'hostile.yml');
  writeFileSync(hostileYaml, withYaml(yml(OFFLINE_YML), 'depth', '1000000'));
  const whisper = mirror('m1', { 'openai/whisper-small/config.json': JSON.stringify({ ...json('openai/whisper-small/config.json'), encoder_layers: 1e7 }) });
  const bigvgan = mirror('m2', { 'nvidia/bigvgan_v2_22khz_80band_256x/config.json': JSON.stringify({ ...json('nvidia/bigvgan_v2_22khz_80band_256x/config.json'), num_mels: 1e9 }) });
  const xlsr = mirror('m3', { 'facebook/wav2vec2-xls-r-300m/config.json': JSON.stringify({ ...json('facebook/wav2vec2-xls-r-300m/config.json'), hidden_size: 1e9 }) });
  const checkpoint = join(SEED, 'DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth');
  const cases = [
    { checkpoint, config: hostileYaml, mirror: HUB, cacheDir: join(tmp, 'c') },
    { mirror: whisper, cacheDir: join(tmp, 'c') },
    { mirror: bigvgan, cacheDir: join(tmp, 'c') },
    { model: 'realtime', mirror: xlsr, cacheDir: join(tmp, 'c') },
  ];
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'config-bounds-child.ts'), JSON.stringify(cases)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill(), 120_000);
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as { results: { name: string; message: string; ms: number }[]; rssBeforeBytes: number; maxRssBytes: number };
  const expected = [
    /hostile\.yml: model_params\.DiT\.depth is 1000000; accepted: an integer in 1\.\.256$/,
    /openai\/whisper-small\/config\.json: encoder_layers is 10000000; accepted: an integer in 1\.\.128$/,
    /nvidia\/bigvgan_v2_22khz_80band_256x\/config\.json: 'num_mels' is 1000000000, expected an integer in 1\.\.512$/,
    /facebook\/wav2vec2-xls-r-300m\/config\.json: hidden_size is 1000000000; accepted: an integer in 1\.\.8192$/,
  ];
  out.results.forEach((r, i) => {
    assert.equal(r.name, 'InvalidInputError', `case ${i}: ${r.message}`);
    assert.match(r.message, expected[i]);
    assert.ok(r.ms < 60_000, `case ${i} took ${r.ms} ms`);
  });
  const growth = out.maxRssBytes - out.rssBeforeBytes;
  assert.ok(growth < 512 * 2 ** 20, `peak RSS grew ${(growth / 2 ** 20).toFixed(0)} MiB`);
  assert.deepEqual(readdirSync(join(tmp)).sort(), ['hostile.yml', 'm1', 'm2', 'm3'], 'no cache written: nothing was built');
});

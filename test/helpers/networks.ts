/** Every network builder on its tiny golden checkpoint (the parity set's official-format files). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSeedVcConfig } from '../../src/core/models/config.ts';
import { loadDitCheckpoint } from '../../src/core/models/dit-checkpoint.ts';
import { buildBigvgan, loadBigvganWeights, parseBigvganConfig } from '../../src/core/nets/bigvgan.ts';
import { buildCampplus, campplusConfig, loadCampplusWeights } from '../../src/core/nets/campplus.ts';
import { buildDitEstimator } from '../../src/core/nets/dit.ts';
import { buildHift, loadHiftWeights, parseHiftConfig } from '../../src/core/nets/hift.ts';
import { buildLengthRegulator } from '../../src/core/nets/length-regulator.ts';
import { buildRmvpe, loadRmvpeWeights, rmvpeConfigFromWeights } from '../../src/core/nets/rmvpe.ts';
import { buildWav2vec2, loadWav2vec2Weights, parseWav2vec2Config } from '../../src/core/nets/wav2vec2.ts';
import { buildWhisperEncoder, loadWhisperEncoderWeights, parseWhisperConfig } from '../../src/core/nets/whisper-encoder.ts';
import type { GraphBuilder } from '../../src/core/onnx/graph.ts';
import type { Precision } from '../../src/core/onnx/nn.ts';
import { GOLDEN, HUB } from './golden.ts';

const bytes = (p: string) => new Uint8Array(readFileSync(p));
const text = (p: string) => readFileSync(p, 'utf8');

export const NETWORKS: Record<string, (p: Precision) => GraphBuilder> = {
  dit_wavenet: (precision) => {
    const cfg = parseSeedVcConfig(text(join(GOLDEN, 'models/dit_W/config_dit_W.yml')));
    return buildDitEstimator(cfg, loadDitCheckpoint(bytes(join(GOLDEN, 'models/dit_W/dit_W.pth')), 'dit_W.pth', cfg).estimator, { precision });
  },
  dit_mlp_tokens: (precision) => {
    const cfg = parseSeedVcConfig(text(join(GOLDEN, 'models/dit_M/config_dit_M.yml')));
    return buildDitEstimator(cfg, loadDitCheckpoint(bytes(join(GOLDEN, 'models/dit_M/dit_M.pth')), 'dit_M.pth', cfg).estimator, { precision });
  },
  length_regulator_f0: (precision) => {
    const cfg = parseSeedVcConfig(text(join(GOLDEN, 'models/dit_F0/config_dit_F0.yml')));
    return buildLengthRegulator(cfg.lengthRegulator, loadDitCheckpoint(bytes(join(GOLDEN, 'models/dit_F0/dit_F0.pth')), 'dit_F0.pth', cfg).lengthRegulator, { precision });
  },
  campplus: (precision) => buildCampplus(campplusConfig, loadCampplusWeights(bytes(join(HUB, 'funasr/campplus/campplus_cn_common.bin')), 'campplus'), { precision }),
  bigvgan: (precision) => {
    const dir = join(HUB, 'nvidia/bigvgan_v2_22khz_80band_256x');
    const cfg = parseBigvganConfig(text(join(dir, 'config.json')));
    return buildBigvgan(cfg, loadBigvganWeights(bytes(join(dir, 'bigvgan_generator.pt')), 'bigvgan', cfg), { precision });
  },
  whisper: (precision) => {
    const dir = join(HUB, 'openai/whisper-small');
    const cfg = parseWhisperConfig(text(join(dir, 'config.json')));
    return buildWhisperEncoder(cfg, loadWhisperEncoderWeights(bytes(join(dir, 'model.safetensors')), 'whisper', cfg), { precision });
  },
  xlsr: (precision) => {
    const dir = join(HUB, 'facebook/wav2vec2-xls-r-300m');
    const cfg = parseWav2vec2Config(text(join(dir, 'config.json')), 12);
    return buildWav2vec2(cfg, loadWav2vec2Weights(bytes(join(dir, 'model.safetensors')), 'xlsr', cfg), { precision });
  },
  hift: (precision) => {
    const cfg = parseHiftConfig(text(join(GOLDEN, 'models/hift_tiny/hifigan_tiny.yml')));
    return buildHift(cfg, loadHiftWeights(bytes(join(GOLDEN, 'models/hift_tiny/hift_random.pt')), 'hift', cfg), { precision });
  },
  rmvpe: (precision) => {
    const w = loadRmvpeWeights(bytes(join(HUB, 'lj1995/VoiceConversionWebUI/rmvpe.pt')), 'rmvpe');
    return buildRmvpe(rmvpeConfigFromWeights(w), w, { precision });
  },
};


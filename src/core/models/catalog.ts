/**
 * The official Seed-VC model sets and the hub files each network comes from — the same names
 * inference.py / real-time-gui.py resolve with hf_hub_download.
 */

export interface HubFile { repo: string; file: string }

export interface ModelSet {
  id: ModelSetId;
  title: string;
  /** The DiT checkpoint and the YAML config next to it. */
  checkpoint: HubFile;
  config: HubFile;
}

export type ModelSetId = 'offline' | 'singing' | 'realtime';

const SEED_VC = 'Plachta/Seed-VC';

export const MODEL_SETS: Readonly<Record<ModelSetId, ModelSet>> = {
  offline: {
    id: 'offline',
    title: 'speech, 22.05 kHz, Whisper-small content + BigVGAN (inference.py default)',
    checkpoint: { repo: SEED_VC, file: 'DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth' },
    config: { repo: SEED_VC, file: 'config_dit_mel_seed_uvit_whisper_small_wavenet.yml' },
  },
  singing: {
    id: 'singing',
    title: 'singing, 44.1 kHz, F0-conditioned (RMVPE) + BigVGAN 44 kHz (inference.py --f0-condition true)',
    checkpoint: { repo: SEED_VC, file: 'DiT_seed_v2_uvit_whisper_base_f0_44k_bigvgan_pruned_ft_ema_v2.pth' },
    config: { repo: SEED_VC, file: 'config_dit_mel_seed_uvit_whisper_base_f0_44k.yml' },
  },
  realtime: {
    id: 'realtime',
    title: 'real-time, 22.05 kHz, XLS-R content + HiFT vocoder (real-time-gui.py)',
    checkpoint: { repo: SEED_VC, file: 'DiT_uvit_tat_xlsr_ema.pth' },
    config: { repo: SEED_VC, file: 'config_dit_mel_seed_uvit_xlsr_tiny.yml' },
  },
};

export const CAMPPLUS: HubFile = { repo: 'funasr/campplus', file: 'campplus_cn_common.bin' };
export const RMVPE: HubFile = { repo: 'lj1995/VoiceConversionWebUI', file: 'rmvpe.pt' };
export const HIFT: HubFile = { repo: 'FunAudioLLM/CosyVoice-300M', file: 'hift.pt' };

/** BigVGAN repos hold config.json and bigvgan_generator.pt. */
export function bigvganFiles(repo: string): { config: HubFile; weights: HubFile } {
  return { config: { repo, file: 'config.json' }, weights: { repo, file: 'bigvgan_generator.pt' } };
}

/** Transformers repos hold config.json and model.safetensors (older ones pytorch_model.bin). */
export function transformersFiles(repo: string): { config: HubFile; weights: HubFile[] } {
  return { config: { repo, file: 'config.json' }, weights: [{ repo, file: 'model.safetensors' }, { repo, file: 'pytorch_model.bin' }] };
}

export function isModelSetId(s: string): s is ModelSetId {
  return Object.hasOwn(MODEL_SETS, s);
}

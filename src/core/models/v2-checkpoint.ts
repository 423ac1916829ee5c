/**
 * Seed-VC v2 checkpoints: `v2/cfm_small.pth` = {'net': {'cfm': CFM state_dict (estimator.*),
 * 'length_regulator': InterpolateRegulator}} and `v2/ar_base.pth` = {'net': {'ar': ..., 'length_regulator':
 * embedding only}}. This splits them into their networks, drops DDP's `module.` prefix as the reference's
 * load_checkpoints does, and checks every parameter the builders read against the config's shapes (the
 * reference loads with strict=False; unread keys such as x_embedder, mask_token or the RoPE buffer are ignored).
 */
import { WeightStore, checkShapes, loadStateDict, seedVcNetPart } from '../checkpoint/index.ts';
import { ModelMismatchError } from '../errors.ts';
import { v2DitParamShapes } from '../nets/v2/dit.ts';
import { v2LengthRegulatorParamShapes } from '../nets/v2/length-regulator.ts';
import type { Tensor } from '../tensor.ts';
import type { V2DitConfig, V2LengthRegulatorConfig } from './v2-config.ts';

function requirePart(flat: ReadonlyMap<string, Tensor>, part: string, file: string): Map<string, Tensor> {
  const sd = seedVcNetPart(flat, part);
  if (sd.size === 0) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: no keys under net.${part}.* (found e.g. ${sample})`);
  }
  return sd;
}

export interface V2CfmCheckpoint {
  /** DiT weights (keys relative to `cfm.estimator.`). */
  estimator: WeightStore;
  /** cfm_length_regulator weights. */
  lengthRegulator: WeightStore;
}

/** Loads v2/cfm_small.pth (or a fine-tuned CFM checkpoint of the same layout). */
export function loadV2CfmCheckpoint(bytes: Uint8Array, file: string, cfg: { dit: V2DitConfig; cfmLengthRegulator: V2LengthRegulatorConfig }): V2CfmCheckpoint {
  const flat = loadStateDict(bytes, file);
  const estimator = new WeightStore(requirePart(flat, 'cfm', file), `${file} [cfm]`).scoped('estimator.');
  const lengthRegulator = new WeightStore(requirePart(flat, 'length_regulator', file), `${file} [length_regulator]`);
  checkShapes(estimator, v2DitParamShapes(cfg.dit), file, 'cfm.estimator.');
  checkShapes(lengthRegulator, v2LengthRegulatorParamShapes(cfg.cfmLengthRegulator), file, 'length_regulator.');
  return { estimator, lengthRegulator };
}

/** The AR's length regulator (an embedding table) from v2/ar_base.pth's `net.length_regulator`. */
export function loadV2ArLengthRegulator(bytes: Uint8Array, file: string, cfg: V2LengthRegulatorConfig): WeightStore {
  const store = new WeightStore(requirePart(loadStateDict(bytes, file), 'length_regulator', file), `${file} [length_regulator]`);
  checkShapes(store, v2LengthRegulatorParamShapes(cfg), file, 'length_regulator.');
  return store;
}

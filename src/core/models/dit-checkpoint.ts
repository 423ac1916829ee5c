/**
 * Seed-VC DiT checkpoints: `{'net': {'cfm': state_dict, 'length_regulator': state_dict}}` (written by the
 * training code, read by modules.commons.load_checkpoint). This splits them into the two networks, drops the
 * DDP `module.` prefix as the reference does, and checks every parameter the builders read against the
 * shapes the config implies, so a mismatched checkpoint fails with the key and both shapes.
 */
import { WeightStore, checkShapes, loadStateDict, seedVcNetPart } from '../checkpoint/index.ts';
import { ModelMismatchError } from '../errors.ts';
import { ditParamShapes } from '../nets/dit.ts';
import { lengthRegulatorParamShapes } from '../nets/length-regulator.ts';
import type { SeedVcConfig } from './config.ts';

export interface DitCheckpoint {
  /** Estimator weights (keys relative to `cfm.estimator.`). */
  estimator: WeightStore;
  /** Length-regulator weights. */
  lengthRegulator: WeightStore;
}

export function loadDitCheckpoint(bytes: Uint8Array, file: string, cfg: SeedVcConfig): DitCheckpoint {
  const flat = loadStateDict(bytes, file);
  const part = (name: string) => seedVcNetPart(flat, name);
  const cfm = part('cfm');
  const lr = part('length_regulator');
  if (cfm.size === 0 || lr.size === 0) {
    const sample = [...flat.keys()].slice(0, 5).join(', ');
    throw new ModelMismatchError(`${file}: not a Seed-VC DiT checkpoint: expected keys under net.cfm.* and net.length_regulator.* (found e.g. ${sample})`);
  }
  const estimator = new WeightStore(cfm, `${file} [cfm]`).scoped('estimator.');
  const lengthRegulator = new WeightStore(lr, `${file} [length_regulator]`);
  checkShapes(estimator, ditParamShapes({ dit: cfg.dit, wavenet: cfg.wavenet, styleDim: cfg.styleDim }), file, 'cfm.estimator.');
  checkShapes(lengthRegulator, lengthRegulatorParamShapes(cfg.lengthRegulator), file, 'length_regulator.');
  return { estimator, lengthRegulator };
}

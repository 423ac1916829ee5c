/** Checkpoint readers: safetensors, torch.save zip archives (zip + restricted pickle), state-dict helpers. */
export { readSafetensors, writeSafetensors, viewAs, MAX_HEADER_BYTES, type SafetensorsFile } from './safetensors.ts';
export {
  readZip, isZip, crc32, DEFAULT_ZIP_LIMITS, METHOD_STORED, METHOD_DEFLATED,
  type ZipArchive, type ZipEntry, type ZipLimits, type ZipReadOptions,
} from './zip.ts';
export {
  unpickle, PickleGlobal, SET_STATE, DEFAULT_PICKLE_LIMITS, describe as describePickleValue,
  type PickleCallable, type PickleLimits, type UnpickleOptions,
} from './pickle.ts';
export { readTorchCheckpoint, isLegacyTorch, torchArchivePrefix, TORCH_GLOBALS, type TorchReadOptions } from './torch.ts';
export {
  flattenStateDict, loadStateDict, detectCheckpointFormat, withPrefix, stripPrefix, seedVcNetPart, renameKeys, foldWeightNorm,
  WeightStore, checkShapes, type GetOptions,
} from './state-dict.ts';

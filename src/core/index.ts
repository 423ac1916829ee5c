/**
 * The runtime-free core of seed-vc: audio I/O, DSP, checkpoint readers, the ONNX graph builder and the
 * network builders, precision resolution and the conversion pipeline. Nothing here touches the file
 * system or a specific ONNX Runtime build; adapters (src/node, src/runtime) provide those.
 */
export * from './tensor.ts';
export * from './errors.ts';
export type { Device, InferenceBackend, NetSession, SessionOptions } from './runtime.ts';
export * from './precision.ts';
export * as audio from './audio/index.ts';
export * as dsp from './dsp/index.ts';
export * as checkpoint from './checkpoint/index.ts';
export { GraphBuilder, type Value, type ElemType, type NodeSummary } from './onnx/graph.ts';
export { Nn, type Precision, AUTOCAST_OPS } from './onnx/nn.ts';
export { type SeedVcConfig, parseSeedVcConfig } from './models/config.ts';
export { MODEL_SETS, type ModelSetId, CAMPPLUS, RMVPE, HIFT } from './models/catalog.ts';
export { loadDitCheckpoint } from './models/dit-checkpoint.ts';
export {
  SEED_VC_V1, familyOf, CHECKPOINT_ROLE, CONFIG_ROLE,
  type ModelFamily, type ModelLayout, type NetworkSpec, type NetworkName, type FileSpec, type ModelFileSource, type OpenNetwork,
} from './models/registry.ts';
export * as nets from './nets/index.ts';
export {
  VoiceConverter, DEFAULTS, MIN_SECONDS, MAX_REFERENCE_SECONDS,
  type ConvertOptions, type ConvertResult, type ConvertEvent, type ConvertStage, type ConverterSessions, type PitchExtractor,
} from './pipeline/convert.ts';
export { solveEuler, linspace01, type CfmInputs, type CfmStepEvent } from './pipeline/cfm.ts';
export { type ContentEncoder, WhisperContentEncoder, XlsrContentEncoder, encodeContent } from './pipeline/content.ts';
export { type Vocoder, type VocoderDraws, type VocoderOutput, GraphVocoder, HiftVocoder } from './pipeline/vocoder.ts';
export { RmvpePitchExtractor } from './pipeline/pitch.ts';
export { noiseFromSafetensors, streamNoiseFromSafetensors, type NoiseSource, type StreamNoise } from './pipeline/noise.ts';
export {
  StreamingConverter, STREAM_DEFAULTS, streamSizes, algorithmicLatency, solaStep, solaFades, updateInputWindows,
  type StreamSettings, type StreamSizes, type StreamBlockOptions, type StreamBlockResult, type ReferenceCache,
} from './pipeline/stream.ts';
export { BlockFramer, PcmDecoder, StreamStats, decodePcm, encodePcm, type PcmFormat, type StreamSummary } from './pipeline/stream-io.ts';
export { SileroVad, VoiceActivityGate, type VadGateOptions } from './pipeline/vad.ts';
export { fp16Hazard, type GuardEvent } from './pipeline/guard.ts';
export { Rng } from './pipeline/random.ts';
export { contentWindows, ditWindows, WaveJoiner } from './pipeline/windows.ts';
// Seed-VC v2 (non-autoregressive networks: builders under `nets`, config / checkpoints / registry / CFM here)
export * from './models/v2-config.ts';
export { loadV2CfmCheckpoint, loadV2ArLengthRegulator, type V2CfmCheckpoint } from './models/v2-checkpoint.ts';
export { SEED_VC_V2, V2_ROLES, type V2NetworkName, type V2NetSessions } from './models/v2-registry.ts';
export { solveV2Cfm, v2TimeGrid, v2GuidanceMode, type V2CfmInputs, type V2CfmStepEvent, type V2GuidanceMode } from './pipeline/v2/cfm.ts';
// Seed-VC v2 autoregressive style path and the v2 conversion
export { ArGenerator, AR_MAX_DECODE_STEPS, AR_MIN_TOKENS, type ArGenerateOptions, type ArGenerateResult } from './pipeline/v2/ar-generate.ts';
export { AR_CLI_DEFAULTS, logitsToProbs, sampleToken, sampleFromProbs, softmaxF32, seededDraws, drawsFromTable, type ArSampling, type ArDraws } from './pipeline/v2/ar-sampler.ts';
export { reduceDurations } from './pipeline/v2/tokens.ts';
export { V2VoiceConverter, V2_DEFAULTS, type V2ConvertOptions, type V2ConvertResult, type V2ConvertEvent, type V2ConvertStage, type V2Intermediates } from './pipeline/v2/convert.ts';

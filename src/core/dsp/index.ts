/** Public API of the runtime-free DSP module. */
export { FftPlan, RealFftPlan, MAX_DIRECT_RADIX, getFftPlan, getRealFftPlan, fft, ifft, rfft } from './fft.ts';
export { type Signal, type StftOptions, type SpectrumKind, type Spectrogram, Stft, hannWindow, reflectPad, stft } from './stft.ts';
export {
  type MelFilterBankOptions, type MelSpectrogramOptions, type MelSpectrogram,
  hzToMel, melToHz, linspace, melFilterBank, SparseFilterBank, melSpectrogram,
} from './mel.ts';
export { resampleSoxr, soxrOutputLength, soxrPlan, soxrReach, StreamingSoxr, type SoxrPlan } from './soxr.ts';
export { type ResampleOptions, type ResampleGeometry, resampleGeometry, sincResampleKernel, resampledLength, resample } from './resample.ts';
export { type KaldiFbankOptions, type KaldiFbank, FLOAT32_EPS, kaldiMelBanks, poveyWindow, kaldiFbank, meanNormalize } from './kaldi.ts';
export { type WhisperFeatureOptions, type WhisperFeatures, whisperMelFilters, whisperLogMel } from './whisper-features.ts';
export { crossfadeCurves, crossfade } from './crossfade.ts';
export { logf32 } from './float32-math.ts';
export { type ShiftF0Options, roundHalfEven, f0ToCoarse, medianLogF0, shiftF0 } from './f0.ts';
export { type RmvpeMelOptions, type RmvpeMel, RMVPE_BINS, RMVPE_CENTS_OFFSET, rmvpeMel, decodeSalience } from './rmvpe-dsp.ts';

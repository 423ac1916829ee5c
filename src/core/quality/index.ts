/** Public API of the runtime-free quality module: metrics, F0, DNSMOS scoring, figures and the A/B report. */
export { type F0Options, type F0Track, F0_DEFAULTS, estimateF0 } from './f0.ts';
export {
  type F0Comparison, LN_TO_DB, logMelL1, melCepstrum, melCepstralDistortion, snrDb, cosineSimilarity, compareF0, f0Summary,
} from './metrics.ts';
export { SPEAKER_SR, speakerEmbedding } from './speaker.ts';
export {
  type DnsmosSessions, type DnsmosScore, DNSMOS_SR, DNSMOS_WINDOW_SECONDS, DNSMOS_WINDOW_SAMPLES, P808_MELS,
  calibrateDnsmos, dnsmosWindows, p808Features, scoreDnsmos,
} from './dnsmos.ts';
export { type Colormap, type ColormapName, colormap, colorAt, lutIndex, oklch, oklabLightness } from './colormap.ts';
export { type Rgb, Raster, FONT_CHARS } from './raster.ts';
export {
  type MelAxis, type PlotOptions, type ColorScale, renderSpectrogram, renderDifference, spectrogramScale, differenceScale,
} from './plots.ts';
export { type SideSpec, type SideSettings, type SideDevice, SIDE_SPEC_KEYS, parseSideSpec, resolveSide, formatSideSettings } from './spec.ts';
export { type AbReport, type AbSide, type AbComparison, type AbInput, type SideId, finite, renderReportHtml } from './report.ts';

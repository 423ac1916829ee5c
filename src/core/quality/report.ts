/**
 * The A/B report: its JSON shape, and the HTML page built from it (self-contained apart from the PNG
 * and WAV files written next to it). Every number in the page comes from the JSON.
 */
import type { PrecisionPlan } from '../precision.ts';
import type { DnsmosScore } from './dnsmos.ts';
import type { F0Comparison } from './metrics.ts';
import type { SideSettings } from './spec.ts';

export type SideId = 'a' | 'b';

export interface AbInput {
  /** The path given on the command line. */
  path: string;
  sampleRate: number;
  seconds: number;
  /** Its WAV re-encode in the report folder. */
  copy: string;
}

export interface AbSide {
  /** "A" or "B" and the spec as given. */
  label: string;
  spec: string;
  settings: SideSettings;
  device: { requested: string; used: string; name: string | null };
  precision: PrecisionPlan;
  /** Wall time of SeedVc.load (resolving files, building or reading graphs, opening sessions). */
  loadMs: number;
  graphs: { built: number; fromCache: number; buildMs: number };
  /** ConvertResult.timings.total and its stages. */
  convertMs: number;
  timingsMs: Record<string, number>;
  /** Convert time / output duration. */
  rtf: number;
  outputSeconds: number;
  memory: { rssBeforeBytes: number; peakRssBytes: number; peakRssGrowthBytes: number; samples: number };
  /** Cosine of this side's output and the reference (speaker embeddings). */
  speakerCosineToReference: number | null;
  f0: { voicedFraction: number | null; medianHz: number | null };
  dnsmos: DnsmosScore | null;
  audio: string;
  spectrogram: string;
}

export interface AbComparison {
  /** Frames of the log-mel comparison and samples of the waveform one (the shorter side). */
  frames: number;
  samples: number;
  /** Mean |log-mel B - log-mel A| (natural-log units) and the same in dB. */
  logMelL1: number | null;
  logMelL1Db: number | null;
  mcdDb: number | null;
  /** B against A; null when infinite (identical waveforms) or undefined. */
  snrDb: number | null;
  snrNote: string | null;
  /** Cosine of the speaker embeddings of A and B. */
  speakerCosine: number | null;
  /** Cosine of the reference embeddings the two pipelines computed (their `style` input). */
  referenceStyleCosine: number | null;
  f0: F0Comparison;
  differencePng: string;
  /** |difference| percentile behind the difference image's scale, dB. */
  differenceScaleDb: number;
  notes: string[];
}

export interface AbReport {
  tool: 'seed-vc ab';
  formatVersion: 1;
  createdAt: string;
  inputs: { source: AbInput; reference: AbInput };
  model: { sampleRate: number; mel: Record<string, number | null>; files: Record<string, string> };
  settings: { seed: number | null; noise: string | null; lengthAdjust: number; order: string };
  sides: Record<SideId, AbSide>;
  comparison: AbComparison;
  dnsmos: { status: 'computed' | 'skipped'; note: string; models: Record<string, string> | null; source: DnsmosScore | null; reference: DnsmosScore | null };
  measurement: Record<string, string>;
  files: Record<string, string>;
}

/** A number for JSON: null unless finite. */
export function finite(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// ---- HTML ---------------------------------------------------------------------------------------

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(v: number | null | undefined, digits: number, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${v.toFixed(digits)}${unit ? `&nbsp;${unit}` : ''}`;
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)}&nbsp;MiB`;
}

interface Row {
  metric: string;
  a?: string;
  b?: string;
  ab?: string;
  better: string;
  meaning: string;
}

function metricRows(r: AbReport): Row[] {
  const { a, b } = r.sides;
  const c = r.comparison;
  const rows: Row[] = [
    {
      metric: 'Log-mel L1', ab: `${num(c.logMelL1, 5)} <span class="dim">(${num(c.logMelL1Db, 3, 'dB')})</span>`, better: 'lower (0 = same)',
      meaning: `Mean |log-mel(B) − log-mel(A)| over ${r.model.mel.numMels ?? 80} mel bands × ${c.frames} frames of Seed-VC's own log spectrogram (natural-log magnitude; ×8.69 gives dB).`,
    },
    {
      metric: 'Mel-cepstral distortion', ab: num(c.mcdDb, 4, 'dB'), better: 'lower (0 = same)',
      meaning: 'Cepstra c1..c24 from the orthonormal DCT-II of each log-mel frame; (10/ln10)·√(2·Σ(cA−cB)²) per frame, averaged. Under ~1 dB is hard to hear; 4–6 dB is typical between different systems.',
    },
    {
      metric: 'Waveform SNR of B vs A', ab: c.snrDb === null ? (c.snrNote ?? '—') : num(c.snrDb, 2, 'dB'), better: 'higher (∞ = identical)',
      meaning: '10·log10(ΣA² / Σ(B−A)²) sample by sample. Strict: a tiny phase drift lowers it a lot even when the two sound the same.',
    },
    {
      metric: 'Speaker cosine A ↔ B', ab: num(c.speakerCosine, 5), better: 'higher (1 = same voice)',
      meaning: 'Cosine of the CAMPPlus speaker embeddings of A and B (the model\'s own speaker stage: 16 kHz, Kaldi fbank, mean-normalised).',
    },
    {
      metric: 'Speaker cosine to reference', a: num(a.speakerCosineToReference, 4), b: num(b.speakerCosineToReference, 4), better: 'higher',
      meaning: 'Cosine of each output\'s speaker embedding and the reference voice\'s: how close each side lands to the target speaker.',
    },
    {
      metric: 'Reference embedding agreement', ab: num(c.referenceStyleCosine, 6), better: 'higher (1 = same)',
      meaning: 'Cosine of the reference embeddings (the style input) the two pipelines computed: shows whether the speaker stage itself differs between the sides.',
    },
    {
      metric: 'F0 RMSE', ab: c.f0.rmseCents === null ? '— (no frame voiced in both)' : num(c.f0.rmseCents, 2, 'cents'), better: 'lower (0 = same pitch)',
      meaning: `RMS of 1200·log2(F0_B / F0_A) over the ${c.f0.bothVoiced} frames voiced in both (YIN, 16 kHz, 10 ms hop, 50–1100 Hz). 100 cents = one semitone.`,
    },
    {
      metric: 'F0 correlation', ab: num(c.f0.correlation, 4), better: 'higher (1 = same contour)',
      meaning: 'Pearson correlation of F0_A and F0_B (Hz) over frames voiced in both.',
    },
    {
      metric: 'Voicing agreement', ab: num(c.f0.voicingAgreement === null ? null : c.f0.voicingAgreement * 100, 1, '%'), better: 'higher',
      meaning: `Share of the ${c.f0.frames} frames where A and B agree on voiced / unvoiced.`,
    },
    {
      metric: 'Voiced frames · median F0', a: `${num(a.f0.voicedFraction === null ? null : a.f0.voicedFraction * 100, 1, '%')} · ${num(a.f0.medianHz, 1, 'Hz')}`,
      b: `${num(b.f0.voicedFraction === null ? null : b.f0.voicedFraction * 100, 1, '%')} · ${num(b.f0.medianHz, 1, 'Hz')}`, better: 'context',
      meaning: 'Share of voiced frames and the median F0 of each side (not a quality score by itself).',
    },
  ];
  if (a.dnsmos && b.dnsmos) {
    const d = (k: keyof DnsmosScore, what: string, meaning: string) => rows.push({
      metric: what, a: num(a.dnsmos![k] as number, 3), b: num(b.dnsmos![k] as number, 3),
      ab: `Δ ${num((b.dnsmos![k] as number) - (a.dnsmos![k] as number), 3)}`, better: 'higher (1..5)', meaning,
    });
    d('SIG', 'DNSMOS SIG', 'Predicted quality of the speech itself (distortion), calibrated DNSMOS P.835 score.');
    d('BAK', 'DNSMOS BAK', 'Predicted quality of the background (noise, artefacts).');
    d('OVRL', 'DNSMOS OVRL', 'Predicted overall quality.');
    d('P808_MOS', 'DNSMOS P.808 MOS', 'Overall MOS from the P.808 model (on 120-band log-mel).');
  } else {
    rows.push({ metric: 'DNSMOS', ab: 'skipped', better: 'higher (1..5)', meaning: esc(r.dnsmos.note) });
  }
  rows.push(
    { metric: 'RTF', a: num(a.rtf, 3), b: num(b.rtf, 3), ab: `B/A ${num(b.rtf / a.rtf, 2, '×')}`, better: 'lower', meaning: 'Conversion time / output duration (model already loaded).' },
    { metric: 'Conversion time', a: num(a.convertMs / 1000, 2, 's'), b: num(b.convertMs / 1000, 2, 's'), better: 'lower', meaning: 'Wall time of convert(), all stages.' },
    {
      metric: 'Load time', a: `${num(a.loadMs / 1000, 2, 's')} <span class="dim">(${a.graphs.built} built, ${a.graphs.fromCache} cached)</span>`,
      b: `${num(b.loadMs / 1000, 2, 's')} <span class="dim">(${b.graphs.built} built, ${b.graphs.fromCache} cached)</span>`, better: 'lower',
      meaning: 'Wall time of loading the model set: files, ONNX graphs (built from the checkpoints, or read from the graph cache), sessions.',
    },
    {
      metric: 'Peak memory growth', a: mb(a.memory.peakRssGrowthBytes), b: mb(b.memory.peakRssGrowthBytes), better: 'lower',
      meaning: 'Highest resident set size of the process during the side\'s load + conversion, minus the size just before its load (sampled; see the notes on memory).',
    },
  );
  return rows;
}

function planTable(r: AbReport): string {
  const { a, b } = r.sides;
  const stages = Object.keys(a.precision.stages) as (keyof PrecisionPlan['stages'])[];
  const cell = (p: PrecisionPlan, s: keyof PrecisionPlan['stages']) => {
    const d = p.stages[s];
    return `<td class="${d.precision}"><b>${d.precision}</b><br><span class="dim">${esc(d.reason)}</span></td>`;
  };
  return `<table class="plan"><thead><tr><th>stage</th><th>A</th><th>B</th></tr></thead><tbody>
${stages.map((s) => `<tr><th>${esc(s)}</th>${cell(a.precision, s)}${cell(b.precision, s)}</tr>`).join('\n')}
</tbody></table>`;
}

function settingsTable(r: AbReport): string {
  const { a, b } = r.sides;
  const row = (k: string, va: string, vb: string) => `<tr><th>${k}</th><td>${va}</td><td>${vb}</td></tr>`;
  return `<table class="settings"><thead><tr><th></th><th>A</th><th>B</th></tr></thead><tbody>
${row('spec', `<code>${esc(a.spec)}</code>`, `<code>${esc(b.spec)}</code>`)}
${row('precision', `${esc(a.precision.mode)}<br><span class="dim">${esc(a.precision.reason)}</span>`, `${esc(b.precision.mode)}<br><span class="dim">${esc(b.precision.reason)}</span>`)}
${row('device', `${esc(a.device.used)}${a.device.name ? ` · ${esc(a.device.name)}` : ''}<br><span class="dim">requested: ${esc(a.device.requested)}</span>`, `${esc(b.device.used)}${b.device.name ? ` · ${esc(b.device.name)}` : ''}<br><span class="dim">requested: ${esc(b.device.requested)}</span>`)}
${row('vocoder fp16', String(a.settings.vocoderFp16), String(b.settings.vocoderFp16))}
${row('diffusion steps', String(a.settings.diffusionSteps), String(b.settings.diffusionSteps))}
${row('CFG rate', String(a.settings.inferenceCfgRate), String(b.settings.inferenceCfgRate))}
${row('initial noise', r.settings.noise ? `file <code>${esc(r.settings.noise)}</code>` : `seed ${r.settings.seed}`, 'same as A')}
${row('length adjust', String(r.settings.lengthAdjust), 'same as A')}
</tbody></table>`;
}

function player(title: string, file: string, detail: string): string {
  return `<figure class="player"><figcaption><b>${esc(title)}</b> <span class="dim">${esc(detail)}</span></figcaption><audio controls preload="metadata" src="${esc(file)}"></audio></figure>`;
}

/** One line with the numbers that matter most. */
function headline(r: AbReport): string {
  const c = r.comparison;
  const { a, b } = r.sides;
  const parts = [
    `MCD <b>${num(c.mcdDb, 3, 'dB')}</b>`,
    `SNR <b>${c.snrDb !== null ? num(c.snrDb, 1, 'dB') : c.snrNote?.startsWith('infinite') ? '∞ (identical)' : '—'}</b>`,
    `speaker cosine <b>${num(c.speakerCosine, 5)}</b>`,
  ];
  if (c.f0.rmseCents !== null) parts.push(`F0 RMSE <b>${num(c.f0.rmseCents, 1, 'cents')}</b>`);
  if (a.dnsmos && b.dnsmos) parts.push(`DNSMOS OVRL <b>${num(a.dnsmos.OVRL, 2)} → ${num(b.dnsmos.OVRL, 2)}</b>`);
  parts.push(`RTF <b>${num(a.rtf, 3)} → ${num(b.rtf, 3)}</b>`);
  return `B against A: ${parts.join(' · ')}`;
}

/** The report page. */
export function renderReportHtml(r: AbReport): string {
  const { a, b } = r.sides;
  const c = r.comparison;
  const rows = metricRows(r).map((x) => `<tr><th>${x.metric}</th><td>${x.a ?? ''}</td><td>${x.b ?? ''}</td><td>${x.ab ?? ''}</td><td class="better">${x.better}</td><td class="meaning">${x.meaning}</td></tr>`).join('\n');
  const dnsmosInputs = r.dnsmos.source && r.dnsmos.reference
    ? `<p class="dim">DNSMOS of the inputs, for scale: source SIG ${num(r.dnsmos.source.SIG, 2)} / BAK ${num(r.dnsmos.source.BAK, 2)} / OVRL ${num(r.dnsmos.source.OVRL, 2)} / P.808 ${num(r.dnsmos.source.P808_MOS, 2)};
reference SIG ${num(r.dnsmos.reference.SIG, 2)} / BAK ${num(r.dnsmos.reference.BAK, 2)} / OVRL ${num(r.dnsmos.reference.OVRL, 2)} / P.808 ${num(r.dnsmos.reference.P808_MOS, 2)}.</p>`
    : '';
  const notes = [...c.notes, r.dnsmos.note].filter(Boolean);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seed-vc A/B: ${esc(a.spec)} vs ${esc(b.spec)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
  .dim { color: #777; font-size: 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border-bottom: 1px solid #e5e5e5; padding: 5px 8px; text-align: left; vertical-align: top; }
  thead th { background: #f6f6f6; }
  table.metrics td:nth-child(2), table.metrics td:nth-child(3), table.metrics td:nth-child(4) { font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.better { white-space: nowrap; color: #555; } td.meaning { color: #444; font-size: 13px; }
  table.plan td.fp16 b { color: #b3541e; } table.plan td.fp32 b { color: #2b5d8a; }
  .players { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
  figure { margin: 0; } figure.player audio { width: 100%; }
  figure.spec { margin: 14px 0; } figure.spec img { max-width: 100%; height: auto; display: block; image-rendering: pixelated; }
  figure.spec figcaption { margin-bottom: 4px; }
  code { background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
  ul.notes li { margin: 3px 0; }
  p.headline { font-size: 15px; background: #f6f6f6; border-left: 4px solid #b3541e; padding: 8px 12px; margin: 14px 0; }
</style>
</head>
<body>
<h1>A/B: <code>${esc(a.spec)}</code> vs <code>${esc(b.spec)}</code></h1>
<div class="dim">source <code>${esc(r.inputs.source.path)}</code> (${r.inputs.source.seconds.toFixed(2)} s) → voice of <code>${esc(r.inputs.reference.path)}</code> (${r.inputs.reference.seconds.toFixed(2)} s) · ${esc(r.createdAt)} · A ran first, then B, in one process</div>

<p class="headline">${headline(r)}</p>

<h2>Listen</h2>
<div class="players">
${player('Source', r.inputs.source.copy, `${r.inputs.source.sampleRate} Hz`)}
${player('Reference voice', r.inputs.reference.copy, `${r.inputs.reference.sampleRate} Hz`)}
${player(`A · ${a.spec}`, a.audio, `${a.outputSeconds.toFixed(2)} s`)}
${player(`B · ${b.spec}`, b.audio, `${b.outputSeconds.toFixed(2)} s`)}
</div>

<h2>Numbers</h2>
<table class="metrics"><thead><tr><th>metric</th><th>A</th><th>B</th><th>A vs B</th><th>better</th><th>what it measures</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${dnsmosInputs}

<h2>Spectrograms</h2>
<p class="dim">Seed-VC's log-mel spectrogram (${r.model.mel.numMels ?? 80} mel bands, ${r.model.sampleRate} Hz, hop ${r.model.mel.hopSize ?? ''}): time in seconds across, frequency on the mel scale up, level in dB on one shared colour scale for A and B.</p>
<figure class="spec"><figcaption><b>A</b> · <code>${esc(a.spec)}</code></figcaption><img src="${esc(a.spectrogram)}" alt="log-mel spectrogram of A"></figure>
<figure class="spec"><figcaption><b>B</b> · <code>${esc(b.spec)}</code></figcaption><img src="${esc(b.spectrogram)}" alt="log-mel spectrogram of B"></figure>
<figure class="spec"><figcaption><b>B − A</b> in dB: red where B is louder, blue where it is quieter, white where they agree; the scale ends at ±${num(c.differenceScaleDb, 3, 'dB')} (the 99th percentile of |B − A|, rounded up).</figcaption><img src="${esc(c.differencePng)}" alt="difference spectrogram B minus A"></figure>

<h2>Settings</h2>
${settingsTable(r)}
<h3>Precision plan per stage</h3>
${planTable(r)}

<h2>Notes</h2>
<ul class="notes">
${notes.map((n) => `<li>${esc(n)}</li>`).join('\n')}
${Object.entries(r.measurement).map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`).join('\n')}
</ul>
<p class="dim">Files: ${Object.values(r.files).map((f) => `<a href="${esc(f)}">${esc(f)}</a>`).join(' · ')}</p>
</body>
</html>
`;
}

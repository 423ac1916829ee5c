/**
 * Pictures of audio in the browser: a waveform (min/max per pixel column) and Seed-VC's log-mel
 * spectrogram drawn by the same runtime-free plotting code as the A/B report.
 */
import { melSpectrogram } from '../core/dsp/index.ts';
import { renderSpectrogram } from '../core/quality/plots.ts';

/** Seed-VC's 22.05 kHz mel settings (config_dit_mel_seed_uvit_whisper_small_wavenet.yml). */
export const PICTURE_RATE = 22050;
const MEL = { nFft: 1024, numMels: 80, sampleRate: PICTURE_RATE, hopSize: 256, winSize: 1024, fmin: 0, fmax: 8000 };

/** Decodes any audio the browser can play, as mono at `rate` Hz. */
export async function decodeToMono(blob: Blob, rate = PICTURE_RATE): Promise<Float32Array> {
  const ctx = new OfflineAudioContext(1, 1, rate);
  const buf = await ctx.decodeAudioData(await blob.arrayBuffer());
  const out = new Float32Array(buf.length);
  for (let c = 0; c < buf.numberOfChannels; c++) {
    const ch = buf.getChannelData(c);
    for (let i = 0; i < out.length; i++) out[i] += ch[i] / buf.numberOfChannels;
  }
  return out;
}

export function drawWaveform(canvas: HTMLCanvasElement, samples: Float32Array): void {
  const w = (canvas.width = Math.max(300, canvas.clientWidth || 600));
  const h = (canvas.height = 80);
  const g = canvas.getContext('2d')!;
  g.fillStyle = '#fbfbfb';
  g.fillRect(0, 0, w, h);
  g.strokeStyle = '#ddd';
  g.beginPath(); g.moveTo(0, h / 2); g.lineTo(w, h / 2); g.stroke();
  g.fillStyle = '#2b6cb0';
  const per = samples.length / w;
  for (let x = 0; x < w; x++) {
    let lo = 0, hi = 0;
    const end = Math.min(samples.length, Math.floor((x + 1) * per));
    for (let i = Math.floor(x * per); i < end; i++) { const v = samples[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    const y0 = Math.round(h / 2 - Math.min(1, hi) * (h / 2 - 2));
    const y1 = Math.round(h / 2 - Math.max(-1, lo) * (h / 2 - 2));
    g.fillRect(x, y0, 1, Math.max(1, y1 - y0));
  }
}

export function drawMel(canvas: HTMLCanvasElement, samples: Float32Array): void {
  if (samples.length < MEL.nFft) return;
  const mel = melSpectrogram(samples, MEL);
  const r = renderSpectrogram(mel, { axis: { sampleRate: MEL.sampleRate, hopSize: MEL.hopSize, fmin: MEL.fmin, fmax: MEL.fmax }, textScale: 1, height: 160, minWidth: 400, maxWidth: 900 });
  canvas.width = r.width;
  canvas.height = r.height;
  const img = new ImageData(new Uint8ClampedArray(r.data.buffer as ArrayBuffer, r.data.byteOffset, r.data.length), r.width, r.height);
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

/** Both pictures of a clip into a figure element's two canvases. */
export async function drawPictures(fig: HTMLElement, blob: Blob): Promise<number> {
  const samples = await decodeToMono(blob);
  drawWaveform(fig.querySelector<HTMLCanvasElement>('canvas.wave')!, samples);
  drawMel(fig.querySelector<HTMLCanvasElement>('canvas.mel')!, samples);
  fig.hidden = false;
  return samples.length / PICTURE_RATE;
}

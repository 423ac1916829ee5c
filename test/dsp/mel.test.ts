import { test } from 'node:test';
import { melFilterBank, melSpectrogram } from '../../src/core/dsp/mel.ts';
import { assertClose, caseTensors, getF32, goldenCase, tolerance } from '../helpers/golden.ts';

for (const [id, extra] of [['dsp_mel_22k', true], ['dsp_mel_44k', false]] as const) {
  test(`${id}: Slaney mel filter bank equals librosa's`, (t) => {
    const c = goldenCase(id);
    const g = caseTensors(c);
    const a = c.args as { n_fft: number; num_mels: number; sampling_rate: number };
    const bank = melFilterBank({ sr: a.sampling_rate, nFft: a.n_fft, nMels: a.num_mels });
    const tol = tolerance(c, 'intermediate.mel_basis');
    const err = assertClose('mel_basis', { shape: [a.num_mels, a.n_fft / 2 + 1], data: bank }, getF32(g, 'intermediate.mel_basis'), tol);
    t.diagnostic(`intermediate.mel_basis err=${err.toExponential(3)} tol=${tol}`);
  });

  test(`${id}: log-mel spectrogram equals modules/audio.py mel_spectrogram`, (t) => {
    const c = goldenCase(id);
    const g = caseTensors(c);
    const a = c.args as { n_fft: number; num_mels: number; sampling_rate: number; hop_size: number; win_size: number; fmin: number };
    const wav = getF32(g, 'input.wav').data;
    const opts = { nFft: a.n_fft, numMels: a.num_mels, sampleRate: a.sampling_rate, hopSize: a.hop_size, winSize: a.win_size, fmin: a.fmin, fmax: null };
    const mel = melSpectrogram(wav, opts);
    const tol = tolerance(c, 'output');
    const err = assertClose('output', { shape: [1, mel.numMels, mel.frames], data: mel.data }, getF32(g, 'output'), tol);
    t.diagnostic(`output err=${err.toExponential(3)} tol=${tol}`);
    if (extra) {
      const mel8k = melSpectrogram(wav, { ...opts, fmax: 8000 });
      const tol8 = tolerance(c, 'output_fmax8000');
      const err8 = assertClose('output_fmax8000', { shape: [1, mel8k.numMels, mel8k.frames], data: mel8k.data }, getF32(g, 'output_fmax8000'), tol8);
      t.diagnostic(`output_fmax8000 err=${err8.toExponential(3)} tol=${tol8}`);
    }
  });
}

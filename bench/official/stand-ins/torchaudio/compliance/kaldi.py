"""Kaldi-style log-mel filterbank features (25 ms frames, 10 ms shift, povey window, pre-emphasis 0.97)."""
import math

import torch


def _mel(f):
    return 1127.0 * torch.log1p(f / 700.0)


def _mel_banks(num_bins, fft_size, rate, low, high):
    nyquist = rate / 2
    if high <= 0:
        high += nyquist
    bin_width = rate / fft_size
    lo, hi = _mel(torch.tensor(low, dtype=torch.float64)), _mel(torch.tensor(high, dtype=torch.float64))
    step = (hi - lo) / (num_bins + 1)
    i = torch.arange(num_bins, dtype=torch.float64)[:, None]
    left, center, right = lo + i * step, lo + (i + 1) * step, lo + (i + 2) * step
    freqs = _mel(bin_width * torch.arange(fft_size // 2, dtype=torch.float64))[None, :]
    up = (freqs - left) / (center - left)
    down = (right - freqs) / (right - center)
    return torch.clamp(torch.minimum(up, down), min=0.0)  # [num_bins, fft_size / 2]


def fbank(waveform, num_mel_bins=23, dither=0.0, sample_frequency=16000.0, frame_length=25.0, frame_shift=10.0,
          low_freq=20.0, high_freq=0.0, preemphasis_coefficient=0.97, energy_floor=1.0, **_kwargs):
    x = waveform[0] if waveform.dim() == 2 else waveform
    size = int(sample_frequency * frame_length * 0.001)
    shift = int(sample_frequency * frame_shift * 0.001)
    fft_size = 1 << (size - 1).bit_length()
    if x.numel() < size:
        return torch.empty(0, num_mel_bins, dtype=x.dtype)
    frames = x.unfold(0, size, shift).to(torch.float32)  # snip edges: whole frames only
    if dither != 0.0:
        frames = frames + dither * torch.randn_like(frames)
    frames = frames - frames.mean(dim=1, keepdim=True)
    prev = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - preemphasis_coefficient * prev
    window = torch.hann_window(size, periodic=False, dtype=torch.float32).pow(0.85)
    frames = torch.nn.functional.pad(frames * window, (0, fft_size - size))
    power = torch.fft.rfft(frames).abs().pow(2.0)[:, : fft_size // 2]
    banks = _mel_banks(num_mel_bins, fft_size, sample_frequency, low_freq, high_freq).to(torch.float32)
    mel = power @ banks.T
    return torch.log(torch.clamp(mel, min=torch.finfo(torch.float32).eps)).to(waveform.dtype)

"""Band-limited resampling by a windowed-sinc polyphase filter (Hann window), as a strided conv1d."""
import math

import torch
import torch.nn.functional as F


def resample(waveform, orig_freq, new_freq, lowpass_filter_width=6, rolloff=0.99, **_kwargs):
    if orig_freq == new_freq:
        return waveform
    g = math.gcd(int(orig_freq), int(new_freq))
    up, down = int(new_freq) // g, int(orig_freq) // g  # output phases per input block of `down` samples
    cutoff = min(up, down) * rolloff
    half = int(math.ceil(lowpass_filter_width * down / cutoff))
    taps = torch.arange(-half, half + down, dtype=torch.float64) / down
    phases = -torch.arange(up, dtype=torch.float64)[:, None] / up
    t = (phases + taps[None, :]) * cutoff
    t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / torch.where(t == 0, torch.ones_like(t), t))
    kernels = (sinc * window * (cutoff / down)).to(waveform.dtype)

    shape = waveform.shape
    x = waveform.reshape(-1, 1, shape[-1])
    n = shape[-1]
    x = F.pad(x, (half, half + down))
    y = F.conv1d(x, kernels[:, None, :], stride=down)  # [batch, up, blocks]
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    out_len = int(math.ceil(up * n / down))
    return y[:, :out_len].reshape(*shape[:-1], out_len)

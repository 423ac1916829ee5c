"""Benchmark stand-in for the parts of torchaudio that the official Seed-VC inference path calls.

No torchaudio wheel exists in this machine's local package indexes, so the official-code benchmark
(bench/official) puts this package first on sys.path. It implements, in plain torch/numpy, only
`functional.resample`, `compliance.kaldi.fbank` and `save`; each costs milliseconds against the
networks' seconds, so timing the official pipeline with it is fair. Not part of the product.
"""
import numpy as np
import soundfile

from . import compliance, functional  # noqa: F401

__version__ = "0.0-bench-stand-in"


def save(path, src, sample_rate, **_kwargs):
    """Write a [channels, time] float tensor as a 32-bit float WAV."""
    data = src.detach().cpu().numpy()
    soundfile.write(path, np.ascontiguousarray(data.T), int(sample_rate), subtype="FLOAT")


def load(path, **_kwargs):
    import torch

    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), rate

"""Benchmark stand-in for descript-audio-codec's import in the official length regulator. The whisper-small-wavenet
model is built with vector_quantize false, so the class is never constructed on the benchmarked path."""


class VectorQuantize:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("VectorQuantize is not available in the official-code benchmark stand-ins")

"""Runs the official Seed-VC `inference.py`, unmodified, against a local hub folder (no network).

    python bench/official/run_official.py --checkout /work/pyref/seed-vc --hub /work/pyref/hub \
        --work /work/pyref/official-run -- --source src.wav --target ref.wav --output out/ --diffusion-steps 10 --fp16 False

inference.py reads its checkpoints through huggingface_hub's cache: `hf_hub_download(..., cache_dir="./checkpoints")`
for the DiT and CAMPPlus, and HF_HUB_CACHE="./checkpoints/hf_cache" (which it sets itself) for Whisper and BigVGAN.
So this runner lays out those two caches under --work with symlinks to the hub folder's files (org/repo/file, as
bench/official/make_checkpoints.py writes them), switches huggingface_hub and transformers offline, puts the stand-ins
for the modules missing from this machine's package indexes (torchaudio, munch, dac: bench/official/stand-ins) on
sys.path, changes into --work and executes inference.py as `__main__` with the arguments after `--`.

Prints one JSON line last: {"wall_s", "convert_s", "output_s", "rtf", "stages_s", "threads", "versions"}; convert_s is
inference.py's own conversion timer (resampling, Whisper, CAMPPlus, length regulator, CFM, vocoder; model loading,
reading the inputs and writing the output excluded), recovered from the RTF it prints and the output length.
"""
import argparse
import contextlib
import io
import json
import os
import re
import runpy
import sys
import time

T0 = time.time()
HERE = os.path.dirname(os.path.abspath(__file__))
REV = "0" * 40  # the cache's snapshot name; any commit-like string works offline

# repo -> (cache root relative to --work, files); the roots are the ones inference.py uses.
REPOS = {
    "Plachta/Seed-VC": ("checkpoints", ["DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth", "config_dit_mel_seed_uvit_whisper_small_wavenet.yml"]),
    "funasr/campplus": ("checkpoints", ["campplus_cn_common.bin"]),
    "openai/whisper-small": ("checkpoints/hf_cache", ["config.json", "model.safetensors", "preprocessor_config.json", "generation_config.json"]),
    "nvidia/bigvgan_v2_22khz_80band_256x": ("checkpoints/hf_cache", ["config.json", "bigvgan_generator.pt"]),
}


def prepare_cache(hub, work):
    for repo, (root, files) in REPOS.items():
        base = os.path.join(work, root, "models--" + repo.replace("/", "--"))
        snap = os.path.join(base, "snapshots", REV)
        os.makedirs(snap, exist_ok=True)
        os.makedirs(os.path.join(base, "refs"), exist_ok=True)
        with open(os.path.join(base, "refs", "main"), "w") as f:
            f.write(REV)
        for name in files:
            src = os.path.join(hub, repo, name)
            if not os.path.exists(src):
                if name == "generation_config.json":
                    continue
                sys.exit(f"run_official: {src} is missing (run bench/official/make_checkpoints.py first)")
            dst = os.path.join(snap, name)
            if os.path.islink(dst) or os.path.exists(dst):
                os.remove(dst)
            os.symlink(src, dst)


def hub_compat():
    """huggingface_hub >= 1.0 (the only one in this machine's indexes; transformers 5 needs it) no longer passes
    `proxies` and `resume_download` to ModelHubMixin._from_pretrained, which BigVGAN's override requires as keywords.
    Give them their old defaults (None, False); they only matter for downloads, which are off here."""
    from modules.bigvgan import bigvgan

    original = bigvgan.BigVGAN._from_pretrained.__func__
    if "proxies" not in original.__code__.co_varnames:
        return

    def compat(cls, *, proxies=None, resume_download=False, **kwargs):
        return original(cls, proxies=proxies, resume_download=resume_download, **kwargs)

    bigvgan.BigVGAN._from_pretrained = classmethod(compat)


STAGES = {}


def stage_timers():
    """Seconds per network, summed over calls, by wrapping the classes' entry points (inference.py is not touched):
    content = Whisper feature extraction + encoder, speaker = CAMPPlus, length_regulator, dit = CFM.inference (the
    whole Euler solve with CFG), vocoder = BigVGAN. The wrappers cost microseconds per call."""
    from modules.bigvgan.bigvgan import BigVGAN
    from modules.campplus.DTDNN import CAMPPlus
    from modules.flow_matching import BASECFM
    from modules.length_regulator import InterpolateRegulator
    from transformers.models.whisper.feature_extraction_whisper import WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    def timed(cls, attr, stage):
        fn = getattr(cls, attr)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                STAGES[stage] = STAGES.get(stage, 0.0) + time.perf_counter() - t

        setattr(cls, attr, wrapper)

    for cls, attr, stage in ((WhisperFeatureExtractor, "__call__", "content"), (WhisperEncoder, "forward", "content"),
                             (CAMPPlus, "forward", "speaker"), (InterpolateRegulator, "forward", "length_regulator"),
                             (BASECFM, "inference", "dit"), (BigVGAN, "forward", "vocoder")):
        timed(cls, attr, stage)


class Tee(io.TextIOBase):
    """Passes stdout through while keeping a copy, to read inference.py's RTF line."""

    def __init__(self, out):
        self.out, self.buf = out, io.StringIO()

    def write(self, s):
        self.buf.write(s)
        return self.out.write(s)

    def flush(self):
        self.out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkout", required=True)
    ap.add_argument("--hub", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--no-stage-timers", action="store_true", help="do not wrap the networks' entry points with timers")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="-- then inference.py's arguments")
    args = ap.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    checkout, hub, work = (os.path.abspath(p) for p in (args.checkout, args.hub, args.work))
    script = os.path.join(checkout, "inference.py")
    if not os.path.exists(script):
        sys.exit(f"run_official: no inference.py in {checkout}")
    # Paths in inference.py's arguments are taken relative to where this runner was started.
    rest = [os.path.abspath(a) if i > 0 and rest[i - 1] in ("--source", "--target", "--output") else a for i, a in enumerate(rest)]
    os.makedirs(work, exist_ok=True)
    prepare_cache(hub, work)

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    sys.path[:0] = [os.path.join(HERE, "stand-ins"), checkout]
    os.chdir(work)
    sys.argv = [script, *rest]
    # inference.py sets this itself before importing huggingface_hub; the shim below imports it first, so set it here.
    os.environ["HF_HUB_CACHE"] = "./checkpoints/hf_cache"
    hub_compat()
    if not args.no_stage_timers:
        stage_timers()
    tee = Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        runpy.run_path(script, run_name="__main__")

    import torch
    import transformers

    out_dir = rest[rest.index("--output") + 1] if "--output" in rest else os.path.join(work, "reconstructed")
    wavs = sorted((os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".wav")), key=os.path.getmtime)
    import soundfile

    info = soundfile.info(wavs[-1])
    rtf = float(re.findall(r"RTF: ([0-9.eE+-]+)", tee.buf.getvalue())[-1])
    wall = time.time() - T0
    print(json.dumps({
        "wall_s": wall, "convert_s": rtf * info.frames / info.samplerate, "output_s": info.frames / info.samplerate, "rtf": rtf, "stages_s": STAGES,
        "output": wavs[-1], "threads": torch.get_num_threads(),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__},
    }))


if __name__ == "__main__":
    main()

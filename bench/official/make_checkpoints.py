"""Official-size random-weight checkpoints in the official on-disk formats, for the side-by-side benchmark.

    python bench/official/make_checkpoints.py --checkout /work/pyref/seed-vc --out /work/pyref/hub

Builds every network with the official model classes of a Seed-VC checkout (so the key names, shapes and
weight-norm parametrisations are exactly what the official loaders read), draws seeded random weights, and
writes a hub folder laid out `org/repo/file`, like ../shared/golden/hub:

  Plachta/Seed-VC/DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth  {'net': {'cfm', 'length_regulator'}}
  Plachta/Seed-VC/config_dit_mel_seed_uvit_whisper_small_wavenet.yml         the checkout's preset, unchanged
  funasr/campplus/campplus_cn_common.bin                                     CAMPPlus state_dict (xvector.dense.*)
  nvidia/bigvgan_v2_22khz_80band_256x/{bigvgan_generator.pt,config.json}     {'generator': ...}, weight norm kept
  openai/whisper-small/{model.safetensors,config.json,preprocessor_config.json}  encoder + decoder, fp32

Speed does not depend on the values, only on the sizes, as long as activations stay finite and away from
subnormals; the weights are drawn so they do (checked at the end with one forward of each network).
Idempotent: files that exist are kept unless --force.
"""
import argparse
import json
import math
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def randomise(module, generator, torch):
    """Seeded weights with O(1) activations: matrices N(0, 1/fan_in), vectors that scale 1 + N(0, 0.1^2), shifts
    N(0, 0.1^2), log-scale snake parameters N(0, 0.2^2); weight-norm magnitudes g = ||v|| (so the folded weight is v).
    Buffers (positions, frequencies, anti-alias filters, BatchNorm statistics) keep their constructed values."""
    params = dict(module.named_parameters())
    for name, p in params.items():
        with torch.no_grad():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "weight_g":
                continue
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
            elif leaf in ("alpha", "beta"):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.2)
            elif leaf == "bias":
                p.copy_(torch.randn(p.shape, generator=generator) * 0.1)
            else:
                p.copy_(1 + torch.randn(p.shape, generator=generator) * 0.1)
    for name, p in params.items():
        if name.endswith(".weight_g"):
            v = params[name[: -len("weight_g")] + "weight_v"]
            with torch.no_grad():
                dims = tuple(range(1, v.dim()))
                p.copy_(v.norm(dim=dims, keepdim=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkout", required=True, help="an official Seed-VC source tree (inference.py, modules/, configs/)")
    ap.add_argument("--out", required=True, help="hub folder to write (org/repo/file)")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    sys.path[:0] = [os.path.join(HERE, "stand-ins"), os.path.abspath(args.checkout)]
    import torch
    import yaml

    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(args.seed)
    out = os.path.abspath(args.out)

    def target(repo, name):
        d = os.path.join(out, repo)
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def wanted(*paths):
        return args.force or not all(os.path.exists(p) for p in paths)

    # DiT + length regulator, with the official YAML (whisper-small-wavenet preset) unchanged.
    from modules.commons import build_model, recursive_munch

    yml_src = os.path.join(args.checkout, "configs", "presets", "config_dit_mel_seed_uvit_whisper_small_wavenet.yml")
    yml = target("Plachta/Seed-VC", "config_dit_mel_seed_uvit_whisper_small_wavenet.yml")
    dit_file = target("Plachta/Seed-VC", "DiT_seed_v2_uvit_whisper_small_wavenet_bigvgan_pruned.pth")
    if wanted(yml, dit_file):
        shutil.copyfile(yml_src, yml)
        config = yaml.safe_load(open(yml_src))
        params = recursive_munch(config["model_params"])
        params.dit_type = "DiT"
        model = build_model(params, stage="DiT")
        for key in ("cfm", "length_regulator"):
            randomise(model[key], g, torch)
        torch.save({"net": {"cfm": model.cfm.state_dict(), "length_regulator": model.length_regulator.state_dict()}}, dit_file)
        print(f"wrote {dit_file}")

    # CAMPPlus, stored with the original 3D-Speaker key names (xvector.dense.*) like the official file.
    from modules.campplus.DTDNN import CAMPPlus

    camp_file = target("funasr/campplus", "campplus_cn_common.bin")
    if wanted(camp_file):
        camp = CAMPPlus(feat_dim=80, embedding_size=192)
        randomise(camp, g, torch)
        sd = {("xvector." + k if k.startswith("dense.") else k): v for k, v in camp.state_dict().items()}
        torch.save(sd, camp_file)
        print(f"wrote {camp_file}")

    # BigVGAN v2 22 kHz 80 band 256x: the checkout's config.json is that model's (1536 channels).
    from modules.bigvgan import bigvgan
    from modules.bigvgan.env import AttrDict

    voc_cfg = target("nvidia/bigvgan_v2_22khz_80band_256x", "config.json")
    voc_file = target("nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan_generator.pt")
    if wanted(voc_cfg, voc_file):
        h = json.load(open(os.path.join(args.checkout, "modules", "bigvgan", "config.json")))
        assert h["upsample_initial_channel"] == 1536 and h["num_mels"] == 80 and h["hop_size"] == 256, "unexpected BigVGAN config"
        voc = bigvgan.BigVGAN(AttrDict(h), use_cuda_kernel=False)
        randomise(voc, g, torch)
        torch.save({"generator": voc.state_dict()}, voc_file)
        json.dump(h, open(voc_cfg, "w"), indent=4)
        print(f"wrote {voc_file}")

    # Whisper-small in the Hugging Face layout (WhisperForConditionalGeneration, fp32 safetensors).
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    wdir = os.path.join(out, "openai", "whisper-small")
    if wanted(*(os.path.join(wdir, f) for f in ("model.safetensors", "config.json", "preprocessor_config.json"))):
        torch.manual_seed(args.seed + 1)
        cfg = WhisperConfig(
            vocab_size=51865, num_mel_bins=80, d_model=768, encoder_layers=12, encoder_attention_heads=12,
            encoder_ffn_dim=3072, decoder_layers=12, decoder_attention_heads=12, decoder_ffn_dim=3072,
            max_source_positions=1500, max_target_positions=448, activation_function="gelu", scale_embedding=False,
            pad_token_id=50257, bos_token_id=50257, eos_token_id=50257, decoder_start_token_id=50258,
            begin_suppress_tokens=[220, 50257], architectures=["WhisperForConditionalGeneration"],
        )
        wm = WhisperForConditionalGeneration(cfg).eval()
        wm.save_pretrained(wdir, safe_serialization=True)
        WhisperFeatureExtractor(feature_size=80).save_pretrained(wdir)
        print(f"wrote {wdir}")

    # One forward each at small sizes: finite, O(1) outputs (subnormals or overflow would skew the timing).
    camp = CAMPPlus(feat_dim=80, embedding_size=192)
    camp.load_state_dict(torch.load(camp_file, map_location="cpu"))
    emb = camp.eval()(torch.randn(1, 300, 80))
    voc = bigvgan.BigVGAN(AttrDict(json.load(open(voc_cfg))), use_cuda_kernel=False)
    voc.load_state_dict(torch.load(voc_file, map_location="cpu")["generator"])
    voc.remove_weight_norm()
    wave = voc.eval()(torch.randn(1, 80, 20))
    for name, x in (("campplus", emb), ("bigvgan", wave)):
        assert torch.isfinite(x).all(), f"{name}: non-finite output"
        print(f"check {name}: output rms {x.pow(2).mean().sqrt().item():.3g}")


if __name__ == "__main__":
    main()

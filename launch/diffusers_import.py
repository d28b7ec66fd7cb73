#!/usr/bin/env python3
"""diffusers in: turn a diffusers Stable-Diffusion-class model into what imprint trains an identity adapter against.

    .venv/bin/python launch/diffusers_import.py --model MODEL_DIR --out OUT --image-size 512 --id-tokens 4 --id-dim 128
    .venv/bin/python launch/diffusers_import.py --tiny --out OUT ...   (a small random model, made here; for tests)

MODEL_DIR is a local diffusers pipeline folder (unet/, vae/, and for embedding captions text_encoder/ and
tokenizer/: what StableDiffusionPipeline.save_pretrained writes). OUT receives

  generator.pt    imprint's TorchScript generator (objective.denoise.generator_script): the FROZEN UNet with
                  diffusers' own IP-Adapter attention processor (IPAdapterAttnProcessor2_0) on every cross-attention
                  layer, its to_k_ip / to_v_ip initialised from the layer's to_k / to_v (IP-Adapter's recipe), and
                  diffusers' ImageProjection (Linear + LayerNorm) turning imprint's identity tokens [B, K, D],
                  flattened to [B, K*D], into the 4 image tokens those processors attend to. Its forward is
                  forward(x_t, t, content [B, L, Dc] text hidden states, id_tokens [B, K, D], id_scale: float).
                  The adapter weights (objective.denoise.adapter_pattern, written in import.json) are exactly the
                  ImageProjection and the to_k_ip / to_v_ip weights: what diffusers' IP-Adapter file holds.
  autoencoder.pt  the paired AutoencoderKL as objective.denoise.autoencoder_script: encode(x) -> the posterior's
                  mean (deterministic, so a resumed run is bitwise the same), decode(z); pixels in [-1, 1];
                  attribute scale_factor (the VAE's config.scaling_factor).
  import.json     what imprint's config needs (latent shape, text length and width, schedule, adapter_pattern)
                  and the map from the generator file's adapter parameter names to diffusers' IP-Adapter keys,
                  which `imprint export --format diffusers` uses.
  model/          with --tiny only: the random pipeline itself (save_pretrained), to embed captions with and to
                  load the exported adapter into.

Why a trace: diffusers' UNet cannot be compiled by torch.jit.script; torch.jit.trace records it for one image
size (the latent size of --image-size) and any batch size. The identity scale is a traced input, so id_scale 0
(the identity-dropped floor) and 1 run the same graph.
"""
import argparse
import json
import os
import re
import shutil
import sys
import warnings


def fail(message, code=2):
    print(f"diffusers_import: {message}", file=sys.stderr)
    sys.exit(code)


def byte_level_alphabet():
    """The 256 printable stand-ins GPT-2/CLIP byte-level BPE uses for the 256 byte values, in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tiny_pipeline(out_dir, seed, sample_size):
    """A small random StableDiffusionPipeline with the real classes (UNet2DConditionModel, AutoencoderKL,
    CLIPTextModel, a byte-level CLIPTokenizer written here), saved to out_dir."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    # Two VAE levels: latents are half the image side; the UNet has a cross-attention down and up block and a
    # cross-attention mid block, as SD 1.5 (which has three of each) does.
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64),
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=32, sample_size=sample_size * 2)
    unet = UNet2DConditionModel(sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                                num_hidden_layers=2, vocab_size=514, max_position_embeddings=16,
                                                bos_token_id=512, eos_token_id=513, pad_token_id=513))
    tok_dir = os.path.join(out_dir, ".tokenizer-src")
    os.makedirs(tok_dir, exist_ok=True)
    # A byte-level BPE vocabulary without merges: every byte, alone and word-final, plus the two specials.
    chars = byte_level_alphabet()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    with open(os.path.join(tok_dir, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(tok_dir, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    tokenizer = CLIPTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"),
                              model_max_length=16)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    model_dir = os.path.join(out_dir, "model")
    pipe.save_pretrained(model_dir, safe_serialization=True)
    shutil.rmtree(tok_dir)
    return model_dir


def device_following_time_proj(proj):
    """diffusers' Timesteps with its frequencies in a buffer. diffusers' get_timestep_embedding makes them with
    torch.arange(..., device=timesteps.device), which a trace records as a constant device (pytorch#145995): a
    generator traced here on the CPU would fail on a GPU. Same ops in the same order: bitwise the same values."""
    import math

    import torch

    class DeviceFollowingTimesteps(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.half = proj.num_channels // 2
            self.flip = bool(proj.flip_sin_to_cos)
            self.scale = float(proj.scale)
            self.odd = proj.num_channels % 2 == 1
            exponent = -math.log(10000) * torch.arange(start=0, end=self.half, dtype=torch.float32)
            self.register_buffer("freqs", torch.exp(exponent / (self.half - proj.downscale_freq_shift)))

        def forward(self, timesteps):
            emb = timesteps[:, None].float() * self.freqs[None, :]
            emb = self.scale * emb
            emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
            if self.flip:
                emb = torch.cat([emb[:, self.half:], emb[:, :self.half]], dim=-1)
            if self.odd:
                emb = torch.nn.functional.pad(emb, (0, 1, 0, 0))
            return emb

    replacement = DeviceFollowingTimesteps()
    t = torch.tensor([0, 1, 17, 500, 999])
    if not torch.equal(replacement(t), proj(t)):
        fail("internal: the device-following timestep embedding differs from diffusers' Timesteps", 1)
    return replacement


def refuse_baked_device(graphs, what):
    """A traced graph that names the CPU as a constant device would run on the CPU only (a tensor made there meets
    a GPU one): refused here, where it was made, not on a GPU node at the first step."""
    for graph in graphs:
        lines = [line.strip() for line in str(graph).splitlines() if '"cpu"' in line]
        if lines:
            fail(f"internal: the traced {what} fixes the CPU as a device ({lines[0][:120]}): it would not run on a "
                 "GPU", 1)


def ip_adapter_processors(unet, num_tokens):
    """diffusers' own IP-Adapter processors on every cross-attention layer, numbered as diffusers' loader numbers
    them (unet._convert_ip_adapter_attn_to_diffusers: 1, 3, 5, ... over the ordered list of ALL attention
    processors, self-attention ones included), to_k_ip / to_v_ip copied from the layer's to_k / to_v."""
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0, IPAdapterAttnProcessor2_0

    modules = dict(unet.named_modules())
    processors, numbered = {}, []
    key_id = 1
    for name in unet.attn_processors.keys():
        attn = modules[name[: -len(".processor")]]
        if name.endswith("attn1.processor"):
            processors[name] = AttnProcessor2_0()
            continue
        if not getattr(attn, "is_cross_attention", True):
            # diffusers' loader would number it as a cross-attention layer: the keys would not line up.
            fail(f"{name}: an attention layer that is neither attn1 nor cross-attention; not an SD-1.5/2-class UNet")
        hidden, context = attn.to_k.weight.shape
        proc = IPAdapterAttnProcessor2_0(hidden_size=hidden, cross_attention_dim=context, num_tokens=(num_tokens,),
                                         scale=1.0)
        with torch.no_grad():
            proc.to_k_ip[0].weight.copy_(attn.to_k.weight)
            proc.to_v_ip[0].weight.copy_(attn.to_v.weight)
        processors[name] = proc
        numbered.append((name, key_id))
        key_id += 2
    unet.set_attn_processor(processors)
    return numbered


IP_TOKENS = 4  # diffusers' loader gives ImageProjection ("proj.weight") exactly 4 image tokens


def install_ip_adapter(unet, image_embed_dim):
    """diffusers' IP-Adapter on `unet`, as its loader would install it: the processors (ip_adapter_processors) and
    an ImageProjection of image_embed_dim-wide image embeds to IP_TOKENS tokens as the UNet's encoder_hid_proj,
    which it feeds added_cond_kwargs["image_embeds"] through. Returns (the numbered processors, the projection)."""
    from diffusers.models.embeddings import ImageProjection, MultiIPAdapterImageProjection

    numbered = ip_adapter_processors(unet, IP_TOKENS)
    image_proj = ImageProjection(image_embed_dim=image_embed_dim, cross_attention_dim=unet.config.cross_attention_dim,
                                 num_image_text_embeds=IP_TOKENS)
    unet.encoder_hid_proj = MultiIPAdapterImageProjection([image_proj])
    unet.config.encoder_hid_dim_type = "ip_image_proj"
    return numbered, image_proj


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a local diffusers pipeline folder (unet/, vae/)")
    src.add_argument("--tiny", action="store_true", help="make a small random pipeline (for tests) in OUT/model")
    ap.add_argument("--out", required=True, help="output folder (refused if it holds files, unless --overwrite)")
    ap.add_argument("--image-size", type=int, required=True, help="pixel side of the training images (data.image_size)")
    ap.add_argument("--id-tokens", type=int, required=True, help="imprint's identity tokens K (model.tokens)")
    ap.add_argument("--id-dim", type=int, required=True, help="their width D (model.embed_dim)")
    ap.add_argument("--seed", type=int, default=0, help="initialisation of the image projection (and --tiny)")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()

    if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
        fail(f"{args.out}: the output folder exists and is not empty (pass --overwrite to replace what it holds)")
    if args.id_tokens < 1 or args.id_dim < 1 or args.image_size < 8:
        fail("--id-tokens and --id-dim must be >= 1 and --image-size >= 8")
    # Everything is written into OUT.partial, renamed to OUT at the end: a failure leaves no half-made OUT.
    final_out = os.path.abspath(args.out)
    stage = final_out.rstrip("/") + ".partial"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    try:
        build(args, stage, final_out)
        shutil.rmtree(final_out, ignore_errors=True)
        os.rename(stage, final_out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(SUMMARY[0])


SUMMARY = [""]


def build(args, out, final_out):
    """Writes the import into `out`; paths recorded inside name `final_out`, where it will be."""

    # Library notices that are not the user's business here (the deprecation of torch.jit; accelerate).
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    import diffusers
    from diffusers.utils import logging as diffusers_logging
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(args.seed)
    if args.tiny:
        model_dir = tiny_pipeline(out, args.seed, args.image_size // 2)
    else:
        model_dir = args.model
    for part in ("unet", "vae"):
        if not os.path.isfile(os.path.join(model_dir, part, "config.json")):
            fail(f"{model_dir}: no {part}/config.json — a diffusers pipeline folder holds unet/ and vae/ "
                 "(StableDiffusionPipeline.save_pretrained)")
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(model_dir, subfolder="vae").eval()
    if unet.encoder_hid_proj is not None:
        fail(f"{model_dir}/unet already has an encoder_hid_proj (encoder_hid_dim_type "
             f"{unet.config.encoder_hid_dim_type}): not a plain text-conditioned UNet")
    if unet.config.addition_embed_type is not None or unet.config.class_embed_type is not None:
        fail(f"{model_dir}/unet takes added conditions (addition_embed_type {unet.config.addition_embed_type}, "
             f"class_embed_type {unet.config.class_embed_type}; SDXL's text_time): only SD-1.5/2-class UNets, "
             "conditioned on text hidden states alone, are imported")
    scheduler = {}
    sched_cfg = os.path.join(model_dir, "scheduler", "scheduler_config.json")
    if os.path.isfile(sched_cfg):
        scheduler = json.load(open(sched_cfg))
    if scheduler.get("prediction_type", "epsilon") not in ("epsilon", "v_prediction"):
        fail(f"{sched_cfg}: prediction_type {scheduler['prediction_type']}: imprint trains eps or v prediction")
    if scheduler.get("beta_schedule", "scaled_linear") != "scaled_linear" or \
            abs(scheduler.get("beta_start", 0.00085) - 0.00085) > 1e-9 or \
            abs(scheduler.get("beta_end", 0.012) - 0.012) > 1e-9 or scheduler.get("num_train_timesteps", 1000) != 1000:
        fail(f"{sched_cfg}: imprint trains against Stable Diffusion's schedule (scaled_linear, 0.00085 .. 0.012, "
             "1000 steps); this model was trained with another")
    for p in list(unet.parameters()) + list(vae.parameters()):
        p.requires_grad_(False)

    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    if args.image_size % (factor * 2 ** (len(unet.config.block_out_channels) - 1)):
        fail(f"--image-size {args.image_size} is not a multiple of the VAE's factor {factor} times the UNet's "
             f"{2 ** (len(unet.config.block_out_channels) - 1)}")
    latent = [vae.config.latent_channels, args.image_size // factor, args.image_size // factor]
    if unet.config.in_channels != latent[0]:
        fail(f"the UNet takes {unet.config.in_channels} channels, the VAE makes {latent[0]}")
    context_dim = unet.config.cross_attention_dim
    if isinstance(context_dim, (list, tuple)):
        fail("a UNet with a different cross-attention width per block is not supported")

    from diffusers.models.embeddings import Timesteps
    if not isinstance(unet.time_proj, Timesteps):
        fail(f"{model_dir}/unet embeds timesteps with {type(unet.time_proj).__name__}, not diffusers' Timesteps")
    unet.time_proj = device_following_time_proj(unet.time_proj)

    numbered, image_proj = install_ip_adapter(unet, args.id_tokens * args.id_dim)
    if not numbered:
        fail(f"{model_dir}/unet has no cross-attention layer to add an identity branch to")

    class IpAdapterUnet(torch.nn.Module):
        """The traced part: the identity tokens, flattened, are the image embeds of one IP-Adapter image."""

        def __init__(self, unet):
            super().__init__()
            self.unet = unet
            self.ip_processors = [p for p in unet.attn_processors.values() if hasattr(p, "to_k_ip")]

        def forward(self, x_t, t, content, id_tokens, id_scale):
            for p in self.ip_processors:  # a traced input, so every scale runs the same graph
                p.scale = [id_scale]
            embeds = id_tokens.flatten(1).unsqueeze(1)  # [B, 1 image, K*D]
            return self.unet(x_t, t, encoder_hidden_states=content,
                             added_cond_kwargs={"image_embeds": [embeds]}, return_dict=False)[0]

    text_len = 77
    tok_cfg = os.path.join(model_dir, "tokenizer", "tokenizer_config.json")
    if os.path.isfile(tok_cfg):
        text_len = int(json.load(open(tok_cfg)).get("model_max_length", 77))
    B = 2
    x = torch.randn(B, *latent)
    t = torch.tensor([10, 900])
    ctx = torch.randn(B, text_len, context_dim)
    ids = torch.randn(B, args.id_tokens, args.id_dim)
    inner = IpAdapterUnet(unet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on python-side shape checks it records as constants
        traced = torch.jit.trace(inner, (x, t, ctx, ids, torch.tensor(1.0)), check_trace=False)

    # Names as imprint sees them (the file's parameter names) -> diffusers' IP-Adapter keys, kept in the file
    # (attribute ip_adapter_layout, JSON) for `imprint export --format diffusers`.
    file_names = dict((id(p), "g." + n) for n, p in traced.named_parameters())
    layout = {}
    for n, p in image_proj.named_parameters():
        layout[file_names[id(p)]] = "image_proj." + n.replace("image_embeds", "proj")
    modules = dict(unet.named_modules())
    for name, key_id in numbered:
        proc = modules[name]
        layout[file_names[id(proc.to_k_ip[0].weight)]] = f"ip_adapter.{key_id}.to_k_ip.weight"
        layout[file_names[id(proc.to_v_ip[0].weight)]] = f"ip_adapter.{key_id}.to_v_ip.weight"
    # Matches exactly these names (searched, ECMAScript) and nothing of the frozen UNet.
    pattern = r"(^|\.)(encoder_hid_proj\.|processor\.to_[kv]_ip\.)"

    class Generator(torch.nn.Module):
        ip_adapter_layout: str
        # What it takes, so imprint names a mismatch before the first step (generation/scripted_generator.h).
        expects_context_length: int
        expects_context_dim: int
        expects_id_tokens: int
        expects_id_dim: int

        def __init__(self, traced, layout):
            super().__init__()
            self.g = traced
            self.ip_adapter_layout = layout
            self.expects_context_length = text_len
            self.expects_context_dim = context_dim
            self.expects_id_tokens = args.id_tokens
            self.expects_id_dim = args.id_dim

        def forward(self, x_t, t, content, id_tokens, id_scale: float):
            scale = torch.full([], id_scale, dtype=x_t.dtype, device=x_t.device)
            return self.g(x_t, t, content, id_tokens, scale)

    generator = torch.jit.script(Generator(traced, json.dumps(layout, sort_keys=True)))
    refuse_baked_device([traced.inlined_graph], "UNet")
    # The traced graph must answer as the eager model does, at both identity scales and another batch size.
    with torch.no_grad():
        for scale, rows in ((1.0, B), (0.0, B), (0.5, 3)):
            xx, tt = torch.randn(rows, *latent), torch.randint(0, 1000, (rows,))
            cc, ii = torch.randn(rows, text_len, context_dim), torch.randn(rows, args.id_tokens, args.id_dim)
            want = inner(xx, tt, cc, ii, torch.tensor(scale))
            got = generator(xx, tt, cc, ii, scale)
            err = ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()
            if err > 1e-5:
                fail(f"the traced UNet differs from diffusers' at id_scale {scale}, batch {rows}: {err:.2e}", 1)
    generator.save(os.path.join(out, "generator.pt"))

    names = [n for n, _ in generator.named_parameters()]
    if sorted(n for n in names if re.search(pattern, n)) != sorted(layout):
        fail("internal: the adapter pattern does not pick exactly the IP-Adapter weights", 1)

    class Vae(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def encode(self, x):
            return self.vae.encode(x).latent_dist.mean

        def decode(self, z):
            return self.vae.decode(z).sample

    v = Vae(vae)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced_vae = torch.jit.trace_module(v, {"encode": torch.rand(1, 3, args.image_size, args.image_size) * 2 - 1,
                                                "decode": torch.randn(1, *latent)}, check_trace=False)

    class ScriptedVae(torch.nn.Module):
        scale_factor: float

        def __init__(self, traced, scale_factor):
            super().__init__()
            self.v = traced
            self.scale_factor = scale_factor

        @torch.jit.export
        def encode(self, x):
            return self.v.encode(x)

        @torch.jit.export
        def decode(self, z):
            return self.v.decode(z)

        def forward(self, x):
            return self.v.decode(self.v.encode(x))

    refuse_baked_device([traced_vae.encode.inlined_graph, traced_vae.decode.inlined_graph], "VAE")
    torch.jit.script(ScriptedVae(traced_vae, float(vae.config.scaling_factor))).save(
        os.path.join(out, "autoencoder.pt"))

    info = {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "model": os.path.join(final_out, "model") if args.tiny else os.path.abspath(model_dir),
        "image_size": args.image_size,
        "latent_shape": latent,
        "vae_scaling_factor": float(vae.config.scaling_factor),
        "text_length": text_len,
        "text_width": context_dim,
        "id_tokens": args.id_tokens,
        "id_dim": args.id_dim,
        "ip_tokens": IP_TOKENS,
        "schedule": "scaled_linear",
        "prediction": "v" if scheduler.get("prediction_type", "epsilon") == "v_prediction" else "eps",
        "adapter_pattern": pattern,
        "ip_adapter_layout": layout,
    }
    with open(os.path.join(out, "import.json"), "w") as f:
        json.dump(info, f, indent=1)
    n_adapter = sum(p.numel() for n, p in generator.named_parameters() if n in layout)
    n_all = sum(p.numel() for p in generator.parameters())
    SUMMARY[0] = (f"diffusers_import: {final_out}/generator.pt ({len(numbered)} cross-attention layers with an identity "
          f"branch, {n_adapter} adapter weights of {n_all}), autoencoder.pt (latents {latent}), import.json")


if __name__ == "__main__":
    main()

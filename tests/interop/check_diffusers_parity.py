"""check_diffusers_parity.py EXPORT_DIR IMPORT_DIR CAPTIONS_NPY WORK

What `imprint export --format diffusers` wrote behaves in diffusers as it trained in imprint:
  1. diffusers' own loader reads it: pipe.load_ip_adapter(EXPORT_DIR, subfolder="",
     weight_name="ip_adapter.safetensors", image_encoder_folder=None);
  2. the UNet's prediction with the adapter, given the exported encoder's ip_adapter_image_embeds, equals imprint's
     trained generator's (EXPORT_DIR/generator.pt, written by imprint) on the same latents, timesteps, caption
     tokens and reference images, to 1e-4 relative in float32, at set_ip_adapter_scale 0 and 1 (and the
     identity changes the prediction: the comparison is not of two things that ignore it);
  3. the adapter trained: its weights differ from the import's initialisation, and the UNet's did not move;
  4. a StableDiffusionPipeline call with the adapter makes finite images;
  5. negative controls: the same comparison FAILS for a copy of the file with two cross-attention layers' keys
     swapped (a wrong k index) and for one with a to_k_ip weight transposed.
"""
import json
import os
import shutil
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import StableDiffusionPipeline  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

diffusers_logging.set_verbosity_error()
diffusers_logging.disable_progress_bar()
export_dir, import_dir, captions, work = sys.argv[1:5]
info = json.load(open(os.path.join(import_dir, "import.json")))
torch.manual_seed(0)

encoder = torch.jit.load(os.path.join(export_dir, "image_encoder", "encoder.torchscript.pt"))
imprint_generator = torch.jit.load(os.path.join(export_dir, "generator.pt"))
reference = torch.rand(2, 3, 45, 38)  # any size: the encoder crops and resizes inside
with torch.no_grad():
    tokens, _ = encoder(reference)
    embeds = encoder.ip_adapter_image_embeds(reference)
assert embeds.shape == (2, 1, tokens.shape[1] * tokens.shape[2]), embeds.shape
latents = torch.randn(2, *info["latent_shape"])
t = torch.tensor([37, 811])
text = torch.from_numpy(np.load(captions)[:2]).float()


def diffusers_prediction(adapter_dir, scale):
    pipe = StableDiffusionPipeline.from_pretrained(info["model"], safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_ip_adapter(adapter_dir, subfolder="", weight_name="ip_adapter.safetensors", image_encoder_folder=None)
    pipe.set_ip_adapter_scale(scale)
    with torch.no_grad():
        out = pipe.unet(latents, t, encoder_hidden_states=text, added_cond_kwargs={"image_embeds": [embeds]}).sample
    return pipe, out


def relative(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


worst = 0.0
imprint_at = {}
for scale in (0.0, 1.0):
    _, got = diffusers_prediction(export_dir, scale)
    with torch.no_grad():
        want = imprint_generator(latents, t, text, tokens, scale)
    imprint_at[scale] = want
    err = relative(got, want)
    worst = max(worst, err)
    print(f"id_scale {scale}: diffusers vs imprint, max relative difference {err:.2e}")
    assert err <= 1e-4, f"diffusers' UNet with the exported adapter differs from imprint's generator at scale {scale}"
effect = relative(imprint_at[1.0], imprint_at[0.0])
print(f"the identity changes the prediction by {effect:.2e} relative")
assert effect > 1e-3, "the identity tokens do not change the prediction: the comparison would not see a wrong adapter"

exported = load_file(os.path.join(export_dir, "ip_adapter.safetensors"))
initial = {n: p for n, p in torch.jit.load(os.path.join(import_dir, "generator.pt")).named_parameters()}
layout = info["ip_adapter_layout"]
moved = sum(1 for name, key in layout.items() if not torch.equal(exported[key], initial[name]))
print(f"{moved} of {len(layout)} adapter tensors moved from the import's initialisation")
assert moved == len(layout), "not every adapter tensor trained"
trained = dict(imprint_generator.named_parameters())
frozen_moved = [n for n, p in initial.items() if n not in layout and not torch.equal(trained[n], p)]
assert not frozen_moved, f"frozen UNet weights moved: {frozen_moved[:3]}"
print(f"the {len(initial) - len(layout)} frozen UNet tensors are bitwise as imported")

pipe, _ = diffusers_prediction(export_dir, 1.0)
with torch.no_grad():
    images = pipe(prompt_embeds=text[:1], negative_prompt_embeds=torch.zeros_like(text[:1]),
                  ip_adapter_image_embeds=[torch.cat([torch.zeros_like(embeds[:1]), embeds[:1]])],
                  num_inference_steps=3, height=info["image_size"], width=info["image_size"], output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
assert images.shape == (1, info["image_size"], info["image_size"], 3) and np.isfinite(images).all(), images.shape
print(f"pipeline with the adapter: images {list(images.shape)}, pixel mean {images.mean():.3f}")


def must_differ(name, edit):
    bad_dir = os.path.join(work, name)
    shutil.rmtree(bad_dir, ignore_errors=True)
    os.makedirs(bad_dir)
    tensors = dict(exported)
    edit(tensors)
    save_file(tensors, os.path.join(bad_dir, "ip_adapter.safetensors"))
    _, got = diffusers_prediction(bad_dir, 1.0)  # same shapes: it loads, and must then differ
    err = relative(got, imprint_at[1.0])
    print(f"negative control '{name}': relative difference {err:.2e}")
    assert err > 1e-4, f"the comparison does not see '{name}'"


def swap_layers(tensors):
    for kind in ("to_k_ip", "to_v_ip"):
        a, b = f"ip_adapter.1.{kind}.weight", f"ip_adapter.3.{kind}.weight"
        tensors[a], tensors[b] = tensors[b], tensors[a]


def transpose(tensors):
    key = next(k for k, v in sorted(tensors.items()) if k.endswith("to_k_ip.weight") and v.shape[0] == v.shape[1])
    tensors[key] = tensors[key].t().contiguous()


must_differ("wrong-k-index", swap_layers)
must_differ("transposed-weight", transpose)
print(f"parity: {worst:.2e} relative at most (limit 1e-4)")

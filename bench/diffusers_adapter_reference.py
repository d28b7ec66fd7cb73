"""The adapter-training step written the standard way in Python, for bench/diffusers_adapter_compare.sh: diffusers'
UNet (eager) with the same IP-Adapter processors and ImageProjection as launch/diffusers_import.py installs, its
VAE frozen, imprint's exported encoder (TorchScript, trained), AdamW over the encoder + adapter, the MSE of the
noise prediction — as tencent-ailab/IP-Adapter's tutorial_train.py does it, on the CPU.

    python diffusers_adapter_reference.py MODEL_DIR ENCODER_PT ID_TOKENS ID_DIM IMAGE_SIZE BATCH STEPS THREADS

Prints "reference: <samples/s median> <ms/step median> <ms of it encoding the targets with the VAE>" over the
steps after the first 3.
"""
import os
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "launch"))

import torch  # noqa: E402
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel  # noqa: E402
from diffusers.utils import logging as diffusers_logging  # noqa: E402

from diffusers_import import install_ip_adapter  # noqa: E402

diffusers_logging.set_verbosity_error()
model, encoder_pt = sys.argv[1], sys.argv[2]
tokens, dim, size, batch, steps, threads = (int(a) for a in sys.argv[3:9])
torch.set_num_threads(threads)
torch.manual_seed(0)

unet = UNet2DConditionModel.from_pretrained(model, subfolder="unet")
vae = AutoencoderKL.from_pretrained(model, subfolder="vae").eval()
unet.requires_grad_(False)
vae.requires_grad_(False)
install_ip_adapter(unet, tokens * dim)
unet.train()
adapter = [p for n, p in unet.named_parameters() if "to_k_ip" in n or "to_v_ip" in n or "encoder_hid_proj" in n]
for p in adapter:
    p.requires_grad_(True)
encoder = torch.jit.load(encoder_pt)
encoder.train()
params = adapter + [p for p in encoder.parameters()]
for p in params:
    p.requires_grad_(True)
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)
text = torch.randn(batch, 16, unet.config.cross_attention_dim)

times, vae_times = [], []
for step in range(steps):
    reference, target = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    start = time.perf_counter()
    with torch.no_grad():
        latents = vae.encode(target * 2 - 1).latent_dist.mean * vae.config.scaling_factor
    vae_times.append(time.perf_counter() - start)
    noise = torch.randn_like(latents)
    t = torch.randint(0, 1000, (batch,))
    noisy = scheduler.add_noise(latents, noise, t)
    id_tokens, _ = encoder(reference)
    pred = unet(noisy, t, encoder_hidden_states=text,
                added_cond_kwargs={"image_embeds": [id_tokens.flatten(1).unsqueeze(1)]}).sample
    loss = torch.nn.functional.mse_loss(pred, noise)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - start)
ms = statistics.median(times[3:]) * 1000
vae_ms = statistics.median(vae_times[3:]) * 1000
print(f"reference: {batch / (ms / 1000):.1f} {ms:.1f} {vae_ms:.1f}")

#!/usr/bin/python3
"""PyTorch DDP reference for bench/ddp_compare.sh: the same image encoder as imprint's models/ (conv blocks
without bias + GroupNorm + GELU, position table, 4-head token resampler, pooled projection), the same
symmetric InfoNCE with global negatives (all-gather with backward) and learned temperature, AdamW with
global-norm clipping, on the same batch shapes, trained data-parallel over the gloo backend.

Run under mpirun (rank and world size come from OMPI_COMM_WORLD_*), with the project venv's Python (the torch
imprint is built against; bench/smoke_runs.sh does so) or Debian's /usr/bin/python3 with python3-torch:
  mpirun --allow-run-as-root --oversubscribe -np 2 .venv/bin/python bench/ddp_reference.py --steps 60
Prints one line: samples/s over the timed steps (a sample is one reference/target pair).
"""
import argparse
import math
import os
import time

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn as nn
import torch.nn.functional as F


def conv_block(cin, cout, stride):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.GroupNorm(8 if cout % 8 == 0 else 1, cout), nn.GELU()]


class TokenResampler(nn.Module):
    def __init__(self, in_dim, dim, tokens, heads=4):
        super().__init__()
        self.dim, self.heads = dim, heads if dim % heads == 0 else 1
        self.queries = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.norm_in = nn.LayerNorm(in_dim)
        self.to_k = nn.Linear(in_dim, dim, bias=False)
        self.to_v = nn.Linear(in_dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_out = nn.LayerNorm(dim)
        self.mlp1 = nn.Linear(dim, 2 * dim)
        self.mlp2 = nn.Linear(2 * dim, dim)

    def forward(self, f):
        b, n, _ = f.shape
        k_tokens, hd = self.queries.shape[0], self.dim // self.heads
        x = self.norm_in(f.contiguous())
        k = self.to_k(x).view(b, n, self.heads, hd).transpose(1, 2)
        v = self.to_v(x).view(b, n, self.heads, hd).transpose(1, 2)
        q = self.queries.view(1, k_tokens, self.heads, hd).transpose(1, 2).expand(b, -1, -1, -1)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), -1)
        t = (attn @ v).transpose(1, 2).reshape(b, k_tokens, self.dim)
        t = self.queries.unsqueeze(0) + self.proj(t)
        return t + self.mlp2(F.gelu(self.mlp1(self.norm_out(t))))


class ImageEncoderAndLoss(nn.Module):
    def __init__(self, width, dim, tokens, size, temperature=0.07):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(*conv_block(3, w, 1), *conv_block(w, 2 * w, 2), *conv_block(2 * w, 4 * w, 2),
                                   *conv_block(4 * w, 4 * w, 1))
        side = (size + 3) // 4
        self.position = nn.Parameter(torch.randn(1, side * side, 4 * w) * 0.02)
        self.resampler = TokenResampler(4 * w, dim, tokens)
        self.pool_norm = nn.LayerNorm(dim)
        self.pool_proj = nn.Linear(dim, dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def encode(self, x):
        f = self.trunk(x).flatten(2).transpose(1, 2).contiguous()
        tokens = self.resampler(f + self.position)
        return self.pool_proj(self.pool_norm(tokens.mean(1)))

    def forward(self, ref, tgt):
        r = F.normalize(self.encode(ref), dim=1)
        t = F.normalize(self.encode(tgt), dim=1)
        all_r = torch.cat(dist_fn.all_gather(r), 0)
        all_t = torch.cat(dist_fn.all_gather(t), 0)
        scale = self.log_scale.clamp(max=math.log(100)).exp()
        labels = torch.arange(r.shape[0]) + dist.get_rank() * r.shape[0]
        return 0.5 * (F.cross_entropy(r @ all_t.t() * scale, labels) + F.cross_entropy(t @ all_r.t() * scale, labels))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=64, help="global batch of pairs")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--tokens", type=int, default=4)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--port", type=int, default=29533, help="rendezvous port on 127.0.0.1")
    a = p.parse_args()
    rank, world = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0)), int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(ImageEncoderAndLoss(a.width, a.dim, a.tokens, a.size))
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() >= 2)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    local = a.batch // world
    gen = torch.Generator().manual_seed(rank)
    pool = [torch.randn(local, 3, a.size, a.size, generator=gen) for _ in range(8)]
    for step in range(a.steps):
        if step == a.warmup:
            dist.barrier()
            start = time.perf_counter()
        loss = model(pool[step % 8], pool[(step + 1) % 8])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(f"ddp samples/s {a.batch * (a.steps - a.warmup) / elapsed:.1f} "
              f"(world {world}, global batch {a.batch}, {a.steps - a.warmup} timed steps, torch {torch.__version__})")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Round trip of `imprint export` and `imprint embed` through Python's own readers.

  check_export.py IMPRINT EXPORT_DIR WORK_DIR

Loads EXPORT_DIR/model.safetensors with the `safetensors` package and EXPORT_DIR/encoder.torchscript.pt with
`torch.jit.load`; checks the metadata, that the weights are the TorchScript module's parameters, and that the
TorchScript module on files written here — images of the training size and of other sizes, which the module
crops and resizes itself — gives what `imprint embed` gives on the same files (pooled and tokens), and that the
documented line loads model.safetensors into the TorchScript module.
"""
import json
import os
import struct
import subprocess
import sys
import wave
import zlib

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file


def write_png(path, rgb):
    """8-bit RGB PNG, no filter, one zlib stream (the PNG specification, minimal)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    imprint, export_dir, work = sys.argv[1:4]
    meta = safe_open(os.path.join(export_dir, "model.safetensors"), "pt").metadata()
    for key in ("format", "imprint_version", "modality", "embed_dim", "tokens", "step", "signature", "input"):
        assert key in meta, f"metadata lacks {key}: {meta}"
    assert meta["format"] == "imprint-encoder"
    assert json.load(open(os.path.join(export_dir, "export.json")))["step"] == meta["step"]
    weights = load_file(os.path.join(export_dir, "model.safetensors"))
    module = torch.jit.load(os.path.join(export_dir, "encoder.torchscript.pt"))
    script_state = dict(module.named_parameters())
    script_state.update(dict(module.named_buffers()))
    assert len(weights) == len(script_state), (sorted(weights), sorted(script_state))
    for name, tensor in weights.items():
        twin = script_state[name[len("encoder."):].replace(".", "_")]
        assert torch.equal(tensor, twin), f"{name} differs between safetensors and TorchScript"

    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(work, "files"), exist_ok=True)
    inputs, names = [], []
    exported = json.load(open(os.path.join(export_dir, "export.json")))
    assert exported["metric"] == "cosine" and "L2-normalise" in exported["pooled"], exported
    # The documented line loads model.safetensors into the TorchScript module (here: zeroed weights first).
    for p in module.parameters():
        p.data.zero_()
    module.load_state_dict({k[8:].replace(".", "_"): v for k, v in load_file(
        os.path.join(export_dir, "model.safetensors")).items()})
    if meta["modality"] == "image":
        size = int(meta["image_size"])
        # The training size, a larger non-square picture (cropped, area-averaged down) and a smaller one
        # (cropped, bilinear up): the module preprocesses each as `imprint embed` decodes the PNG.
        shapes = [(size, size), (size, size), (3 * size + 5, 2 * size + 3), (size // 2 + 3, size - 1),
                  (5 * size, 4 * size)]
        tokens_list, pooled_list = [], []
        for i, (h, w) in enumerate(shapes):
            rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            names.append(os.path.join(work, "files", f"sample_{i}.png"))
            write_png(names[-1], rgb)
            x = torch.from_numpy(rgb).permute(2, 0, 1)
            t, p = module(x.float().unsqueeze(0) / 255.0 if i % 2 == 0 else x)  # float [0, 1] or uint8
            tokens_list.append(t)
            pooled_list.append(p)
        tokens, pooled = torch.cat(tokens_list), torch.cat(pooled_list)
    else:
        rate = int(meta["sample_rate"])
        outs = []
        for i, length in enumerate((rate // 2, rate // 3, rate)):
            pcm = (rng.normal(0, 3000, size=length)).clip(-32768, 32767).astype(np.int16)
            names.append(os.path.join(work, "files", f"clip_{i}.wav"))
            with wave.open(names[-1], "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(pcm.tobytes())
            outs.append(module(torch.from_numpy(pcm).float().unsqueeze(0) / 32768.0))
        tokens = torch.cat([t for t, _ in outs])
        pooled = torch.cat([p for _, p in outs])
    assert tokens.shape[1:] == (int(meta["tokens"]), int(meta["embed_dim"])), tokens.shape

    out = os.path.join(work, "embed")
    ckpt = meta["checkpoint"]
    # --clip-seconds 0: whole files, as the module is given them here (embed's default cuts audio as eval does).
    subprocess.run([imprint, "embed", "--checkpoint", ckpt, "--input", os.path.join(work, "files"), "--out", out,
                    "--tokens", "--clip-seconds", "0"], check=True)
    index = [line.rstrip("\n").split("\t") for line in open(os.path.join(out, "index.tsv"))][1:]
    assert [os.path.basename(row[1]) for row in index] == sorted(os.path.basename(n) for n in names), index
    order = [sorted(names).index(n) for n in names]
    got_pooled = torch.from_numpy(np.load(os.path.join(out, "pooled.npy")))[order]
    got_tokens = torch.from_numpy(np.load(os.path.join(out, "tokens.npy")))[order]
    for what, mine, theirs in (("pooled", pooled, got_pooled), ("tokens", tokens, got_tokens)):
        err = ((mine - theirs).norm() / theirs.norm()).item()
        print(f"{meta['modality']} {what}: TorchScript vs imprint embed, relative difference {err:.2e}")
        assert err < 1e-5, f"{what} differs: {err}"
    if meta["modality"] == "audio":
        check_other_rates(imprint, module, meta, work)
    print("PASS")


def check_other_rates(imprint, module, meta, work):
    """Audio at other rates: forward(x, rate) resamples inside the module (a windowed sinc), imprint embed with
    libsoxr; the two resamplers differ slightly, so the embeddings agree closely, not exactly."""
    rate = int(meta["sample_rate"])
    folder = os.path.join(work, "rates")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(11)
    mine = {}
    for other in (2 * rate, rate * 3 // 2, 44100):
        t = np.arange(other) / other  # one second of tones well below the training rate's Nyquist frequency
        freqs = rng.uniform(80, 0.35 * rate, size=12)
        signal = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in freqs) / 12
        pcm = (signal * 20000).astype(np.int16)
        name = os.path.join(folder, f"at_{other}.wav")
        with wave.open(name, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(other)
            w.writeframes(pcm.tobytes())
        mine[os.path.basename(name)] = module(torch.from_numpy(pcm).float().unsqueeze(0) / 32768.0, other)[1][0]
    out = os.path.join(work, "rates-embed")
    subprocess.run([imprint, "embed", "--checkpoint", meta["checkpoint"], "--input", folder, "--out", out,
                    "--clip-seconds", "0"], check=True)
    index = [line.rstrip("\n").split("\t") for line in open(os.path.join(out, "index.tsv"))][1:]
    theirs = torch.from_numpy(np.load(os.path.join(out, "pooled.npy")))
    # Agreement must beat what tells two different clips apart, or the comparison says nothing.
    theirs_by_name = {os.path.basename(cols[1]): theirs[row] for row, cols in enumerate(index)}
    cos = torch.nn.functional.cosine_similarity
    others = max(cos(mine[a], theirs_by_name[b], dim=0).item() for a in mine for b in mine if a != b)
    for name, a in mine.items():
        same = cos(a, theirs_by_name[name], dim=0).item()
        print(f"audio at {name}: module resampling vs imprint embed (libsoxr), pooled cosine {same:.5f} "
              f"(another clip: at most {others:.5f})")
        assert same > 0.999 and 1 - same < (1 - others) / 10, f"{name}: cosine {same} vs {others}"


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes a small imprint dataset with h5py, following docs/dataset-format.md and nothing else.

  write_dataset.py DIR image|audio [lzf]

With `lzf`, the samples are compressed with h5py's own LZF filter, which plain libhdf5 cannot decode: the
checksums match but no sample reads back (what `imprint inspect` must catch).

Sample i of identity k holds a known pattern (tests/interop/pattern.py), so a reader can check values.
Identities 0..5, 3 samples each (identity 2 has 4); identities 4 and 5 are held out; two shards.
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from pattern import SIZE, RATE, image, clip  # noqa: E402


def fnv1a64(path):
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        for byte in f.read():
            h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    out, modality = sys.argv[1], sys.argv[2]
    extra = {"compression": "lzf"} if "lzf" in sys.argv[3:] else {}
    content = "content" in sys.argv[3:]  # version 2: content label of sample i of identity k is (k + i) % 3
    os.makedirs(out, exist_ok=True)
    counts = [3, 3, 4, 3, 3, 3]
    names = [f"speaker_{k}" if modality == "audio" else f"subject_{k}" for k in range(len(counts))]
    shards, first = [], 0
    for s, ids in enumerate([[0, 1, 2], [3, 4, 5]]):
        file = f"shard-{s:05d}.h5"
        identity = np.array([k for k in ids for _ in range(counts[k])], dtype=np.int32)
        with h5py.File(os.path.join(out, file), "w") as f:
            if modality == "image":
                imgs = np.stack([image(k, i) for k in ids for i in range(counts[k])])
                f.create_dataset("images", data=imgs, chunks=(len(imgs), SIZE, SIZE, 3) if extra else (1, SIZE, SIZE, 3), shuffle=bool(extra), **extra)
            else:
                clips = [clip(k, i) for k in ids for i in range(counts[k])]
                offsets = np.cumsum([0] + [len(c) for c in clips]).astype(np.int64)
                f.create_dataset("audio", data=np.concatenate(clips).astype(np.int16), shuffle=bool(extra), **extra)
                f.create_dataset("offsets", data=offsets)
            f.create_dataset("identity", data=identity)
            if content:
                f.create_dataset("content", data=np.array([(k + i) % 3 for k in ids for i in range(counts[k])], dtype=np.int32))
        path = os.path.join(out, file)
        shards.append({"file": file, "samples": int(len(identity)), "identity_begin": ids[0],
                       "identity_end": ids[-1] + 1, "bytes": os.path.getsize(path), "fnv1a64": fnv1a64(path)})
    manifest = {"format": "imprint-identity-dataset", "version": 1, "modality": modality,
                "identities": names, "holdout": [4, 5], "shards": shards}
    if content:
        manifest.update(version=2, content_labels=["c0", "c1", "c2"])
    manifest["image_size" if modality == "image" else "sample_rate"] = SIZE if modality == "image" else RATE
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()

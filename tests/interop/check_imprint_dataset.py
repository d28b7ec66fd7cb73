#!/usr/bin/python3
"""Reads a dataset that imprint wrote (DatasetWriter, pattern of tests/interop/pattern.py) with h5py alone,
and checks manifest, checksums, shapes, dtypes and every value. Exit status 0 when all hold.

  check_imprint_dataset.py DIR image|audio   (content labels checked when the manifest has them)
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from pattern import SIZE, RATE, image, clip  # noqa: E402
from write_dataset import fnv1a64  # noqa: E402


def main():
    d, modality = sys.argv[1], sys.argv[2]
    m = json.load(open(os.path.join(d, "manifest.json")))
    assert m["format"] == "imprint-identity-dataset" and m["version"] in (1, 2), m
    labels = m.get("content_labels", [])  # version 2: sample i of identity k shows label (k + i) % len(labels)
    assert not labels or m["version"] == 2
    assert m["modality"] == modality
    assert (m["image_size"] == SIZE) if modality == "image" else (m["sample_rate"] == RATE)
    checked = 0
    for s in m["shards"]:
        path = os.path.join(d, s["file"])
        assert os.path.getsize(path) == s["bytes"] and fnv1a64(path) == s["fnv1a64"], s
        with h5py.File(path, "r") as f:
            identity = f["identity"][()]
            assert identity.dtype == np.int32 and len(identity) == s["samples"]
            assert list(np.unique(identity)) == list(range(s["identity_begin"], s["identity_end"]))
            assert np.all(np.diff(identity) >= 0), "identities must be contiguous"
            for row, k in enumerate(identity):
                i = row - int(np.searchsorted(identity, k))
                if labels:
                    assert f["content"].dtype == np.int32 and f["content"][row] == (k + i) % len(labels), (s["file"], row)
                if modality == "image":
                    assert f["images"].dtype == np.uint8 and f["images"].shape[1:] == (SIZE, SIZE, 3)
                    assert np.array_equal(f["images"][row], image(k, i)), (s["file"], row)
                else:
                    off = f["offsets"][()]
                    assert f["audio"].dtype == np.int16 and off.dtype == np.int64
                    assert np.array_equal(f["audio"][off[row]:off[row + 1]], clip(k, i)), (s["file"], row)
                checked += 1
    print(f"h5py read {checked} samples ({len(labels)} content labels) of {len(m['identities'])} identities from {len(m['shards'])} shard(s): all match")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A peer speaker encoder's embeddings, in the files `imprint eval --embeddings` scores (docs/running.md):
Resemblyzer (PyPI `resemblyzer`, its GE2E LSTM's weights ship inside the wheel; 16 kHz, 256-d), given exactly
the audio imprint's encoder gets: each file decoded and resampled to --rate (8 kHz for the recipes), its first
--clip-seconds taken and zero-padded (`imprint embed --clip-seconds`), then brought to the 16 kHz Resemblyzer
expects. A comparison row, not a teacher: nothing of it enters imprint's training.

  python resemblyzer_embed.py --input DIR --out DIR [--rate 8000] [--clip-seconds 1.0]
DIR/<identity>/<file>.wav -> OUT/pooled.npy [N, 256] and OUT/index.tsv (row, file, identity).
"""
import argparse
import os
import re

import librosa
import numpy as np
from resemblyzer import VoiceEncoder
from resemblyzer.audio import normalize_volume


def natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rate", type=int, default=8000)
    ap.add_argument("--clip-seconds", type=float, default=1.0)
    args = ap.parse_args()
    files = []
    for identity in sorted(os.listdir(args.input), key=natural):
        folder = os.path.join(args.input, identity)
        if os.path.isdir(folder):
            files += [(os.path.join(folder, f), identity) for f in sorted(os.listdir(folder), key=natural)
                      if f.lower().endswith((".wav", ".flac"))]
    encoder = VoiceEncoder("cpu", verbose=False)
    clip = int(round(args.clip_seconds * args.rate))
    rows = []
    for path, _ in files:
        wav, _ = librosa.load(path, sr=args.rate, mono=True)
        wav = np.pad(wav[:clip], (0, max(0, clip - len(wav))))
        wav16 = librosa.resample(wav, orig_sr=args.rate, target_sr=16000)
        # Its own level normalisation (-30 dBFS, as its preprocess_wav), but the whole clip as one utterance:
        # no VAD trimming, imprint's encoder gets the silence too.
        wav16 = normalize_volume(wav16, -30, increase_only=True)
        rows.append(encoder.embed_utterance(wav16.astype(np.float32)))
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "pooled.npy"), np.stack(rows).astype(np.float32))
    with open(os.path.join(args.out, "index.tsv"), "w") as f:
        f.write("row\tfile\tidentity\n")
        for i, (path, identity) in enumerate(files):
            f.write(f"{i}\t{path}\t{identity}\n")
    print(f"resemblyzer: {len(rows)} files of {len({i for _, i in files})} identities -> {args.out}")


if __name__ == "__main__":
    main()

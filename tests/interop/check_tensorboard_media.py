#!/usr/bin/env python3
"""Reads the images and audio clips a run logged to TensorBoard with TensorBoard's own EventAccumulator: each
tag given is there at every step metrics.jsonl records identity fidelity for, an image decodes as a PNG of the
size the event states, a clip as a mono WAV (Python's wave module) of the sample rate and length it states.

  check_tensorboard_media.py RUN_DIR [--image TAG ...] [--audio TAG ...]
"""
import argparse
import io
import json
import os
import struct
import wave

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--audio", action="append", default=[])
    args = ap.parse_args()
    acc = EventAccumulator(os.path.join(args.run, "tensorboard"), size_guidance={"images": 0, "audio": 0})
    acc.Reload()
    records = [json.loads(line) for line in open(os.path.join(args.run, "metrics.jsonl"))]
    steps = sorted(r["step"] for r in records if "fidelity_top1" in r)
    assert steps, "metrics.jsonl records no identity fidelity"
    for tag in args.image:
        assert tag in acc.Tags()["images"], f"image {tag} missing from {acc.Tags()['images']}"
        events = acc.Images(tag)
        assert [e.step for e in events] == steps, f"{tag}: steps {[e.step for e in events]}, fidelity at {steps}"
        for e in events:
            png = e.encoded_image_string
            assert png[:8] == b"\x89PNG\r\n\x1a\n", f"{tag}: not a PNG"
            width, height = struct.unpack(">II", png[16:24])
            assert (width, height) == (e.width, e.height), f"{tag}: PNG {width}x{height}, event {e.width}x{e.height}"
        print(f"image {tag}: {len(events)} PNGs of {events[-1].width}x{events[-1].height} at steps {steps}")
    for tag in args.audio:
        assert tag in acc.Tags()["audio"], f"audio {tag} missing from {acc.Tags()['audio']}"
        events = acc.Audio(tag)
        assert [e.step for e in events] == steps, f"{tag}: steps {[e.step for e in events]}, fidelity at {steps}"
        for e in events:
            assert e.content_type == "audio/wav", f"{tag}: content type {e.content_type}"
            with wave.open(io.BytesIO(e.encoded_audio_string)) as w:
                assert w.getnchannels() == 1 and w.getframerate() == int(e.sample_rate), f"{tag}: {w.getparams()}"
                assert w.getnframes() == e.length_frames, f"{tag}: {w.getnframes()} frames, event {e.length_frames}"
        print(f"audio {tag}: {len(events)} WAVs of {events[-1].length_frames} frames at {int(events[-1].sample_rate)} Hz")
    print("PASS")


if __name__ == "__main__":
    main()

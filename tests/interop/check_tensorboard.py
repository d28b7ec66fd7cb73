#!/usr/bin/env python3
"""Reads a run's TensorBoard event files with TensorBoard's own EventAccumulator and checks them against the
run's metrics.jsonl: the same scalars at the same steps, each step once even after a resume.

  check_tensorboard.py RUN_DIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    run = sys.argv[1]
    acc = EventAccumulator(os.path.join(run, "tensorboard"), purge_orphaned_data=True)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in ("train/loss", "train/lr", "time/samples_per_s", "train/grad_norm", "eval/top1", "eval/eer",
                "eval/identities", "eval/chance"):
        assert tag in tags, f"{tag} missing from {tags}"
    # An evaluation's fields are eval/<name> only: not eval/eval_*, not its identity count under train/.
    for tag in tags:
        assert not tag.startswith("eval/eval_") and tag not in ("train/identities", "train/chance"), tag
    records = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    for tag, key in (("train/loss", "loss"), ("train/lr", "lr"), ("eval/top1", "eval_top1")):
        expected = {r["step"]: r[key] for r in records if key in r}
        events = acc.Scalars(tag)
        steps = [e.step for e in events]
        assert steps == sorted(expected), f"{tag}: steps {steps}, metrics.jsonl has {sorted(expected)}"
        for e in events:
            want = expected[e.step]
            assert abs(e.value - want) <= 1e-6 * max(1.0, abs(want)), f"{tag} at {e.step}: {e.value} vs {want}"
        print(f"{tag}: {len(events)} values at steps {steps[0]}..{steps[-1]} equal metrics.jsonl")
    print("PASS")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Plots of a training run, as PNG files in RUN_DIR/plots/ (Debian's python3-matplotlib and python3-numpy).

  /usr/bin/python3 launch/plot_run.py RUN_DIR

  loss.png      training loss (global batch) and learning rate against the step
  heldout.png   held-out top-1 retrieval against the step, with chance
  heldout_map.png  2-D PCA map of the held-out identities' gallery embeddings (written at the end of a
                   finished run), one colour per identity

metrics.jsonl keeps one record per step across restarts (a resume drops the records it is about to
repeat), so the curves have no repeated or backwards segments; a restart is marked by a dotted line.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.isfile(path):
        sys.exit(f"{path}: no such file (is {run} an imprint run directory?)")
    records = []
    for n, line in enumerate(open(path), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"{path}:{n}: not JSON, skipped", file=sys.stderr)
    out = os.path.join(run, "plots")
    os.makedirs(out, exist_ok=True)
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_top1" in r]
    restarts = [r["step"] for r in records if r.get("event") == "resume"]
    written = []

    if train:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (global batch)")
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in train], [r["lr"] for r in train], color="tab:orange", alpha=0.6, label="lr")
        ax2.set_ylabel("learning rate")
        for s in restarts:
            ax.axvline(s, linestyle=":", color="grey")
        ax.set_title(os.path.basename(os.path.normpath(run)) + ": training loss")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "loss.png"), dpi=110)
        written.append("loss.png")
        plt.close(fig)
    if evals:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([r["step"] for r in evals], [100 * r["eval_top1"] for r in evals], marker="o", label="held-out top-1")
        ax.plot([r["step"] for r in evals], [100 * r["chance"] for r in evals], linestyle="--", label="chance")
        ax.set_xlabel("step")
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.legend()
        ax.set_title("held-out identities (never trained on), one reference each")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "heldout.png"), dpi=110)
        written.append("heldout.png")
        plt.close(fig)
    emb_path = os.path.join(run, "heldout_embeddings.npy")
    if os.path.isfile(emb_path):
        emb = np.load(emb_path)
        ident = np.load(os.path.join(run, "heldout_identity.npy"))
        centred = emb - emb.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ vt[:2].T
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.scatter(xy[:, 0], xy[:, 1], c=ident, cmap="tab20", s=12)
        ax.set_title(f"held-out embeddings, PCA ({len(np.unique(ident))} identities, colour = identity)")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.tight_layout()
        fig.savefig(os.path.join(out, "heldout_map.png"), dpi=110)
        written.append("heldout_map.png")
        plt.close(fig)
    if not written:
        sys.exit(f"{path}: no loss or evaluation records yet")
    print("wrote " + ", ".join(os.path.join(out, w) for w in written))


if __name__ == "__main__":
    main()

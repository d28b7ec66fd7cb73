#!/usr/bin/python3
"""Plots of a training run, as PNG files in RUN_DIR/plots/ (Debian's python3-matplotlib and python3-numpy).

  /usr/bin/python3 launch/plot_run.py RUN_DIR

  loss.png         against the step: the training loss (global batch; with several objectives, their weighted
                   total) and the learning rate; with several objectives a second panel draws EVERY
                   objective's own loss, `loss_<name>`, before its weight (legend: the weight from the run's
                   config.yaml; log scale when every value is positive, as the terms differ in size); with the
                   denoise objective's identity probe (objective.denoise.probe_every) a panel of its loss with and
                   without the identity tokens on the same rows (`mse_with_identity`, `mse_without_identity`:
                   what the tokens explain); with log.gradient_paths a panel of each objective's gradient norm
                   over each trained part (`grad_<objective>_to_<part>`, log scale)
  heldout.png      the held-out evaluations against the step, each curve with its chance line (dashed, same
                   colour): top-1 from ONE reference (chance `chance` = 1 / identities); top-1 and top-5 with
                   every sample as the reference (`eval_top1_all` with its 95% interval as error bars,
                   `eval_top5_all`; chance G/(N-1) and 1 - C(N-1-G,5)/C(N-1,5) for N = identities x (G+1)
                   samples, G = eval.gallery_per_identity from config.yaml); verification EER (chance 50%) and
                   minDCF(0.01) (1 = accepting nothing, the no-skill cost), with the AS-norm ones when logged;
                   with eval.validation_identities, the validation identities' top-1, EER and minDCF dotted
  fidelity.png     with eval.judge (`fidelity_*`): judge top-1 of samples generated from ONE reference, the
                   same with the identity dropped (floor) and of real samples (ceiling), chance
                   `fidelity_chance`; judge cosine (no chance line: the floor is its reference); content
                   accuracy (chance 1 / objective.denoise.content_classes)
  heldout_map.png  2-D PCA map of the held-out identities' gallery embeddings (written at the end of a
                   finished run); each identity has its own colour + marker-shape combination (20 colours x
                   5 markers: up to 100 identities all distinguishable; beyond 100 the combinations repeat)
  summary.json     what was drawn, for scripts and tests: per plot, `curves` {metrics key: points drawn} and
                   `chance` {metrics key: the chance values of its line}; for the map, `identities` and
                   `styles` (distinct colour + marker combinations used)

An evaluation curve is drawn with markers, so one evaluation record is a marker with its chance line beside
it, not an empty plot. metrics.jsonl keeps one record per step across restarts (a resume drops the records it
is about to repeat), so the curves have no repeated or backwards segments; a restart is marked by a dotted
line.
"""
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLOURS = [plt.get_cmap("tab20")(i) for i in range(20)]
MARKERS = ["o", "s", "^", "D", "v"]


def read_config(run):
    """config.yaml as {"dotted.key": "text"}; imprint writes it as plain block mappings, two spaces a level."""
    values, path = {}, []
    try:
        lines = open(os.path.join(run, "config.yaml")).read().splitlines()
    except OSError:
        return values
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.strip().partition(":")
        path[(len(line) - len(line.lstrip(" "))) // 2:] = [key]
        if value.strip():
            values[".".join(path)] = value.strip().strip('"')
    return values


def number(config, key):
    try:
        return float(config[key])
    except (KeyError, ValueError):
        return None


class Plot:
    """One PNG's axes, remembering what was drawn on them for summary.json."""

    def __init__(self, summary, name):
        self.curves, self.chance = {}, {}
        summary[name] = {"curves": self.curves, "chance": self.chance}

    def curve(self, ax, records, key, label, scale=1.0, **style):
        rs = [r for r in records if key in r]
        if not rs:
            return None
        # A marker on every point unless the caller says otherwise: one record still shows (a line of one point
        # is invisible).
        line, = ax.plot([r["step"] for r in rs], [scale * r[key] for r in rs], marker=style.pop("marker", "o"),
                        markersize=4, label=label, **style)
        self.curves[key] = len(line.get_xdata())
        return line

    def chance_line(self, ax, records, key, chance_of, label, line, scale=1.0):
        """The chance level of curve `key` (chance_of(record) -> value or None), dashed in its colour."""
        if line is None:
            return
        pts = [(r["step"], chance_of(r)) for r in records if key in r]
        pts = [(s, c) for s, c in pts if c is not None]
        if not pts:
            return
        values = list(dict.fromkeys(c for _, c in pts))
        if len(values) == 1:  # the usual case; axhline spans the axes, so one record gets a line too
            drawn = ax.axhline(scale * values[0], linestyle="--", color=line.get_color(), alpha=0.8, label=label)
        else:  # identities changed across restarts: the chance of each evaluation
            drawn, = ax.plot([s for s, _ in pts], [scale * c for _, c in pts], linestyle="--",
                             drawstyle="steps-post", marker="_", color=line.get_color(), alpha=0.8, label=label)
        # Read back from the line on the axes, so the summary says what is drawn, not what was meant; a dashed
        # line of one point without a marker is invisible, and is not counted.
        if len(drawn.get_xdata()) > 1 or drawn.get_marker() not in (None, "", " ", "None"):
            self.chance[key] = sorted({round(float(y) / scale, 12) for y in drawn.get_ydata()})


def mark_restarts(axes, restarts):
    for ax in axes:
        for s in restarts:
            ax.axvline(s, linestyle=":", color="grey")


def multi_query_chance(r, gallery, k):
    """Chance that one of the k nearest of N-1 other samples shares the query's identity (G of them)."""
    if gallery is None or "identities" not in r:
        return None
    g, n = int(gallery), int(r["identities"]) * (int(gallery) + 1)
    if n - 1 < k:
        return None
    return 1.0 - math.comb(n - 1 - g, k) / math.comb(n - 1, k)


def plot_loss(run, train, restarts, config, summary, out):
    terms = sorted({k for r in train for k in r if k.startswith("loss_")})
    probe = [k for k in ("mse_with_identity", "mse_without_identity") if any(k in r for r in train)]
    grads = sorted({k for r in train for k in r if k.startswith("grad_") and k != "grad_norm"})
    panels = 1 + bool(terms) + bool(probe) + bool(grads)
    fig, axes = plt.subplots(panels, 1, figsize=(7, 3.5 * panels + 0.5), sharex=True, squeeze=False)
    p = Plot(summary, "loss.png")
    ax = axes[0][0]
    marker = "o" if len(train) < 3 else ""
    p.curve(ax, train, "loss", "loss (weighted total)" if terms else "loss", marker=marker)
    ax.set_ylabel("loss (global batch)")
    ax2 = ax.twinx()
    p.curve(ax2, train, "lr", "lr", color="tab:orange", alpha=0.6, marker=marker)
    ax2.set_ylabel("learning rate")
    ax.set_title(os.path.basename(os.path.normpath(run)) + ": training loss")
    ax.legend(ax.lines + ax2.lines, [line.get_label() for line in ax.lines + ax2.lines], loc="upper right")
    row = 1
    if terms:
        bx = axes[row][0]
        row += 1
        for key in terms:
            w = config.get(f"objective.{key[len('loss_'):]}.weight")
            p.curve(bx, train, key, f"{key} (weight {w})" if w else key, marker=marker)
        if all(r[k] > 0 for r in train for k in terms if k in r):
            bx.set_yscale("log")
        bx.set_ylabel("each objective's loss, before its weight")
        bx.legend()
    if probe:
        cx = axes[row][0]
        row += 1
        for key, label in (("mse_with_identity", "with the identity tokens"),
                           ("mse_without_identity", "without them (same rows, noise, timesteps)")):
            if key in probe:
                p.curve(cx, [r for r in train if key in r], key, label, marker="o" if len(train) < 3 else ".")
        cx.set_ylabel("denoise loss (probe steps)")
        cx.set_title("what the identity tokens explain", fontsize=9)
        cx.legend(fontsize=8)
    if grads:
        gx = axes[row][0]
        for key in grads:
            rows = [r for r in train if key in r and r[key] > 0]
            if rows:
                p.curve(gx, rows, key, key[len("grad_"):].replace("_to_", " -> "), marker=".")
        gx.set_yscale("log")
        gx.set_ylabel("gradient norm")
        gx.set_title("which trained part each objective reaches (log.gradient_paths)", fontsize=9)
        gx.legend(fontsize=7)
    axes[-1][0].set_xlabel("step")
    mark_restarts([a[0] for a in axes], restarts)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=110)
    plt.close(fig)


def plot_heldout(evals, validation, restarts, config, summary, out):
    """The held-out (test) figures; with eval.validation_identities the validation ones dotted beside them
    (what checkpoint.keep_best chose on)."""
    gallery = number(config, "eval.gallery_per_identity")
    fig, (ra, ea, da) = plt.subplots(1, 3, figsize=(15, 4.5))
    p = Plot(summary, "heldout.png")
    line = p.curve(ra, evals, "eval_top1", "top-1, ONE reference", 100)
    p.chance_line(ra, evals, "eval_top1", lambda r: r.get("chance"), "chance, ONE reference", line, 100)
    rs = [r for r in evals if "eval_top1_all" in r]
    if rs:
        # The bootstrap interval as error bars: they show for one evaluation too (a shaded band would not).
        y = np.array([100 * r["eval_top1_all"] for r in rs])
        low = np.array([100 * r.get("eval_top1_all_low", r["eval_top1_all"]) for r in rs])
        high = np.array([100 * r.get("eval_top1_all_high", r["eval_top1_all"]) for r in rs])
        bars = ra.errorbar([r["step"] for r in rs], y, yerr=[y - low, high - y], marker="o", markersize=4,
                           capsize=3, label="top-1, every sample as reference (95% CI)")
        p.curves["eval_top1_all"] = len(bars.lines[0].get_xdata())
        p.chance_line(ra, evals, "eval_top1_all", lambda r: multi_query_chance(r, gallery, 1),
                      "chance, every sample", bars.lines[0], 100)
    p.curve(ra, validation, "val_top1_all", "top-1, every sample, VALIDATION identities", 100, linestyle=":")
    line = p.curve(ra, evals, "eval_top5_all", "top-5, every sample as reference", 100)
    p.chance_line(ra, evals, "eval_top5_all", lambda r: multi_query_chance(r, gallery, 5), "chance, top-5", line,
                  100)
    ra.set_ylim(0, 100)
    ra.set_ylabel("%")
    ra.set_title("held-out retrieval (identities never trained on)")
    ra.legend(fontsize=7)
    for key, label in (("eval_eer", "EER"), ("eval_eer_asnorm", "EER, AS-norm")):
        line = p.curve(ea, evals, key, label, 100)
        p.chance_line(ea, evals, key, lambda r: 0.5, "chance (50%)" if key == "eval_eer" else None, line, 100)
    p.curve(ea, validation, "val_eer", "EER, VALIDATION identities", 100, linestyle=":")
    ea.set_ylim(0, 60)
    ea.set_ylabel("%")
    ea.set_title("held-out verification EER (lower is better)")
    for key, label in (("eval_min_dcf", "minDCF(0.01)"), ("eval_min_dcf_asnorm", "minDCF(0.01), AS-norm")):
        line = p.curve(da, evals, key, label)
        p.chance_line(da, evals, key, lambda r: 1.0, "no skill (1)" if key == "eval_min_dcf" else None, line)
    p.curve(da, validation, "val_min_dcf", "minDCF(0.01), VALIDATION identities", linestyle=":")
    da.set_ylim(0, 1.1)
    da.set_title("held-out minDCF (lower is better)")
    for ax in (ea, da):
        if ax.lines:
            ax.legend(fontsize=7)
    for ax in (ra, ea, da):
        ax.set_xlabel("step")
    mark_restarts((ra, ea, da), restarts)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "heldout.png"), dpi=110)
    plt.close(fig)


def plot_fidelity(fidelity, restarts, config, summary, out):
    contents = number(config, "objective.denoise.content_classes")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    p = Plot(summary, "fidelity.png")
    rows = (("", "generated from ONE reference"), ("_floor", "identity dropped (floor)"), ("_real", "real (ceiling)"))
    for ax, metric, title, scale in ((axes[0], "top1", "judge top-1 (%)", 100), (axes[1], "cosine",
                                     "judge cosine to the identity", 1), (axes[2], "content", "content accuracy (%)",
                                                                          100)):
        for suffix, label in rows:
            line = p.curve(ax, fidelity, f"fidelity_{metric}{suffix}", label, scale)
            if metric == "top1" and suffix == "":
                p.chance_line(ax, fidelity, "fidelity_top1", lambda r: r.get("fidelity_chance"), "chance", line,
                              scale)
            if metric == "content" and suffix == "" and contents:
                p.chance_line(ax, fidelity, "fidelity_content", lambda r: 1 / contents, "chance", line, scale)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)
    mark_restarts(axes, restarts)
    fig.suptitle("identity fidelity of generated samples (held-out identities, eval.judge)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fidelity.png"), dpi=110)
    plt.close(fig)


def plot_map(run, summary, out):
    emb = np.load(os.path.join(run, "heldout_embeddings.npy"))
    ident = np.load(os.path.join(run, "heldout_identity.npy"))
    names, index = np.unique(ident, return_inverse=True)
    centred = emb - emb.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(7, 7))
    # Colour cycles fastest, so neighbouring identities differ in colour; identities 20 apart in marker.
    styles = set()
    for i in range(len(names)):
        colour, marker = i % len(COLOURS), (i // len(COLOURS)) % len(MARKERS)
        styles.add((colour, marker))
        pts = xy[index == i]
        ax.scatter(pts[:, 0], pts[:, 1], color=COLOURS[colour], marker=MARKERS[marker], s=18, linewidths=0)
    repeat = "" if len(names) <= len(styles) else f"; {len(styles)} styles repeat"
    ax.set_title(f"held-out embeddings, PCA ({len(names)} identities, colour + marker = identity{repeat})")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(os.path.join(out, "heldout_map.png"), dpi=110)
    plt.close(fig)
    summary["heldout_map.png"] = {"identities": int(len(names)), "styles": len(styles)}


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
    config = read_config(run)
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_top1" in r]
    validation = [r for r in records if "val_top1" in r]
    fidelity = [r for r in records if "fidelity_top1" in r]
    restarts = [r["step"] for r in records if r.get("event") == "resume"]
    summary = {}
    if train:
        plot_loss(run, train, restarts, config, summary, out)
    if evals:
        plot_heldout(evals, validation, restarts, config, summary, out)
    if fidelity:
        plot_fidelity(fidelity, restarts, config, summary, out)
    if os.path.isfile(os.path.join(run, "heldout_embeddings.npy")):
        plot_map(run, summary, out)
    if not summary:
        sys.exit(f"{path}: no loss or evaluation records yet")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    print("wrote " + ", ".join(os.path.join(out, w) for w in sorted(summary) + ["summary.json"]))


if __name__ == "__main__":
    main()

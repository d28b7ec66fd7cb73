#!/usr/bin/env bash
# plot_roundtrip.sh IMPRINT CONFIG WORKDIR — a resumed run's plots are written (Debian's matplotlib), and what
# they draw (plots/summary.json) is what metrics.jsonl holds: every objective's loss_<name> beside the total,
# every held-out evaluation curve with its chance line, also for a run with ONE evaluation record, and a map
# of 100 held-out identities in 100 distinct colour + marker styles.
set -euo pipefail
imprint="$1"; config="$2"; work="$3"
plot="$(dirname "$0")/../../launch/plot_run.py"
rm -rf "$work" "$work-one-eval"
# InfoNCE + AAM-softmax: metrics.jsonl holds loss_infonce and loss_aam beside the weighted total.
two=(--set objective.aam.weight=1)
"$imprint" train --config "$config" --run-dir "$work" "${two[@]}" --set train.steps=40 --set train.eval_every=10 \
  --set train.stop_at=20 >/dev/null 2>&1
"$imprint" train --run-dir "$work" --resume >/dev/null 2>&1
# Only the final evaluation, among 100 held-out identities.
"$imprint" train --config "$config" --run-dir "$work-one-eval" "${two[@]}" --set train.steps=10 \
  --set data.eval_identities=100 >/dev/null 2>&1
for run in "$work" "$work-one-eval"; do
  /usr/bin/python3 "$plot" "$run"
  for f in loss heldout heldout_map; do
    head -c 8 "$run/plots/$f.png" | od -An -c | grep -q 'P   N   G' ||
      { echo "FAIL: $run/plots/$f.png is not a PNG"; exit 1; }
  done
  [ -f "$run/plots/summary.json" ] || { echo "FAIL: $run/plots/summary.json not written"; exit 1; }
  /usr/bin/python3 - "$run" <<'EOF'
import json, sys
import numpy as np
run = sys.argv[1]
records = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
summary = json.load(open(f"{run}/plots/summary.json"))
fail = lambda msg: sys.exit(f"FAIL: {run}: {msg}")
loss = summary["loss.png"]
terms = sorted({k for r in records if "loss" in r for k in r if k.startswith("loss_")})
if len(terms) < 2:
    fail(f"expected two objectives' loss_<name> in metrics.jsonl, got {terms}")
for k in ["loss"] + terms:
    if loss["curves"].get(k, 0) < 1:
        fail(f"loss.png does not draw {k} (drew {sorted(loss['curves'])})")
evals = [r for r in records if "eval_top1" in r]
if (len(evals) == 1) != run.endswith("-one-eval"):
    fail(f"expected {'ONE evaluation record' if run.endswith('-one-eval') else 'several'}, got {len(evals)}")
heldout = summary["heldout.png"]
keys = sorted({k for r in evals for k in r if k.startswith("eval_") and not k.endswith(("_low", "_high"))})
for k in keys:
    if heldout["curves"].get(k) != len(evals):
        fail(f"heldout.png draws {heldout['curves'].get(k, 0)} points of {k}, metrics.jsonl has {len(evals)}")
    if not heldout["chance"].get(k):
        fail(f"heldout.png draws no chance line for {k} (chance lines: {sorted(heldout['chance'])})")
recorded = sorted({r["chance"] for r in evals})
if not np.allclose(heldout["chance"]["eval_top1"], recorded, rtol=1e-9):
    fail(f"eval_top1's chance line {heldout['chance']['eval_top1']} is not the recorded chance")
ids = len(np.unique(np.load(f"{run}/heldout_identity.npy")))
m = summary["heldout_map.png"]
if m["identities"] != ids or m["styles"] != min(ids, 100):
    fail(f"heldout_map.png: {m} for {ids} held-out identities (expected one style each, up to 100)")
if run.endswith("-one-eval") and ids != 100:
    fail(f"expected 100 held-out identities, got {ids}")
EOF
done
echo "PASS"

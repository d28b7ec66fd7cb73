#!/usr/bin/env bash
# plot_roundtrip.sh IMPRINT CONFIG WORKDIR — a resumed run's plots are written (Debian's matplotlib).
set -euo pipefail
imprint="$1"; config="$2"; work="$3"
rm -rf "$work"
"$imprint" train --config "$config" --run-dir "$work" --set train.steps=40 --set train.eval_every=20 --set train.stop_at=20 >/dev/null 2>&1
"$imprint" train --run-dir "$work" --resume >/dev/null 2>&1
/usr/bin/python3 "$(dirname "$0")/../../launch/plot_run.py" "$work"
for f in loss heldout heldout_map; do
  head -c 8 "$work/plots/$f.png" | od -An -c | grep -q 'P   N   G' || { echo "FAIL: $work/plots/$f.png is not a PNG"; exit 1; }
done
echo "PASS"

#!/usr/bin/env bash
# Training throughput of `imprint train` on 2 ranks against PyTorch DDP (bench/ddp_reference.py, gloo,
# Debian's python3-torch) on the same encoder and batch shapes, and how much of imprint's all-reduce is
# hidden behind backward. One thread per rank, 2 ranks, global batch 64 pairs of 32x32 images.
#
#   bash bench/ddp_compare.sh [steps=60]
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-60}"
mpirun=(mpirun --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Mean samples/s and step ms of a run's metrics.jsonl, leaving out the first log interval (warm-up).
summarise() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][1:]
sps = sum(r["samples_per_s"] for r in rows) / len(rows)
comm = sum(r.get("comm_wait_ms", 0) for r in rows) / len(rows)
print(f"{sps:.1f} {64 / sps * 1000:.1f} {comm:.1f}")
PY
}

imprint_run() {  # name ranks extra-sets...
  local name=$1 ranks=$2; shift 2
  "${mpirun[@]}" -np "$ranks" ./build/imprint train --config configs/smoke-image.yaml --run-dir "$tmp/$name" \
    --set train.steps="$steps" --set train.log_every=10 --set train.eval_every=0 --set checkpoint.every=0 \
    --set train.threads=1 --set data.workers=1 "$@" >"$tmp/$name.log" 2>&1
  summarise "$tmp/$name/metrics.jsonl"
}

read -r imp_sps imp_ms imp_comm < <(imprint_run overlap 2)
read -r seq_sps seq_ms seq_comm < <(imprint_run one_bucket 2 --set distributed.bucket_mb=4096 --set distributed.first_bucket_mb=4096)
read -r one_sps one_ms _ < <(imprint_run compute_only 1 --set train.batch_size=32)
ddp_line=$("${mpirun[@]}" -np 2 /usr/bin/python3 bench/ddp_reference.py --steps "$steps" --batch 64 --threads 1 2>&1 | grep "ddp samples/s")
ddp_sps=$(echo "$ddp_line" | awk '{print $3}')

echo "# 2 ranks, 1 thread each, global batch 64 pairs (32 per rank), image encoder width 16, $steps steps"
printf "%-44s %12s %10s\n" "run" "samples/s" "step ms"
printf "%-44s %12s %10s\n" "imprint, bucketed all-reduce (default)" "$imp_sps" "$imp_ms"
printf "%-44s %12s %10s\n" "PyTorch DDP (gloo), same model and shapes" "$ddp_sps" \
  "$(/usr/bin/python3 -c "print(f'{64 / $ddp_sps * 1000:.1f}')")"
printf "%-44s %12s\n" "imprint / DDP throughput" "$(/usr/bin/python3 -c "print(f'{$imp_sps / $ddp_sps:.2f}x')")"
echo
echo "# overlap: how much of the all-reduce backward hides"
printf "%-44s %10s\n" "step, buckets overlapping backward" "$imp_ms ms  (exposed comm wait $imp_comm ms)"
printf "%-44s %10s\n" "step, one bucket after backward" "$seq_ms ms  (exposed comm wait $seq_comm ms)"
printf "%-44s %10s\n" "compute only (1 rank, 32 pairs)" "$one_ms ms"
/usr/bin/python3 - "$imp_ms" "$seq_ms" "$one_ms" <<'PY'
import sys
overlap, serial, compute = map(float, sys.argv[1:])
comm = serial - compute
if comm > 0:
    print(f"communication cost without overlap {comm:.1f} ms; hidden by overlap: {100 * (serial - overlap) / comm:.0f}%")
else:
    print("communication cost is below the noise of this machine (one-bucket step <= compute-only step)")
PY
echo "(${ddp_line})"

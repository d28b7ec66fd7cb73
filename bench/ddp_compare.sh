#!/usr/bin/env bash
# Training throughput of `imprint train` on 2 ranks against PyTorch DDP (bench/ddp_reference.py, gloo, on the
# project venv's torch: bench/smoke_runs.sh) on the same encoder and batch shapes, and how much of imprint's
# all-reduce is hidden behind backward. One thread per rank, 2 ranks, global batch 64 pairs of 32x32 images.
#
#   bash bench/ddp_compare.sh [steps=60] [repetitions=3]
#
# Each configuration runs `repetitions` times, interleaved, and the median is reported: on a 2-core machine
# two ranks plus their communication threads share the cores and single runs vary by +-30%.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-60}"
reps="${2:-3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source bench/smoke_runs.sh

# The encoder's gradients are 0.7 MB: default buckets (1 MB first) hold them all, so the overlap runs use
# 0.1 MB buckets to have several.
# Median over repetitions of each of the three columns a run prints.
median3() { /usr/bin/python3 -c "import sys,statistics as s; r=[l.split() for l in sys.stdin if l.strip()]; print(' '.join(f'{s.median(float(x[i]) for x in r):.1f}' for i in range(len(r[0]))))"; }
: >"$tmp/default.txt" >"$tmp/overlap.txt" >"$tmp/one_bucket.txt" >"$tmp/compute.txt" >"$tmp/ddp.txt"
for rep in $(seq "$reps"); do
  imprint_run default 2 64 >>"$tmp/default.txt"
  imprint_run overlap 2 64 --set distributed.bucket_mb=0.1 --set distributed.first_bucket_mb=0.05 >>"$tmp/overlap.txt"
  imprint_run one_bucket 2 64 --set distributed.bucket_mb=4096 --set distributed.first_bucket_mb=4096 >>"$tmp/one_bucket.txt"
  imprint_run compute_only 1 32 >>"$tmp/compute.txt"
  ddp_line=$(ddp_run)
  echo "$ddp_line" | awk '{print $3}' >>"$tmp/ddp.txt"
done
read -r imp_sps imp_ms imp_comm < <(median3 <"$tmp/default.txt")
read -r ovl_sps ovl_ms ovl_comm < <(median3 <"$tmp/overlap.txt")
read -r seq_sps seq_ms seq_comm < <(median3 <"$tmp/one_bucket.txt")
read -r one_sps one_ms _ < <(median3 <"$tmp/compute.txt")
read -r ddp_sps < <(median3 <"$tmp/ddp.txt")

echo "# 2 ranks, 1 thread each, global batch 64 pairs (32 per rank), image encoder width 16, $steps steps, median of $reps"
echo "# imprint samples/s per repetition: $(awk '{print $1}' "$tmp/default.txt" | tr '\n' ' ')  DDP: $(tr '\n' ' ' <"$tmp/ddp.txt")"
printf "%-44s %12s %10s\n" "run" "samples/s" "step ms"
printf "%-44s %12s %10s\n" "imprint, bucketed all-reduce (default)" "$imp_sps" "$imp_ms"
printf "%-44s %12s %10s\n" "PyTorch DDP (gloo), same model and shapes" "$ddp_sps" \
  "$(/usr/bin/python3 -c "print(f'{64 / $ddp_sps * 1000:.1f}')")"
printf "%-44s %12s\n" "imprint / DDP throughput" "$(/usr/bin/python3 -c "print(f'{$imp_sps / $ddp_sps:.2f}x')")"
echo
echo "# overlap: how much of the all-reduce backward hides"
printf "%-44s %10s\n" "step, 0.1 MB buckets overlapping backward" "$ovl_ms ms  (exposed comm wait $ovl_comm ms)"
printf "%-44s %10s\n" "step, one bucket after backward" "$seq_ms ms  (exposed comm wait $seq_comm ms)"
printf "%-44s %10s\n" "compute only (1 rank, 32 pairs)" "$one_ms ms"
/usr/bin/python3 - "$ovl_ms" "$seq_ms" "$one_ms" <<'PY'
import sys
overlap, serial, compute = map(float, sys.argv[1:])
comm = serial - compute
if comm > 0:
    print(f"communication cost without overlap {comm:.1f} ms; hidden by overlap: {100 * (serial - overlap) / comm:.0f}%")
else:
    print("communication cost is below the noise of this machine (one-bucket step <= compute-only step)")
PY
echo "(last DDP run: ${ddp_line})"

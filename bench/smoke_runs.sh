# Sourced by bench/ddp_compare.sh and bench/busy_core_compare.sh: the runs they compare, in one setting (one
# thread per rank, the smoke image encoder, 32x32 images). The caller sets $steps and $tmp (a scratch folder).
# shellcheck shell=bash
mpirun=(mpirun --allow-run-as-root --oversubscribe)

# Mean samples/s, step ms and exposed communication ms of a run's metrics.jsonl (global batch $2), leaving
# out the first log interval (warm-up).
summarise() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][1:]
sps = sum(r["samples_per_s"] for r in rows) / len(rows)
comm = sum(r.get("comm_wait_ms", 0) for r in rows) / len(rows)
print(f"{sps:.1f} {int(sys.argv[2]) / sps * 1000:.1f} {comm:.1f}")
PY
}

# `imprint train` of the smoke config: prints "samples/s step-ms comm-wait-ms" (summarise).
imprint_run() {  # name ranks batch extra-sets...
  local name=$1 ranks=$2 batch=$3; shift 3
  rm -rf "${tmp:?}/$name"  # a fresh run directory for every repetition
  "${mpirun[@]}" -np "$ranks" ./build/imprint train --config configs/smoke-image.yaml --run-dir "$tmp/$name" \
    --set train.steps="$steps" --set train.log_every=10 --set train.eval_every=0 --set checkpoint.every=0 \
    --set train.threads=1 --set data.workers=1 --set train.batch_size="$batch" "$@" >"$tmp/$name.log" 2>&1 ||
    { cat "$tmp/$name.log" >&2; return 1; }
  summarise "$tmp/$name/metrics.jsonl" "$batch"
}

# PyTorch DDP (bench/ddp_reference.py) on 2 ranks, global batch 64: prints its "ddp samples/s ..." line. It
# runs on the torch imprint is built against (the project venv's, launch/setup.sh), so both use the same ATen
# kernels; DDP_PYTHON=/usr/bin/python3 runs it on Debian's python3-torch (1.13) instead, as before 2026-12-08.
ddp_python=${DDP_PYTHON:-}
if [ -z "$ddp_python" ]; then
  ddp_python=/usr/bin/python3
  [ -x .venv/bin/python ] && ddp_python=.venv/bin/python
fi
ddp_run() {
  "${mpirun[@]}" -np 2 "$ddp_python" bench/ddp_reference.py --steps "$steps" --batch 64 --threads 1 \
    --port $((29500 + RANDOM % 400)) 2>&1 | grep "ddp samples/s"
}

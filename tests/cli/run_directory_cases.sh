#!/usr/bin/env bash
# run_directory_cases.sh IMPRINT CONFIG WORKDIR — a run directory has one owner and loses nothing silently:
# a second train (or resume) in a directory in use is refused naming the process, a stale lock after kill -9 is
# taken over, a failed metrics write stops the run (exit 3) saying what was not written, a refused config leaves
# nothing behind, rotation keeps the user's copies, an entry that would block a later checkpoint is refused at
# the start, a disk full before the start leaves no empty run directory, and data.path without data.source:
# shards is refused.
set -u
imprint="$1"; config="$2"; work="$3"
expect="$(dirname "$0")/expect.sh"
rm -rf "$work"; mkdir -p "$work"
# KEEP_GOING=1 runs every case and counts the failures (how the cases were checked against the binary before them).
failures=0
check() {
  "$expect" "$@" >"$work/last.log" 2>&1 && return 0
  cat "$work/last.log"; echo "FAIL in: $*"; failed
}
failed() { failures=$((failures + 1)); [ -n "${KEEP_GOING:-}" ] || exit 1; }

# data.path with the synthetic source would train on the synthetic identities, not on the dataset it names.
check --exit 2 --within 20 --match "data.path: is '$work/no-such-dataset' but data.source is synthetic" -- \
  "$imprint" train --config "$config" --run-dir "$work/synthetic" --set "data.path=$work/no-such-dataset"
[ ! -e "$work/synthetic" ] || { echo "FAIL: a refused config made its run directory"; failed; }

# Two runs in one directory: the second (and a resume) is refused while the first runs, naming its pid.
run="$work/owned"
"$imprint" train --config "$config" --run-dir "$run" --set train.steps=1000000 --set checkpoint.every=20 \
  >"$work/first.log" 2>&1 &
first=$!
for _ in $(seq 1 300); do [ -s "$run/checkpoints/step-00000020.ckpt" ] && break; sleep 0.1; done
[ -s "$run/imprint.lock" ] || { cat "$work/first.log"; echo "FAIL: the first run holds no lock"; kill -9 $first; failed; }
# Refused before anything is saved: it does not print the configuration as if saved (it once did).
check --exit 3 --within 20 --match "$run is in use by another imprint run: pid $first on host $(hostname)" \
  --no-match "resolved configuration|saved as" -- "$imprint" train --config "$config" --run-dir "$run" --set seed=9
check --exit 3 --within 20 --match "in use by another imprint run: pid $first" -- \
  "$imprint" train --run-dir "$run" --resume
# The first is killed without a chance to clean up: its lock is stale, and a resume takes it over.
kill -9 $first; wait $first 2>/dev/null
check --exit 0 --within 60 --match "taking over a stale lock \(process $first is no longer running\)" -- \
  "$imprint" train --run-dir "$run" --resume --set train.stop_at=60
[ ! -e "$run/imprint.lock" ] || { echo "FAIL: the lock outlived its run"; failed; }
ls "$run/checkpoints" | grep -q tmp && { echo "FAIL: a temp file was left in checkpoints/"; failed; }

# A metrics log that cannot be written stops the run, naming the record that was lost.
mkdir -p "$work/full"; ln -s /dev/full "$work/full/metrics.jsonl"
check --exit 3 --within 30 --match "metrics.jsonl: cannot append to the metrics log: No space left on device; the record of step 10 was not written" -- \
  "$imprint" train --config "$config" --run-dir "$work/full" --set train.steps=40

# A config the dataset refuses (content labels it does not have): nothing is left in the run directory.
"$imprint" synth --modality image --identities 12 --holdout-identities 2 --samples-per-identity 4 --image-size 16 --output "$work/data16" \
  >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
check --exit 2 --within 30 --match "objective.denoise.content_classes: is 5 but the dataset at $work/data16 has 0" -- \
  "$imprint" train --config "$config" --run-dir "$work/refused" --set data.source=shards \
  --set "data.path=$work/data16" --set objective.denoise.weight=1 --set objective.denoise.content_classes=5
[ ! -e "$work/refused" ] || { ls -laR "$work/refused"; echo "FAIL: a refused run left its run directory"; failed; }

# Rotation deletes only the checkpoints it wrote: a user's copies under other names stay.
keep="$work/rotation"
check --exit 0 --within 60 -- "$imprint" train --config "$config" --run-dir "$keep" --set train.stop_at=10 \
  --set checkpoint.every=5 --set checkpoint.keep=1
cp "$keep/checkpoints/step-00000010.ckpt" "$keep/checkpoints/step-00000010-backup.ckpt"
cp "$keep/checkpoints/step-00000010.ckpt" "$keep/checkpoints/mine.ckpt"
check --exit 0 --within 60 -- "$imprint" train --run-dir "$keep" --resume --set train.stop_at=30
for f in step-00000010-backup.ckpt mine.ckpt step-00000030.ckpt; do
  [ -f "$keep/checkpoints/$f" ] || { ls "$keep/checkpoints"; echo "FAIL: rotation removed $f"; failed; }
done
[ ! -e "$keep/checkpoints/step-00000025.ckpt" ] || { echo "FAIL: rotation kept more than checkpoint.keep"; failed; }

# A folder named like a later checkpoint would make that step's write fail: refused before training.
mkdir -p "$work/blocked/checkpoints/step-00000020.ckpt"
check --exit 3 --within 30 --match "step-00000020.ckpt: not a regular file: a later checkpoint could not be written there" -- \
  "$imprint" train --config "$config" --run-dir "$work/blocked" --set train.steps=40 --set checkpoint.every=20
# A disk that fills mid-run or is full from the start, and a read-only mount: small tmpfs mounts in a private
# mount namespace (root).
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  mkdir -p "$work/small" "$work/ro" "$work/filled"
  unshare -m bash -c '
    mount -t tmpfs -o size=48k tmpfs "$2/small" || exit 90
    timeout 120 "$1" train --config "$3" --run-dir "$2/small/run" --set train.steps=100000 --set train.log_every=1 \
      --set checkpoint.every=1000000 >"$2/small.log" 2>&1
    echo $? >"$2/small.rc"
    cp "$2/small/run/metrics.jsonl" "$2/small-metrics.jsonl"
    cp "$2"/small/run/tensorboard/events.out.tfevents.* "$2/small-events"
    mount -t tmpfs -o size=16k tmpfs "$2/filled" || exit 90
    dd if=/dev/zero of="$2/filled/fill" bs=4k 2>/dev/null
    timeout 60 "$1" train --config "$3" --run-dir "$2/filled/run" >"$2/filled.log" 2>&1
    echo $? >"$2/filled.rc"
    ls -A "$2/filled" >"$2/filled.ls"
    mount -t tmpfs -o ro,size=16k tmpfs "$2/ro" || exit 90
    timeout 60 "$1" train --config "$3" --run-dir "$2/ro/run" >"$2/ro.log" 2>&1
    echo $? >"$2/ro.rc"' _ "$imprint" "$work" "$config"
  if [ $? -eq 90 ]; then
    echo "SKIPPED (visibly): a tmpfs cannot be mounted here; the full-disk and read-only cases did not run"
  else
    tail -3 "$work/small.log"
    [ "$(cat "$work/small.rc")" = 3 ] || { echo "FAIL: a full disk mid-run exited $(cat "$work/small.rc"), not 3"; failed; }
    grep -Eq "(metrics.jsonl: cannot append to the metrics log|cannot append to the TensorBoard event file): No space left on device; .* was not written" \
      "$work/small.log" || { echo "FAIL: the full disk is not named"; failed; }
    /usr/bin/python3 - "$work/small-metrics.jsonl" "$work/small-events" <<'PY' || failed
import json, struct, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "metrics.jsonl ends in a torn line"
steps = [json.loads(l)["step"] for l in lines[:-1] if b'"loss"' in l]
data, at, records = open(sys.argv[2], "rb").read(), 0, 0
while at < len(data):  # TFRecords: u64 length, u32 crc, bytes, u32 crc; the file must end at a boundary
    (n,) = struct.unpack("<Q", data[at:at + 8])
    assert at + 16 + n <= len(data), f"torn TensorBoard record at byte {at}"
    at, records = at + 16 + n, records + 1
print(f"full disk: metrics.jsonl holds {len(steps)} whole step records (last step {steps[-1]}), "
      f"the event file {records} whole records")
PY
    # A disk full before the start: the lock cannot be written, and the run directory made for it goes again.
    [ "$(cat "$work/filled.rc")" = 3 ] && grep -q "filled/run/imprint.lock: cannot write the run directory's lock: No space left on device" \
      "$work/filled.log" || { cat "$work/filled.log"; echo "FAIL: a disk full before the start"; failed; }
    [ "$(cat "$work/filled.ls")" = fill ] || { echo "FAIL: a run that could not start left $(cat "$work/filled.ls")"; failed; }
    [ "$(cat "$work/ro.rc")" = 3 ] && grep -q "ro/run: cannot create the run directory: Read-only file system" "$work/ro.log" ||
      { cat "$work/ro.log"; echo "FAIL: a read-only run directory"; failed; }
  fi
else
  echo "SKIPPED (visibly): not root, or no mount namespaces; the full-disk and read-only cases did not run"
fi
[ "$failures" -eq 0 ] || { echo "FAIL: $failures case(s)"; exit 1; }
echo "PASS"

#!/usr/bin/env bash
# expect_failure.sh MAX_SECONDS REGEX -- COMMAND...
# Passes when COMMAND exits non-zero within MAX_SECONDS and its output matches REGEX (grep -E).
set -u
max="$1"; regex="$2"; shift 3
start=$(date +%s)
out=$(timeout $((max + 60)) "$@" 2>&1); code=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | tail -25
echo "exit status $code after ${elapsed}s (limit ${max}s)"
[ "$code" -ne 0 ] || { echo "FAIL: the command succeeded"; exit 1; }
[ "$code" -ne 124 ] || { echo "FAIL: the command hung"; exit 1; }
[ "$elapsed" -le "$max" ] || { echo "FAIL: took longer than ${max}s"; exit 1; }
echo "$out" | grep -Eq "$regex" || { echo "FAIL: output does not match: $regex"; exit 1; }
echo "PASS"

#!/usr/bin/env bash
# expect.sh [--exit CODE|nonzero] [--within SECONDS] [--match REGEX]... [--no-match REGEX]... [--skip-on CODE]
#           -- COMMAND...
# Runs COMMAND (stdout and stderr together) and passes when its exit status, duration and output are as
# expected. A command still running 60 s after --within (default 300) is killed and fails as hung. With
# --skip-on, a command exiting CODE (it said why it cannot run here) makes expect.sh exit 77: skipped.
set -u
code="0"; within=300; matches=(); absent=(); skip_on=
while [ $# -gt 0 ]; do
  case "$1" in
    --exit) code="$2"; shift 2 ;;
    --within) within="$2"; shift 2 ;;
    --match) matches+=("$2"); shift 2 ;;
    --no-match) absent+=("$2"); shift 2 ;;
    --skip-on) skip_on="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "expect.sh: unknown option $1"; exit 2 ;;
  esac
done
start=$(date +%s)
out=$(timeout $((within + 60)) "$@" 2>&1); status=$?
elapsed=$(( $(date +%s) - start ))
echo "$out" | tail -25
echo "exit status $status after ${elapsed}s"
[ "$status" -ne 124 ] || { echo "FAIL: the command hung"; exit 1; }
if [ -n "$skip_on" ] && [ "$status" -eq "$skip_on" ]; then echo "SKIPPED (exit $status)"; exit 77; fi
[ "$elapsed" -le "$within" ] || { echo "FAIL: took longer than ${within}s"; exit 1; }
if [ "$code" = nonzero ]; then
  [ "$status" -ne 0 ] || { echo "FAIL: the command succeeded"; exit 1; }
else
  [ "$status" -eq "$code" ] || { echo "FAIL: exit status $status, expected $code"; exit 1; }
fi
for re in ${matches[@]+"${matches[@]}"}; do
  echo "$out" | grep -Eq -- "$re" || { echo "FAIL: output does not match: $re"; exit 1; }
done
for re in ${absent[@]+"${absent[@]}"}; do
  ! echo "$out" | grep -Eq -- "$re" || { echo "FAIL: output matches what it must not: $re"; exit 1; }
done
echo "PASS"

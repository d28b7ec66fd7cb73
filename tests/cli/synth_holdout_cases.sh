#!/usr/bin/env bash
# synth_holdout_cases.sh IMPRINT WORKDIR — `imprint synth --holdout-list / --holdout-groups`: the manifest
# holds out exactly the listed identities, or exactly the whole groups with the smallest FNV-1a hash of the
# group name (as `imprint pack` chooses them); conflicting or wrong names get one message.
set -u
imprint="$1"; work="$2"
expect="$(dirname "$0")/expect.sh"
rm -rf "$work"; mkdir -p "$work"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
common=(--modality image --identities 12 --samples-per-identity 3 --image-size 8)
for i in $(seq 0 11); do printf 'synthetic-%06d\tg%d\n' "$i" $((i % 4)); done >"$work/groups.tsv"
check --exit 0 --match "wrote 12 identities \(6 held out\)" -- \
  "$imprint" synth "${common[@]}" --holdout-groups "$work/groups.tsv" --holdout-group-count 2 --output "$work/by-group"
/usr/bin/python3 - "$work/by-group/manifest.json" "$work/groups.tsv" <<'PY' || { echo "FAIL: held-out groups"; exit 1; }
import json, sys
def fnv(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) % (1 << 64)
    return h
m = json.load(open(sys.argv[1]))
group = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[2]))
chosen = sorted(set(group.values()), key=fnv)[:2]
want = sorted(n for n, g in group.items() if g in chosen)
got = sorted(m["identities"][i] for i in m["holdout"])
assert got == want, (got, want)
PY
printf '# three of them\nsynthetic-000001\nsynthetic-000004\nsynthetic-000010\n' >"$work/list.txt"
check --exit 0 --match "wrote 12 identities \(3 held out\)" -- \
  "$imprint" synth "${common[@]}" --holdout-list "$work/list.txt" --output "$work/by-list"
/usr/bin/python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))
assert m['holdout'] == [1, 4, 10], m['holdout']" "$work/by-list/manifest.json" || { echo "FAIL: held-out list"; exit 1; }
check --exit 2 --match "give one of them, not several" -- \
  "$imprint" synth "${common[@]}" --holdout-identities 3 --holdout-list "$work/list.txt" --output "$work/both"
printf 'synthetic-000001\nsynthetic-000099\n' >"$work/bad.txt"
check --exit 6 --match "bad.txt:2: 'synthetic-000099' is not an identity of the synthetic dataset \(synthetic-000000 to synthetic-000011\)" -- \
  "$imprint" synth "${common[@]}" --holdout-list "$work/bad.txt" --output "$work/bad"
echo "PASS"

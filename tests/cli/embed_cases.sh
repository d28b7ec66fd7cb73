#!/usr/bin/env bash
# embed_cases.sh IMPRINT CONFIG WORKDIR — `imprint embed` and `imprint export` on bad input: one clear message
# and exit 2 (usage) or 3 (checkpoint); unreadable files are reported and skipped, never embedded as zeros.
set -u
imprint="$1"; config="$2"; work="$3"
expect="$(dirname "$0")/expect.sh"
rm -rf "$work"; mkdir -p "$work/images/nested"
check() { "$expect" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log"; echo "FAIL in: $*"; exit 1; }; }
"$imprint" train --config "$config" --run-dir "$work/run" --set train.steps=4 >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
ckpt="$work/run/checkpoints/step-00000004.ckpt"
# Two real images (one nested), one corrupt .png, one text file to be ignored.
/usr/bin/python3 - "$work/images/a.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
raw = b"".join(b"\x00" + b"".join(bytes((x * 40, y * 40, 90)) for x in range(4)) for y in range(4))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
cp "$work/images/a.png" "$work/images/nested/b.png"
echo "not an image" >"$work/images/broken.png"
echo "notes" >"$work/images/readme.txt"
check --exit 0 --match 'skipped .*broken\.png' --match 'embedded 2 file\(s\), skipped 1' -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/images" --out "$work/out"
[ "$(wc -l <"$work/out/index.tsv")" -eq 3 ] || { echo "FAIL: index.tsv should list 2 files"; exit 1; }
grep -q "broken" "$work/out/index.tsv" && { echo "FAIL: the broken file was embedded"; exit 1; }
check --exit 2 --match "--input .*/clip.wav: no such file or folder" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/clip.wav" --out "$work/o2"
touch "$work/clip.wav"
check --exit 2 --match "the checkpoint holds an image encoder, which embeds images .*; this is audio" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/clip.wav" --out "$work/o2"
check --exit 2 --match "no images \(.png, .jpg, .jpeg\) found under it" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/run/checkpoints" --out "$work/o3"
check --exit 3 --match "config.yaml: not an imprint checkpoint" -- \
  "$imprint" embed --checkpoint "$work/run/config.yaml" --input "$work/images" --out "$work/o4"
check --exit 3 --match "not an imprint checkpoint" -- "$imprint" export --checkpoint "$work/run/config.yaml" --out "$work/o5"
check --exit 2 --match "--format parquet: expected npy or safetensors" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/images" --out "$work/o6" --format parquet
echo "PASS"

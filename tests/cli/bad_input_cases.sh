#!/usr/bin/env bash
# bad_input_cases.sh IMPRINT CONFIG WORKDIR — what users fed the newer subcommands: options out of the range
# of the config key they stand for (a hang, a crash and a silent clamp once), a 69-byte PNG whose header claims
# 100000 x 100000 pixels (a 4.3 GB allocation once), 16-bit PNGs (decoded as linear light once), generator
# shapes that died in a matmul, and defaults that disagreed. Each ends with one line and exit 2, or works;
# a pack of files none of which is usable lists them and ends with exit 6 (a dataset error).
set -u
imprint="$1"; config="$2"; work="$3"
expect="$(dirname "$0")/expect.sh"
py=/usr/bin/python3
rm -rf "$work"; mkdir -p "$work"
# KEEP_GOING=1 runs every case and counts the failures (how the cases were checked against the binary before them).
failures=0
check() {
  "$expect" "$@" >"$work/last.log" 2>&1 && return 0
  cat "$work/last.log"; echo "FAIL in: $*"; failed
}
failed() { failures=$((failures + 1)); [ -n "${KEEP_GOING:-}" ] || exit 1; }

"$imprint" train --config "$config" --run-dir "$work/run" --set train.steps=10 >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
ckpt="$work/run/checkpoints/step-00000010.ckpt"
"$imprint" synth --modality image --identities 10 --samples-per-identity 4 --image-size 16 --output "$work/data" \
  >"$work/synth.log" 2>&1 || { cat "$work/synth.log"; echo "FAIL: synth --identities 10 (the hold-out default scales)"; failed; }

# Options checked as their config keys are (eval --batch-size 0 looped forever; NaN passed every check).
check --exit 2 --within 20 --match "--batch-size: expected an integer in \[1, 1e\+?0?6\] \(as eval.batch_size\), got '0'" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/data" --batch-size 0
check --exit 2 --within 20 --match "--gallery-per-identity: expected .*\(as eval.gallery_per_identity\), got '0'" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/data" --gallery-per-identity 0
check --exit 2 --within 20 --match "--clip-seconds: expected .*\(as data.clip_seconds\), got '-1'" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/data" --clip-seconds -1
check --exit 0 --within 60 --match "evaluation settings: --gallery-per-identity 3 \(the run's eval.gallery_per_identity\), --batch-size 256 \(the run's eval.batch_size\)" \
  --match "eval: reading 2 identities x 4 samples" -- \
  "$imprint" eval --checkpoint "$ckpt" --data "$work/data"
fixture="$(dirname "$0")/../fixtures/format1-image-step4.ckpt"  # stores no settings: defaults, said so
check --exit 6 --within 60 --match "this format-1 checkpoint stores no settings, so defaults stand in" \
  --match "--gallery-per-identity 4: identity synthetic-[0-9]+ of $work/data has 4 samples \(1 reference \+ the gallery\); pass --gallery-per-identity 3 or less" -- \
  "$imprint" eval --checkpoint "$fixture" --data "$work/data"
for bad in "--steps 0" "--steps -1" "--guidance nan" "--guidance inf" "--guidance 1e30" "--guidance -5" \
  "--id-scale nan" "--max-references 0"; do
  check --exit 2 --within 20 --match "^.*${bad%% *}: expected .*got '${bad#* }'" -- \
    "$imprint" generate --checkpoint "$ckpt" --data "$work/data" $bad
done
check --exit 2 --within 20 --match "--out: $work/grid.jpg: generate writes a PNG file; name it \*.png" -- \
  "$imprint" generate --checkpoint "$ckpt" --data "$work/data" --out "$work/grid.jpg"
check --exit 2 --within 20 --match "--holdout-group-fraction: expected a number in \[0, 1\], got 'nan'" -- \
  "$imprint" synth --modality image --identities 10 --holdout-group-fraction nan --output "$work/never"
# synth's and eval's options that stand for config keys are checked as those keys are: synth --identities
# 2000000000 once grew to 5 GB, --content-classes 2000000000 to 2.2 GB, --samples-per-identity 1000000000 never
# ended; eval kept ranges of its own for --asnorm-cohort and --fidelity-identities.
for bad in "--identities 2000000000 data.train_identities" "--samples-per-identity 1000000000 data.samples_per_identity" \
  "--content-classes 2000000000 data.content_classes" "--holdout-identities 1 data.eval_identities" "--seed -1 data.seed"; do
  read -r option value key <<<"$bad"
  check --exit 2 --within 20 --match "^.*$option: expected an integer in .* \(as $key\), got '$value'" -- \
    "$imprint" synth --modality image --output "$work/never" "$option" "$value"
  [ ! -e "$work/never" ] || { echo "FAIL: synth $bad wrote $work/never"; failed; }
done
for bad in "--asnorm-cohort 2000000 eval.asnorm_cohort" "--fidelity-identities 1 eval.fidelity_identities"; do
  read -r option value key <<<"$bad"
  check --exit 2 --within 20 --match "^.*$option: expected an integer in .* \(as $key\), got '$value'" -- \
    "$imprint" eval --checkpoint "$ckpt" --data "$work/data" "$option" "$value"
done
# A dataset of another size or rate than the config's says how to make them agree (either side).
"$imprint" synth --modality image --identities 10 --samples-per-identity 4 --image-size 24 --output "$work/data24" \
  >/dev/null 2>&1 || { echo "FAIL: synth --image-size 24"; failed; }
"$imprint" synth --modality audio --identities 10 --samples-per-identity 4 --sample-rate 16000 --output "$work/audio16k" \
  >/dev/null 2>&1 || { echo "FAIL: synth --sample-rate 16000"; failed; }
check --exit 2 --within 30 --match "data.image_size: is 16 but the images of $work/data24 are 24 pixels: re-pack it with --image-size 16, or train at its size with --set data.image_size=24" -- \
  "$imprint" train --config "$config" --run-dir "$work/mismatch" --set data.source=shards --set "data.path=$work/data24"
check --exit 2 --within 30 --match "data.sample_rate: is 8000 but $work/audio16k is at 16000 Hz: re-pack it with --sample-rate 8000, or train at its rate with --set data.sample_rate=16000" -- \
  "$imprint" train --config "$config" --run-dir "$work/mismatch" --set data.source=shards --set "data.path=$work/audio16k" \
  --set data.modality=audio --set data.sample_rate=8000
[ ! -e "$work/mismatch" ] || { echo "FAIL: a refused run left $work/mismatch"; failed; }
for bad in "--image-size 100000" "--image-size 0" "--image-size 7" "--holdout-identities -1" "--threads 0"; do
  check --exit 2 --within 20 --match "${bad%% *}: expected .*got '${bad#* }'" -- \
    "$imprint" pack --modality image --input "$work" --output "$work/packed" $bad
  [ ! -e "$work/packed" ] || { echo "FAIL: pack $bad wrote $work/packed"; failed; }
done
check --exit 2 --within 20 --match "objective.denoise.width: 17 must be even" -- \
  "$imprint" train --config "$config" --dry-run --set objective.denoise.weight=1 --set objective.denoise.width=17
check --exit 2 --within 20 --match "objective.denoise.heads: 5 does not divide the attention's 2 x width = 64 channels" -- \
  "$imprint" train --config "$config" --dry-run --set objective.denoise.weight=1 --set objective.denoise.heads=5
# Names other tools use get a suggestion (gpu once suggested 'cpu').
check --exit 2 --within 20 --match "train.device: expected one of auto, cpu, cuda, got 'gpu' \(did you mean 'cuda'\?\)" -- \
  "$imprint" train --config "$config" --dry-run --set train.device=gpu
for wrong in optimizer.learning_rate train.lr; do
  check --exit 2 --within 20 --match "$wrong: unknown key \(did you mean 'optimizer.lr'\?\)" -- \
    "$imprint" train --config "$config" --dry-run --set "$wrong=0.001"
done
# Output folders: a trailing slash is not doubled into the names; a file in the way is named.
check --exit 0 --within 60 --match "$work/exported/model.safetensors, " --no-match "//" -- \
  "$imprint" export --checkpoint "$ckpt" --out "$work/exported/"
touch "$work/a-file"
check --exit 2 --within 20 --match "--out: $work/a-file exists and is not a folder" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$(dirname "$0")/../fixtures/pattern16.png" --out "$work/a-file"
# The resolved config writes numbers as configs do (300, not 3e+02).
check --exit 0 --within 20 --match "timeout_s: 5$" --no-match "e\+0" -- "$imprint" train --config "$config" --dry-run

# Media: a header claiming 100000 x 100000 is refused before any buffer exists (peak memory measured), as is
# a 68-byte one claiming 7000 x 7000 (within the pixel limit, but more than 68 bytes of deflate can hold: it
# once cost 173 MB in embed and 362 MB for two in pack), and a JPEG claiming 7000 x 7000 cut off after its
# header (once packed as a grey image at a cost of 270 MB); a 16-bit PNG reads as other readers show it.
mkdir -p "$work/media/bomb" "$work/media/bomb7k" "$work/media/bombjpg" "$work/media/deep" "$work/media/plain"
"$py" - "$work/media" <<'PY' || { echo "FAIL: writing the test images"; exit 1; }
import struct, sys, zlib
import numpy as np
from PIL import Image
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
def claiming(side):
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
for folder, side in (("bomb", 100000), ("bomb7k", 7000)):
    for i in range(3):
        open(f"{sys.argv[1]}/{folder}/{i}.png", "wb").write(claiming(side))
    print(len(claiming(side)), f"byte PNG claiming {side} x {side}")
import io
jpeg = io.BytesIO()
Image.new("RGB", (16, 16), (100, 150, 200)).save(jpeg, "JPEG")
jpeg = bytearray(jpeg.getvalue())
sof = jpeg.find(b"\xff\xc0")
struct.pack_into(">HH", jpeg, sof + 5, 7000, 7000)  # height, width
sos = jpeg.find(b"\xff\xda")
cut = bytes(jpeg[:sos + 2 + struct.unpack(">H", jpeg[sos + 2:sos + 4])[0] + 4])  # the scan's first bytes only
for i in range(3):
    open(f"{sys.argv[1]}/bombjpg/{i}.jpg", "wb").write(cut)
print(len(cut), "byte JPEG claiming 7000 x 7000, cut off")
ramp = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)  # 0..65535 in steps of 257
for i in range(3):
    Image.fromarray(ramp, mode="I;16").save(f"{sys.argv[1]}/deep/{i}.png")
    Image.fromarray((np.arange(256).reshape(16, 16) ^ i).astype(np.uint8), mode="L").save(f"{sys.argv[1]}/plain/{i}.png")
PY
# Peak memory of the same command with and without the bombs (the process alone holds ~160 MB of libtorch):
# the difference is what decoding the bombs cost.
peak() {  # peak resident MB of one run of the command given
  "$py" - "$@" <<'PY'
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
sys.stderr.write((r.stdout + r.stderr)[-3000:])
print(int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024))
PY
}
pack16() { echo "$imprint" pack --modality image --image-size 16 --threads 2 --input "$1" --output "$2"; }
mkdir -p "$work/no-bombs"; cp -r "$work/media/deep" "$work/media/plain" "$work/no-bombs/"
without=$(peak $(pack16 "$work/no-bombs" "$work/packed-no-bombs") 2>/dev/null)
with=$(peak $(pack16 "$work/media" "$work/packed") 2>"$work/pack.log")
cat "$work/pack.log"; echo "pack peak memory: $with MB with the bombs, $without MB without"
grep -q "declares 100000 x 100000 pixels" "$work/pack.log" || { echo "FAIL: the oversized header is not named"; failed; }
grep -q "bomb7k/0.png: skipped: its header declares 7000 x 7000 pixels (147000000 bytes of pixel data), more than its 68 bytes can hold" \
  "$work/pack.log" || { echo "FAIL: the 7000 x 7000 header in 68 bytes is not named"; failed; }
grep -q "bombjpg/0.jpg: skipped: JPEG: Premature end of JPEG file (the file is truncated" "$work/pack.log" ||
  { echo "FAIL: the cut-off JPEG is not named"; failed; }
[ $((with - without)) -lt 100 ] || { echo "FAIL: decoding the bombs cost $((with - without)) MB"; failed; }
embed_without=$(peak "$imprint" embed --checkpoint "$ckpt" --input "$work/media/plain/0.png" --out "$work/embedded-plain" 2>/dev/null)
embed_with=$(peak "$imprint" embed --checkpoint "$ckpt" --input "$work/media/bomb7k/0.png" --out "$work/embedded-7k" 2>"$work/embed.log")
cat "$work/embed.log"; echo "embed peak memory: $embed_with MB on the 7000 x 7000 header, $embed_without MB on a plain image"
grep -q "declares 7000 x 7000 pixels" "$work/embed.log" || { echo "FAIL: embed does not name the 7000 x 7000 header"; failed; }
[ $((embed_with - embed_without)) -lt 100 ] || { echo "FAIL: embed of the 7000 x 7000 header cost $((embed_with - embed_without)) MB"; failed; }
"$py" - "$work/packed" <<'PY' || { echo "FAIL: 16-bit PNG decoded wrongly"; failed; }
import json, sys
import h5py
import numpy as np
m = json.load(open(f"{sys.argv[1]}/manifest.json"))
with h5py.File(f"{sys.argv[1]}/{m['shards'][0]['file']}") as f:
    got = f["images"][0][..., 0].astype(int)  # identity 'deep', sample 0.png: the 16-bit ramp
want = np.arange(256).reshape(16, 16)  # 257 * k scaled to 8 bits is k
print("largest difference from the stored values:", np.abs(got - want).max())
assert np.abs(got - want).max() <= 1
PY
check --exit nonzero --within 20 --match "declares 100000 x 100000 pixels" -- \
  "$imprint" embed --checkpoint "$ckpt" --input "$work/media/bomb/0.png" --out "$work/embedded"
# Nothing usable at all (every file corrupt, or every file a crafted header): pack names each file, says why it
# stopped (exit 6, a dataset error) and leaves nothing behind: once it wrote an empty manifest, then refused it.
mkdir -p "$work/corrupt/a" "$work/corrupt/b" "$work/only-bombs"
for i in 0 1; do echo "not an image" >"$work/corrupt/a/$i.png"; echo "not an image" >"$work/corrupt/b/$i.jpg"; done
cp -r "$work/media/bomb" "$work/media/bomb7k" "$work/only-bombs/"
check --exit 6 --within 20 --match "corrupt/a/0.png: skipped: PNG" --match "corrupt/b/1.jpg: skipped: JPEG" \
  --match "dataset error: $work/corrupt: 0 of its 2 identities have the 2 usable samples .*nothing was written \(4 file\(s\) skipped, first: $work/corrupt/a/0.png" \
  --no-match "manifest.json" -- "$imprint" pack --modality image --input "$work/corrupt" --output "$work/corrupt-packed"
[ ! -e "$work/corrupt-packed" ] || { ls -la "$work/corrupt-packed"; echo "FAIL: a pack of nothing left $work/corrupt-packed"; failed; }
check --exit 6 --within 20 --match "bomb/2.png: skipped: its header declares 100000 x 100000" \
  --match "bomb7k/2.png: skipped: its header declares 7000 x 7000" --match "0 of its 2 identities .*nothing was written" -- \
  "$imprint" pack --modality image --input "$work/only-bombs" --output "$work/bombs-packed"
[ ! -e "$work/bombs-packed" ] || { echo "FAIL: a pack of nothing left $work/bombs-packed"; failed; }
# Shards already written when pack stops (one per identity here; the hold-out leaves too few once the bombs
# are skipped) go too, and a folder that was there stays, empty.
mkdir -p "$work/half/a" "$work/half/b" "$work/half-packed"
cp "$work/media/plain/"*.png "$work/half/a/"; cp "$work/media/plain/"*.png "$work/half/b/"
cp -r "$work/media/bomb7k" "$work/half/"
check --exit 6 --within 20 --match "bomb7k/0.png: skipped" --match "--holdout-identities 1 leaves too few of 2 usable identities" -- \
  "$imprint" pack --modality image --image-size 16 --input "$work/half" --output "$work/half-packed" \
  --holdout-identities 1 --shard-size 1B
[ -d "$work/half-packed" ] && [ -z "$(ls -A "$work/half-packed")" ] ||
  { ls -la "$work/half-packed"; echo "FAIL: a stopped pack left files in $work/half-packed"; failed; }
# Temp files are unique to the writing process (FILE.tmp.HOST.PID), never a fixed FILE.tmp that two writers
# would share: an entry already under the fixed name (here a folder) once stopped the write.
mkdir -p "$work/tmp-names/shard-00000.h5.tmp" "$work/tmp-names/manifest.json.tmp"
check --exit 0 --within 60 --match "wrote 10 identities" -- "$imprint" synth --modality image --identities 10 \
  --samples-per-identity 4 --image-size 16 --output "$work/tmp-names"
[ "$(ls "$work/tmp-names" | tr '\n' ' ')" = "manifest.json manifest.json.tmp shard-00000.h5 shard-00000.h5.tmp " ] ||
  { ls -la "$work/tmp-names"; echo "FAIL: synth left temp files"; failed; }
# Audio and folders: a float WAV holding NaN is skipped with its reason, one at 50x full scale is packed with a
# warning saying how much was clipped, folders that differ only in letter case are named, and a symlink loop
# inside an identity folder skips that entry instead of failing the whole pack.
mkdir -p "$work/voices"
"$py" - "$work/voices" <<'PY' || { echo "FAIL: writing the test audio"; exit 1; }
import math, os, struct, sys
def float_wav(path, samples, rate=8000):
    data = struct.pack("<%df" % len(samples), *samples)
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)  # WAVE_FORMAT_IEEE_FLOAT, mono, 32-bit
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
tone = [0.3 * math.sin(2 * math.pi * 220 * i / 8000) for i in range(4000)]
for name in ("Alice", "alice", "bob"):
    os.makedirs(f"{sys.argv[1]}/{name}")
    for i in range(3):
        float_wav(f"{sys.argv[1]}/{name}/{i}.wav", tone)
float_wav(f"{sys.argv[1]}/bob/nan.wav", tone[:100] + [float("nan")] + tone[101:])
float_wav(f"{sys.argv[1]}/bob/loud.wav", [50 * v for v in tone])
os.symlink("loop.wav", f"{sys.argv[1]}/bob/loop.wav")
PY
check --exit 0 --within 60 --match "bob/nan.wav: skipped: holds a NaN or infinite sample \(frame 100" \
  --match "bob/loud.wav: packed, but [0-9]+ of 4000 samples \([0-9]+%\) pass full scale and were clipped" \
  --match "identity folders Alice, alice differ only in letter case: packed as 2 identities" \
  --match "bob/loop.wav: skipped: .*(symbolic links|Too many levels)" -- \
  "$imprint" pack --modality audio --input "$work/voices" --output "$work/voices-packed"
[ "$failures" -eq 0 ] || { echo "FAIL: $failures case(s)"; exit 1; }
echo "PASS"

#!/usr/bin/python3
"""Render one glyph image per character for every static font face installed by the recipe's Debian packages.

One face = one identity (folder OUT/<family>--<style>/), one glyph = one sample (OUT/<face>/<char>.png), the
character = the content label (`imprint pack --content-from stem`). Whole FAMILIES are held out: a family is
held out when a hash of its name falls in the held-out fraction, and OUT/holdout.txt lists the held-out faces
for `imprint pack --holdout-list`. Debian's own Python (/usr/bin/python3) runs it: Pillow (python3-pil) draws
with FreeType, fontTools (python3-fonttools) reads family names and which characters a face has.

Each face is drawn at one size chosen so its tallest and widest glyph fits (size and weight differences
between faces are style and stay), every glyph centred on its ink box, supersampled 4x and downscaled.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

from fontTools.ttLib import TTCollection, TTFont
from PIL import Image, ImageDraw, ImageFont

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# Faces whose letters are not letters (symbol and dingbat fonts map A-Z to pictures).
NOT_LETTERS = re.compile(r"\b(symbols?|dingbats?|math|ornaments?|emoji|icons|braille|phon.tique)\b", re.I)


def package_files(package):
    out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return [line for line in out.stdout.splitlines() if line.lower().endswith(FONT_SUFFIXES) and os.path.isfile(line)]


def name_of(font, ids):
    for name_id in ids:
        rec = font["name"].getName(name_id, 3, 1, 0x409) or font["name"].getName(name_id, 1, 0, 0)
        if rec is not None:
            return str(rec).strip()
    return None


def faces_in(path):
    """(path, index, family, style, codepoints) for each face in a font file; variable fonts are skipped."""
    fonts = TTCollection(path).fonts if path.lower().endswith(".ttc") else [TTFont(path, lazy=True)]
    out = []
    for index, font in enumerate(fonts):
        if "fvar" in font:
            continue  # a variable font: Pillow draws one default instance, already present as a static face
        family = name_of(font, (16, 1))
        style = name_of(font, (17, 2)) or "Regular"
        cmap = font.getBestCmap() or {}
        if family:
            out.append((path, index, family, style, set(cmap)))
    return out


def safe(text):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_")


def held_out(family, fraction):
    h = int.from_bytes(hashlib.sha1(family.encode("utf-8")).digest()[:8], "big")
    return h / 2.0**64 < fraction


def render_face(job):
    path, index, chars, size, folder = job
    sup = 4 * size
    margin = sup // 16
    probe = ImageFont.truetype(path, sup, index=index)
    boxes = [probe.getbbox(c) for c in chars]
    widest = max(b[2] - b[0] for b in boxes)
    tallest = max(b[3] - b[1] for b in boxes)
    if widest <= 0 or tallest <= 0:
        return folder, "draws no ink"
    points = max(4, int(sup * (sup - 2 * margin) / max(widest, tallest)))
    font = ImageFont.truetype(path, points, index=index)
    os.makedirs(folder, exist_ok=True)
    for c in chars:
        left, top, right, bottom = font.getbbox(c)
        canvas = Image.new("L", (sup, sup), 255)
        draw = ImageDraw.Draw(canvas)
        draw.text(((sup - (right - left)) / 2 - left, (sup - (bottom - top)) / 2 - top), c, font=font, fill=0)
        if canvas.getextrema()[0] == 255:
            return folder, f"'{c}' draws no ink"
        canvas.resize((size, size), Image.LANCZOS).convert("RGB").save(os.path.join(folder, c + ".png"))
    return folder, None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--packages", required=True, help="file listing Debian font packages, one per line")
    p.add_argument("--out", required=True, help="folder to write (must not exist or be empty)")
    p.add_argument("--chars", default="ABCDEFGHIJKLMNOPQRSTUVWXYZ", help="the characters drawn (content labels)")
    p.add_argument("--size", type=int, default=32, help="image side in pixels")
    p.add_argument("--holdout-fraction", type=float, default=0.15, help="share of FAMILIES held out")
    p.add_argument("--max-faces", type=int, default=0, help="at most N faces (0 = all), chosen by name")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    if not a.chars.isalnum():
        sys.exit(f"--chars {a.chars!r}: letters and digits only (they name the files)")
    if os.path.isdir(a.out) and os.listdir(a.out):
        sys.exit(f"{a.out}: exists and is not empty; remove it or choose another --out")

    packages = [l.strip() for l in open(a.packages) if l.strip() and not l.startswith("#")]
    files, missing = [], []
    for pkg in packages:
        found = package_files(pkg)
        if found is None:
            missing.append(pkg)
        else:
            files += found
    if missing:
        print(f"not installed, skipped: {' '.join(missing)} (apt-get install them for the full set)", file=sys.stderr)

    faces, problems = {}, []
    for path in sorted(set(files)):
        try:
            for f in faces_in(path):
                faces.setdefault((f[2], f[3]), f)  # the first file of a (family, style) wins
        except Exception as e:  # a font file fontTools cannot read is reported, not fatal
            problems.append(f"{path}: unreadable ({e})")
    jobs, holdout, families = [], [], set()
    for (family, style), (path, index, _, _, cmap) in sorted(faces.items()):
        if NOT_LETTERS.search(family):
            problems.append(f"{path}: skipped: '{family}' is a symbol font")
            continue
        lacking = [c for c in a.chars if ord(c) not in cmap]
        if lacking:
            problems.append(f"{path}: skipped: '{family} {style}' has no glyph for {''.join(lacking)}")
            continue
        name = safe(family) + "--" + safe(style)
        jobs.append((path, index, a.chars, a.size, os.path.join(a.out, name)))
        families.add(family)
        if held_out(family, a.holdout_fraction):
            holdout.append(name)
    if a.max_faces > 0:
        jobs = jobs[: a.max_faces]
        holdout = [h for h in holdout if any(j[4].endswith("/" + h) for j in jobs)]
    if not jobs:
        sys.exit("no usable font faces found: install the packages listed in " + a.packages)

    os.makedirs(a.out, exist_ok=True)
    done = 0
    kept = set()
    with ProcessPoolExecutor(max_workers=max(1, a.threads)) as pool:
        for folder, problem in pool.map(render_face, jobs, chunksize=4):
            done += 1
            if problem:
                problems.append(f"{folder}: skipped: {problem}")
                if os.path.isdir(folder):
                    for f in os.listdir(folder):
                        os.remove(os.path.join(folder, f))
                    os.rmdir(folder)
            else:
                kept.add(os.path.basename(folder))
            if done % 100 == 0 or done == len(jobs):
                print(f"rendered {done}/{len(jobs)} faces", flush=True)
    holdout = [h for h in holdout if h in kept]
    with open(os.path.join(a.out, "holdout.txt"), "w") as f:
        f.write("".join(h + "\n" for h in holdout))
    with open(os.path.join(a.out, "problems.txt"), "w") as f:
        f.write("".join(line + "\n" for line in problems))
    held_families = {j for j in families if held_out(j, a.holdout_fraction)}
    print(f"{len(kept)} faces in {len(families)} families, {len(a.chars)} glyphs each, into {a.out}; held out: "
          f"{len(holdout)} faces of {len(held_families)} families (holdout.txt); {len(problems)} files skipped "
          f"(problems.txt)")


if __name__ == "__main__":
    main()

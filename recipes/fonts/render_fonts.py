#!/usr/bin/python3
"""Render one glyph image per character for every static font face installed by the recipe's Debian packages.

One face = one identity (folder OUT/<family>--<style>/), one glyph = one sample (OUT/<face>/<char>.png), the
character = the content label (`imprint pack --content-from stem`). Whole GROUPS are held out, and a group is
more than a family: Debian ships the same design under several names (DejaVu Sans Mono is byte-identical to
Aerial Mono, Veranda to DejaVu Sans), which a family split puts on both sides. So after rendering, faces whose
alphabets are near-identical (root-mean-square pixel difference over all their glyphs, in [0, 1] grey levels,
below --twin-threshold) are joined, with every face of their families, into one group; a group is held out when
a hash of its alphabetically first family name falls in the held-out fraction. OUT/holdout.txt lists the
held-out faces for `imprint pack --holdout-list`, OUT/groups.txt every group that joins several families.
With --by-char DIR the TRAINING faces' glyphs are also linked as DIR/<char>/<face>.png: one character = one
identity, for the character reader that scores content accuracy (eval.content_judge). Debian's own Python
(/usr/bin/python3) runs it: Pillow (python3-pil) draws with FreeType, fontTools (python3-fonttools) reads family
names and which characters a face has.

Each face is drawn at one size chosen so its tallest and widest glyph fits (size and weight differences
between faces are style and stay), every glyph centred on its ink box, supersampled 4x and downscaled.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
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


def alphabet_of(folder, chars):
    """A face's glyphs as one vector of grey levels in [0, 1]."""
    return np.concatenate([np.asarray(Image.open(os.path.join(folder, c + ".png")).convert("L"), np.float32).ravel()
                           for c in chars]) / 255.0


def twin_groups(folders, families, chars, threshold):
    """Groups of faces (indices) joined by family or by a near-identical alphabet (RMS difference below
    `threshold`), by union-find; and the face pairs found near-identical across families."""
    x = np.stack([alphabet_of(f, chars) for f in folders]).astype(np.float64)
    sq = (x * x).sum(1)
    rms = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0) / x.shape[1])
    parent = list(range(len(folders)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_family = {}
    for i, fam in enumerate(families):
        if fam in first_of_family:
            parent[root(i)] = root(first_of_family[fam])
        else:
            first_of_family[fam] = i
    twins = []
    rows, cols = np.nonzero(np.triu(rms < threshold, 1))
    for i, j in zip(rows.tolist(), cols.tolist()):
        if families[i] != families[j]:
            twins.append((i, j, float(rms[i, j])))
        parent[root(i)] = root(j)
    groups = {}
    for i in range(len(folders)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values()), twins


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


def link_by_char(out, by_char, training_faces, chars):
    """DIR/<char>/<face>.png -> OUT/<face>/<char>.png for every training face: the held-out faces stay unseen by
    the reader too, so its accuracy on their real glyphs is a fair ceiling for generated ones."""
    if os.path.exists(by_char):
        shutil.rmtree(by_char)
    for c in chars:
        os.makedirs(os.path.join(by_char, c))
        for face in training_faces:
            os.symlink(os.path.abspath(os.path.join(out, face, f"{c}.png")), os.path.join(by_char, c, f"{face}.png"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--packages", required=True, help="file listing Debian font packages, one per line")
    p.add_argument("--out", required=True, help="folder to write (must not exist or be empty)")
    p.add_argument("--chars", default="ABCDEFGHIJKLMNOPQRSTUVWXYZ", help="the characters drawn (content labels)")
    p.add_argument("--size", type=int, default=32, help="image side in pixels")
    p.add_argument("--holdout-fraction", type=float, default=0.15, help="share of groups (families and their "
                   "near-identical copies) held out")
    p.add_argument("--twin-threshold", type=float, default=0.05,
                   help="faces whose alphabets differ by less than this root-mean-square grey level (0-1) are the "
                   "same design: held out together (0 turns the grouping off: families only)")
    p.add_argument("--max-faces", type=int, default=0, help="at most N faces (0 = all), chosen by name")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--by-char", default="", help="also link the training faces' glyphs as DIR/CHAR/FACE.png "
                   "(removed first when it exists)")
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
    jobs, family_of = [], {}
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
        family_of[name] = family
    if a.max_faces > 0:
        jobs = jobs[: a.max_faces]
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
    names = sorted(kept)
    families = [family_of[n] for n in names]
    if a.twin_threshold > 0:
        groups, twins = twin_groups([os.path.join(a.out, n) for n in names], families, a.chars, a.twin_threshold)
    else:
        by_family = {}
        for i, fam in enumerate(families):
            by_family.setdefault(fam, []).append(i)
        groups, twins = list(by_family.values()), []
    holdout, held_groups, joined = [], 0, []
    for g in groups:
        group_families = sorted({families[i] for i in g})
        if len(group_families) > 1:
            joined.append(g)
        if held_out(group_families[0], a.holdout_fraction):
            held_groups += 1
            holdout += [names[i] for i in g]
    with open(os.path.join(a.out, "holdout.txt"), "w") as f:
        f.write("".join(h + "\n" for h in sorted(holdout)))
    if a.by_char:
        held = set(holdout)
        link_by_char(a.out, a.by_char, [n for n in names if n not in held], a.chars)
    with open(os.path.join(a.out, "groups.txt"), "w") as f:
        f.write(f"# groups joining several families: faces with near-identical alphabets (RMS grey-level difference "
                f"< {a.twin_threshold}) and every face of their families; each line one group\n")
        for g in sorted(joined, key=lambda g: names[g[0]]):
            f.write(" ".join(names[i] for i in g) + "\n")
        f.write("# the near-identical pairs across families (RMS difference)\n")
        for i, j, d in sorted(twins, key=lambda t: t[2]):
            f.write(f"# {names[i]} {names[j]} {d:.4f}\n")
    with open(os.path.join(a.out, "problems.txt"), "w") as f:
        f.write("".join(line + "\n" for line in problems))
    twin_faces = len({i for t in twins for i in t[:2]})
    print(f"{len(kept)} faces in {len(set(families))} families, {len(a.chars)} glyphs each, into {a.out}; "
          f"{twin_faces} faces have a near-identical face in another family ({len(twins)} pairs below "
          f"{a.twin_threshold}), joining {sum(len(g) for g in joined)} faces of "
          f"{sum(len({families[i] for i in g}) for g in joined)} families into {len(joined)} groups (groups.txt); "
          f"held out: {len(holdout)} faces in {held_groups} groups (holdout.txt); {len(problems)} files skipped "
          f"(problems.txt)")


if __name__ == "__main__":
    main()

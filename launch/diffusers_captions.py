#!/usr/bin/env python3
"""Caption tokens for a diffusers model: a folder of photos + captions -> what `imprint pack` and the denoise
objective read as content.

    .venv/bin/python launch/diffusers_captions.py --model MODEL_DIR --images ROOT --out CAPTIONS_DIR

ROOT is the layout `imprint pack` reads (ROOT/<identity>/**/*.{png,jpg,jpeg}); each image's caption is the
text file beside it with the same stem (ROOT/ada/03.jpg -> ROOT/ada/03.txt), or, where there is none, the
--default-caption (refused when not given: silent training on the wrong caption is worse than a stop).
Captions are put on one line (runs of white space, tabs and newlines included, become one space).

CAPTIONS_DIR receives
  captions.tsv   "<path relative to ROOT>\\t<caption>" for every image: `imprint pack --content-from` makes each
                 distinct caption a content label (their sorted order is the label index);
  captions.npy   [labels, L, Dc] float32: the model's text encoder's last hidden states for each distinct
                 caption in that same sorted order, tokenised as StableDiffusionPipeline.encode_prompt does
                 (padding to the tokenizer's model_max_length L, truncation): objective.denoise.content_tokens.
  captions.json  the counts, L, Dc, the model folder (a check against another model's generator.pt).
"""
import argparse
import json
import os
import re
import sys

IMAGE_EXT = {".png", ".jpg", ".jpeg"}


def fail(message, code=2):
    print(f"diffusers_captions: {message}", file=sys.stderr)
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the diffusers pipeline folder (text_encoder/, tokenizer/)")
    ap.add_argument("--images", required=True, help="ROOT/<identity>/**/*.{png,jpg,jpeg} with same-stem .txt captions")
    ap.add_argument("--out", required=True, help="output folder (refused if it holds files, unless --overwrite)")
    ap.add_argument("--default-caption", default=None, help="the caption of an image without a .txt beside it")
    ap.add_argument("--batch", type=int, default=64, help="captions per text-encoder call")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()

    for part in ("text_encoder", "tokenizer"):
        if not os.path.isdir(os.path.join(args.model, part)):
            fail(f"{args.model}: no {part}/ folder — a diffusers pipeline folder holds text_encoder/ and tokenizer/")
    if not os.path.isdir(args.images):
        fail(f"{args.images}: not a folder")
    if os.path.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
        fail(f"{args.out}: the output folder exists and is not empty (pass --overwrite to replace what it holds)")

    rows, missing = [], []
    for dirpath, dirnames, filenames in os.walk(args.images):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, args.images)
        if rel_dir == ".":
            continue  # images directly in ROOT belong to no identity; imprint pack ignores them too
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in IMAGE_EXT:
                continue
            txt = os.path.join(dirpath, stem + ".txt")
            if os.path.isfile(txt):
                with open(txt, encoding="utf-8") as f:
                    caption = f.read()
            elif args.default_caption is not None:
                caption = args.default_caption
            else:
                missing.append(os.path.join(rel_dir, name))
                continue
            caption = re.sub(r"\s+", " ", caption).strip()
            if not caption:
                fail(f"{txt}: the caption is empty")
            rows.append((os.path.join(rel_dir, name).replace(os.sep, "/"), caption))
    if missing:
        fail(f"{len(missing)} image(s) have no caption file beside them (first: {missing[0]}); write ROOT/.../<stem>.txt "
             "or pass --default-caption")
    if not rows:
        fail(f"{args.images}: no images in ROOT/<identity>/ folders")

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import numpy as np
    import torch
    import transformers
    from transformers import CLIPTextModel, CLIPTokenizer

    transformers.utils.logging.disable_progress_bar()

    tokenizer = CLIPTokenizer.from_pretrained(args.model, subfolder="tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(args.model, subfolder="text_encoder").eval()
    # Byte order, which is what imprint pack's std::sort gives its vocabulary (UTF-8 sorts as code points).
    labels = sorted({c for _, c in rows}, key=lambda s: s.encode("utf-8"))
    chunks = []
    with torch.no_grad():
        for i in range(0, len(labels), args.batch):
            ids = tokenizer(labels[i:i + args.batch], padding="max_length", max_length=tokenizer.model_max_length,
                            truncation=True, return_tensors="pt").input_ids
            chunks.append(text_encoder(ids)[0].float().numpy())
    table = np.concatenate(chunks).astype(np.float32)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "captions.tsv"), "w", encoding="utf-8") as f:
        for path, caption in rows:
            f.write(f"{path}\t{caption}\n")
    np.save(os.path.join(args.out, "captions.npy"), table)
    with open(os.path.join(args.out, "captions.json"), "w") as f:
        json.dump({"model": os.path.abspath(args.model), "images": len(rows), "captions": len(labels),
                   "length": int(table.shape[1]), "width": int(table.shape[2])}, f, indent=1)
    print(f"diffusers_captions: {len(rows)} images, {len(labels)} distinct captions -> {args.out}/captions.tsv, "
          f"captions.npy {list(table.shape)}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Render the words of words.txt in every English voice of a voices TSV (recipes/words, docs/recipes.md).

One voice = one identity (a folder), one word = one sample (WORD.wav, so `imprint pack --content-from stem`
makes the word its content label). Engines and voices as recipes/voices (espeak-ng, festival, flite; its
render_one does the rendering); voices whose text column is `num` (other languages) are left out: the words
are English. Held out (holdout.txt): every voice of --holdout-engine (an engine the encoder and generator never
hear), and a --holdout-fraction of the others by a hash of the voice id. A voice that fails to render is
skipped and listed in problems.txt. With --by-word DIR, the TRAINING voices' clips are also linked as
DIR/WORD/VOICE.wav: one word = one identity, what the content judge (a word classifier) trains on.

  /usr/bin/python3 render_words.py --voices ../voices/voices.tsv --words words.txt --out DIR
      [--holdout-engine flite] [--holdout-fraction 0.15] [--by-word DIR]
"""
import argparse
import concurrent.futures
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "voices"))
from render_voices import held_out, read_voices, render_one  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", required=True)
    ap.add_argument("--words", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--holdout-engine", default="flite", help="every voice of this engine is held out ('' = none)")
    ap.add_argument("--holdout-fraction", type=float, default=0.15)
    ap.add_argument("--by-word", default="", help="also link the training voices' clips as DIR/WORD/VOICE.wav")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    voices = [v for v in read_voices(args.voices) if v["text"] == "en"]
    with open(args.words, encoding="utf-8") as f:
        words = [w.strip() for w in f if w.strip() and not w.startswith("#")]
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    problems, done = [], []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(render_one, v, words, os.path.join(args.out, v["id"])): v for v in voices}
        for fut in concurrent.futures.as_completed(futures):
            v = futures[fut]
            reason = fut.result()
            folder = os.path.join(args.out, v["id"])
            if reason:
                shutil.rmtree(folder, ignore_errors=True)
                problems.append(f"{v['id']}\t{v['engine']}\t{v['voice']}\t{reason}")
                continue
            # render_one numbers the files in text order; name them by their word.
            for i, w in enumerate(words):
                os.rename(os.path.join(folder, f"{i:02d}.wav"), os.path.join(folder, f"{w}.wav"))
            done.append(v)

    held = held_out(voices, args.holdout_engine, args.holdout_fraction)
    holdout = sorted(v["id"] for v in done if v["id"] in held)
    with open(os.path.join(args.out, "holdout.txt"), "w") as f:
        f.write("".join(h + "\n" for h in holdout))
    if args.by_word:
        if os.path.exists(args.by_word):
            shutil.rmtree(args.by_word)
        for w in words:
            os.makedirs(os.path.join(args.by_word, w))
            for v in done:
                if v["id"] not in holdout:
                    os.symlink(os.path.abspath(os.path.join(args.out, v["id"], f"{w}.wav")),
                               os.path.join(args.by_word, w, f"{v['id']}.wav"))
    with open(os.path.join(args.out, "problems.txt"), "w") as f:
        f.write("".join(sorted(p + "\n" for p in problems)))
    engines = {}
    for v in done:
        engines[v["engine"]] = engines.get(v["engine"], 0) + 1
    held_engine = sum(1 for v in done if v["engine"] == args.holdout_engine)
    print(f"rendered {len(done)} voices x {len(words)} words into {args.out} "
          f"({', '.join(f'{k} {n}' for k, n in sorted(engines.items()))}); {len(holdout)} held out "
          f"({held_engine} of them the whole engine '{args.holdout_engine}'; holdout.txt); "
          f"{len(problems)} skipped (problems.txt)")
    for p in sorted(problems):
        print("  skipped: " + p)
    if len(done) - len(holdout) < 2:
        sys.exit("fewer than 2 training voices rendered: install espeak-ng, festival (+ festvox voices) or flite")


if __name__ == "__main__":
    main()

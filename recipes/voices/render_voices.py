#!/usr/bin/python3
"""Render speech identities with Debian's TTS engines for imprint pack (recipes/voices, docs/recipes.md).

One voice = one identity (a folder), one utterance = one sample (NN.wav). `en` voices read the sentences of
sentences.txt; `num` voices read numbers, so a voice of another language speaks its own language. Engines:
espeak (espeak-ng voice+variant), festival (a festvox voice name, `(voice_NAME)`), flite (a built-in voice).
A voice that fails to render is skipped and listed in problems.txt with the reason, never kept half-empty.
Held-out voices (holdout.txt) are chosen by a hash of the voice id, so the split does not depend on which
voices rendered.

  /usr/bin/python3 render_voices.py --voices voices.tsv --sentences sentences.txt --out DIR [--utterances 30]
      [--holdout-fraction 0.15]
"""
import argparse
import concurrent.futures
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile


def read_voices(path):
    voices = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 4 or cols[1] not in ("espeak", "festival", "flite") or cols[3] not in ("en", "num"):
                sys.exit(f"{path}:{n}: expected <id> TAB <espeak|festival|flite> TAB <voice> TAB <en|num>, got {line!r}")
            voices.append(dict(id=cols[0], engine=cols[1], voice=cols[2], text=cols[3]))
    return voices


def texts_for(voice, sentences, count):
    if voice["text"] == "en":
        return [sentences[i % len(sentences)] for i in range(count)]
    rng = random.Random(voice["id"])  # the same numbers on every run
    return [" ".join(str(rng.randint(0, 9999)) for _ in range(5)) for _ in range(count)]


def render_one(voice, texts, folder):
    """Writes folder/NN.wav for every text; returns None or the reason it failed."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{i:02d}.wav") for i in range(len(texts))]
    try:
        if voice["engine"] == "espeak":
            for text, path in zip(texts, paths):
                subprocess.run(["espeak-ng", "-v", voice["voice"], "-w", path, text], check=True,
                               capture_output=True, timeout=60)
        elif voice["engine"] == "flite":
            for text, path in zip(texts, paths):
                subprocess.run(["flite", "-voice", voice["voice"], "-t", text, "-o", path], check=True,
                               capture_output=True, timeout=60)
        else:  # one festival process per voice: starting it costs more than an utterance
            def quoted(s):
                return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines = [f"(voice_{voice['voice']})"]
            lines += [f"(utt.save.wave (SynthText {quoted(t)}) {quoted(p)} 'riff)" for t, p in zip(texts, paths)]
            with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as script:
                script.write("\n".join(lines) + "\n")
            try:
                r = subprocess.run(["festival", "-b", script.name], capture_output=True, text=True, timeout=600)
            finally:
                os.unlink(script.name)
            if "SIOD ERROR" in r.stdout + r.stderr:
                raise RuntimeError((r.stdout + r.stderr).strip().splitlines()[0])
    except FileNotFoundError as e:
        return f"engine not installed ({e.filename})"
    except subprocess.CalledProcessError as e:
        return f"{voice['engine']} failed: {(e.stderr or b'').decode(errors='replace').strip()[:200]}"
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return str(e)[:200]
    for p in paths:
        if not os.path.exists(p) or os.path.getsize(p) < 1000:
            return f"{os.path.basename(p)} was not written (or is empty)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", required=True)
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--utterances", type=int, default=30)
    ap.add_argument("--holdout-fraction", type=float, default=0.15)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    voices = read_voices(args.voices)
    with open(args.sentences, encoding="utf-8") as f:
        sentences = [s.strip() for s in f if s.strip() and not s.startswith("#")]
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    problems, done = [], []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(render_one, v, texts_for(v, sentences, args.utterances), os.path.join(args.out, v["id"])): v
                   for v in voices}
        for fut in concurrent.futures.as_completed(futures):
            v = futures[fut]
            reason = fut.result()
            if reason:
                shutil.rmtree(os.path.join(args.out, v["id"]), ignore_errors=True)
                problems.append(f"{v['id']}\t{v['engine']}\t{v['voice']}\t{reason}")
            else:
                done.append(v)
    # By a hash of the id: the same voices are held out whichever others rendered.
    def held(v):
        return int(hashlib.sha256(v["id"].encode()).hexdigest()[:8], 16) / 2**32 < args.holdout_fraction
    holdout = sorted(v["id"] for v in done if held(v))
    with open(os.path.join(args.out, "holdout.txt"), "w") as f:
        f.write("".join(h + "\n" for h in holdout))
    with open(os.path.join(args.out, "problems.txt"), "w") as f:
        f.write("".join(sorted(p + "\n" for p in problems)))
    engines = {}
    for v in done:
        engines[v["engine"]] = engines.get(v["engine"], 0) + 1
    print(f"rendered {len(done)} voices x {args.utterances} utterances into {args.out} "
          f"({', '.join(f'{k} {n}' for k, n in sorted(engines.items()))}); {len(holdout)} held out (holdout.txt); "
          f"{len(problems)} skipped (problems.txt)")
    for p in sorted(problems):
        print("  skipped: " + p)
    if len(done) < 2:
        sys.exit("fewer than 2 voices rendered: install espeak-ng, festival (+ festvox voices) or flite")


if __name__ == "__main__":
    main()

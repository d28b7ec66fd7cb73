#!/usr/bin/python3
"""Render speech identities with Debian's TTS engines for imprint pack (recipes/voices, docs/recipes.md).

One voice = one identity (a folder), one utterance = one sample (NN.wav). `en` voices read the sentences of
sentences.txt; `num` voices read numbers, so a voice of another language speaks its own language. Engines:
espeak (espeak-ng voice+variant), festival (a festvox voice name, `(voice_NAME)`), flite (a built-in voice).
A voice that fails to render is skipped and listed in problems.txt with the reason, never kept half-empty.
Held out (holdout.txt): every voice of --holdout-engine (an engine the encoder never hears), a
--holdout-fraction of the others chosen by a hash of the voice id, so the split does not depend on which
voices rendered, and every voice whose recorded speaker (voices.tsv's optional 5th column) is held out.

--pitch-speakers P1,P2 adds pseudo-speakers: every TRAINING espeak-ng voice is rendered again at espeak-ng
pitch P (0-99; 50 is the voice's own) as a new identity ID-pP. Why that is sound: espeak-ng's variants are
themselves mostly pitch and formant settings of one synthesiser, so a pitch-shifted variant is a voice as
distinct as the variants are from each other; a pseudo-speaker is made only from a training voice, so no
held-out voice (nor a shift of one) is ever trained on. Speaking rate is NOT made a new identity: the same
person speaks fast or slow, so rate is something the encoder should ignore (augment.speed territory).
--shift-speakers C1,C2 does the same for the training voices of the OTHER engines (festival's recorded
diphone, unit-selection and HTS voices), which have no pitch knob: sox's `pitch` effect shifts each file by
C cents, tempo kept, spectral envelope shifted with it (a longer or shorter vocal tract), as ID-sC — the
speed-perturbation-as-new-speakers idea (Yamamoto et al., Interspeech 2019) without the tempo change.

  /usr/bin/python3 render_voices.py --voices voices.tsv --sentences sentences.txt --out DIR [--utterances 30]
      [--holdout-fraction 0.15] [--holdout-engine flite] [--pitch-speakers 25,75] [--shift-speakers=-300,300]
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
    """The rows of voices.tsv: id, engine, voice, text and, optionally, the recorded speaker behind the voice
    when another row shares that speaker (so the split keeps them on one side)."""
    voices = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) not in (4, 5) or cols[1] not in ("espeak", "festival", "flite") or cols[3] not in ("en", "num"):
                sys.exit(f"{path}:{n}: expected <id> TAB <espeak|festival|flite> TAB <voice> TAB <en|num> "
                         f"[TAB <speaker>], got {line!r}")
            voices.append(dict(id=cols[0], engine=cols[1], voice=cols[2], text=cols[3], pitch=None,
                               speaker=cols[4] if len(cols) == 5 else cols[0]))
    return voices


def held_out(voices, engine, fraction):
    """The ids held out: every voice of `engine`, a `fraction` of the others by a hash of the id (the same
    voices whichever others render), and every voice that shares a speaker with a held-out one (festival's
    and flite's Kal are one person: hearing one in training would leak the other)."""
    def chosen(v):
        return v["engine"] == engine or int(hashlib.sha256(v["id"].encode()).hexdigest()[:8], 16) / 2**32 < fraction
    speakers = {v["speaker"] for v in voices if chosen(v)}
    return {v["id"] for v in voices if v["speaker"] in speakers}


def texts_for(voice, sentences, count):
    if voice["text"] == "en":
        return [sentences[i % len(sentences)] for i in range(count)]
    rng = random.Random(voice.get("parent", voice["id"]))  # the same numbers on every run (as its parent's)
    return [" ".join(str(rng.randint(0, 9999)) for _ in range(5)) for _ in range(count)]


def render_one(voice, texts, folder):
    """Writes folder/NN.wav for every text; returns None or the reason it failed."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{i:02d}.wav") for i in range(len(texts))]
    try:
        if voice["engine"] == "espeak":
            for text, path in zip(texts, paths):
                pitch = [] if voice["pitch"] is None else ["-p", str(voice["pitch"])]
                subprocess.run(["espeak-ng", "-v", voice["voice"], *pitch, "-w", path, text], check=True,
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


def shift_speakers(parents, cents, out, jobs, problems):
    """Every parent voice's files again, pitch-shifted by each of `cents` with sox's `pitch` effect (tempo
    kept; the spectral envelope moves with the pitch, as a shorter or longer vocal tract would), as new
    identities ID-sC. Returns the pseudo-speakers made; a failure is listed in `problems`."""
    def one(parent, c):
        v = dict(parent, id=f"{parent['id']}-s{c}", parent=parent["id"])
        src, dst = os.path.join(out, parent["id"]), os.path.join(out, v["id"])
        os.makedirs(dst)
        try:
            for name in sorted(os.listdir(src)):
                subprocess.run(["sox", "-V1", "-D", os.path.join(src, name), os.path.join(dst, name), "pitch", str(c)],
                               check=True, capture_output=True, timeout=60)
        except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            shutil.rmtree(dst, ignore_errors=True)
            problems.append(f"{v['id']}\tsox\tpitch {c}\t{str(e)[:200]}")
            return None
        return v
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        made = list(pool.map(lambda pc: one(*pc), [(p, c) for p in parents for c in cents]))
    return [v for v in made if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", required=True)
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--utterances", type=int, default=30)
    ap.add_argument("--holdout-fraction", type=float, default=0.15)
    ap.add_argument("--holdout-engine", default="", help="every voice of this engine is held out ('' = none)")
    ap.add_argument("--shift-speakers", default="",
                    help="sox pitch shifts in cents (comma-separated) at which every training voice of the other "
                         "engines is made again as a new identity ID-sC ('' = none; needs sox)")
    ap.add_argument("--pitch-speakers", default="",
                    help="espeak-ng pitches (0-99, comma-separated) at which every training espeak voice is "
                         "rendered again as a new identity ID-pP ('' = none)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    voices = read_voices(args.voices)
    held = held_out(voices, args.holdout_engine, args.holdout_fraction)
    pitches = [int(p) for p in args.pitch_speakers.split(",") if p.strip()]
    if any(not 0 <= p <= 99 or p == 50 for p in pitches):
        sys.exit(f"--pitch-speakers {args.pitch_speakers}: espeak-ng pitches are 0-99, and 50 is the voice itself")
    voices += [dict(v, id=f"{v['id']}-p{p}", pitch=p, parent=v["id"])
               for v in voices if v["engine"] == "espeak" and v["id"] not in held for p in pitches]
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
    shifts = [int(c) for c in args.shift_speakers.split(",") if c.strip()]
    if shifts:
        done += shift_speakers([v for v in done if v["engine"] != "espeak" and v["id"] not in held],
                               shifts, args.out, args.jobs, problems)
    holdout = sorted(v["id"] for v in done if v["id"] in held)
    with open(os.path.join(args.out, "holdout.txt"), "w") as f:
        f.write("".join(h + "\n" for h in holdout))
    with open(os.path.join(args.out, "problems.txt"), "w") as f:
        f.write("".join(sorted(p + "\n" for p in problems)))
    engines = {}
    for v in done:
        engines[v["engine"]] = engines.get(v["engine"], 0) + 1
    pseudo = sum(1 for v in done if "parent" in v)
    print(f"rendered {len(done)} voices x {args.utterances} utterances into {args.out} "
          f"({', '.join(f'{k} {n}' for k, n in sorted(engines.items()))}; {pseudo} of them pitch-shifted "
          f"pseudo-speakers); {len(holdout)} held out (holdout.txt; engine '{args.holdout_engine}' whole); "
          f"{len(problems)} skipped (problems.txt)")
    for p in sorted(problems):
        print("  skipped: " + p)
    if len(done) < 2:
        sys.exit("fewer than 2 voices rendered: install espeak-ng, festival (+ festvox voices) or flite")


if __name__ == "__main__":
    main()

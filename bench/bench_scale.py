"""Build time and peak memory of `tunesmith dataset build` at 1k / 10k / 100k (/ 1e6) rows, and of
`tunesmith preflight` on a train.json of a given size (--preflight-mb, with the tiny offline model).

Each run is its own process (peak RSS of that process alone); rows are distinct Alpaca samples, and 1 in 100 has
a planted rewording beside it (filler words added, clauses swapped, or a synonym), whose straddling of train and
eval is counted after the build. Writes its figures under "dataset_build_scale" in bench/results.json, keeping
every other key.

    python bench/bench_scale.py [--sizes 1000 10000 100000] [--timeout 900] [--preflight-mb 300]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
WORDS = ("river", "copper", "lantern", "orchard", "signal", "harbor", "meadow", "cipher", "quarry", "violet",
         "glacier", "ember", "saddle", "turbine", "pepper", "falcon", "marble", "nectar", "prism", "tundra")
# The child builds and reports its own peak RSS (ru_maxrss is in kB on Linux).
CHILD = ("import json, resource, sys; from tools.cli import main; code = main(sys.argv[1:]); "
         "print(json.dumps({'exit': code, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


REWORDINGS = {  # how a planted twin rewords "Summarise note {i}: {words}"
    "filler": "Please summarise the note {i}: {words}",
    "clauses": "{words}; summarise note {i}, please",
    "synonym": "Briefly sum up what note {i} says: {words}",
}
PLANT_EVERY = 100


def write_rows(path: Path, n: int, seed: int = 0, plant: bool = False) -> int:
    """n realistic-length samples as JSONL, distinct except, with plant, a rewording of every PLANT_EVERY-th row
    (the kinds in turn, answered in other words, else cleaning drops it as a twin) in the place after it;
    returns the file size in bytes."""
    rng = random.Random(seed)
    kinds = list(REWORDINGS.values())
    previous = ""
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            words = " ".join(rng.choice(WORDS) for _ in range(12))
            question, answer = f"Summarise note {i}: {words}", f"Note {i} is about {{}} and {{}}."
            if plant and i % PLANT_EVERY == 1:
                note, words = i - 1, previous
                question = kinds[(note // PLANT_EVERY) % len(kinds)].format(i=note, words=words)
                answer = f"About {{}} and {{}} (note {note})."
            out.write(json.dumps({"instruction": question, "input": "",
                                  "output": answer.format(words.split()[0], words.split()[-1])}) + "\n")
            previous = words
    return path.stat().st_size


def straddling(out: Path) -> dict[str, int]:
    """Planted rewordings (see write_rows) whose two rows ended up one in train, one in eval, by kind."""
    sides: dict[str, set[int]] = {"train": set(), "eval": set()}
    for split in sides:
        path = out / f"{split}.json"
        if path.exists():
            for record in json.loads(path.read_text(encoding="utf-8")):
                note = int(re.search(r"note (\d+)", record["output"], re.IGNORECASE).group(1))
                if note % PLANT_EVERY == 0:
                    sides[split].add(note)
    kinds = list(REWORDINGS)
    found = {kind: 0 for kind in kinds}
    for note in sides["train"] & sides["eval"]:
        found[kinds[(note // PLANT_EVERY) % len(kinds)]] += 1
    return found


def run_size(n: int, folder: Path, timeout_s: float) -> dict:
    data = folder / f"rows-{n}.jsonl"
    size = write_rows(data, n, plant=True)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, "dataset", "build", str(data), "--out",
                               str(folder / f"out-{n}"), "--max-mb", "2000"], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"rows": n, "input_mb": round(size / 1e6, 1), "seconds": None, "peak_mb": None,
                "note": f"did not finish within {timeout_s:.0f} s"}
    seconds = time.perf_counter() - start
    report = json.loads(done.stdout.strip().splitlines()[-1])
    built = json.loads((folder / f"out-{n}" / "report.json").read_text(encoding="utf-8"))
    return {"rows": n, "input_mb": round(size / 1e6, 1), "seconds": round(seconds, 1),
            "peak_mb": round(report["peak_mb"]), "exit": report["exit"],
            "summary": next((line for line in done.stdout.splitlines() if line.startswith("read ")), ""),
            "planted_rewordings": n // PLANT_EVERY, "straddling_train_eval": straddling(folder / f"out-{n}"),
            "held_out": built.get("held_out", {}).get("note")}


def run_preflight(megabytes: float, folder: Path, timeout_s: float) -> dict:
    """Preflight on one train.json (a JSON array) of about that many MB, as a build of that size would write."""
    from tools.training.tiny_model import build_tiny_model

    data = folder / "preflight-data"
    data.mkdir()
    rows = write_rows(folder / "rows.jsonl", int(megabytes * 1e6 / 190))
    with (folder / "rows.jsonl").open(encoding="utf-8") as lines, (data / "train.json").open("w") as out:
        # streamed: Linux children inherit the parent's peak RSS across exec, so the parent must stay small
        out.write("[\n")
        for i, line in enumerate(lines):
            out.write((",\n" if i else "") + line.rstrip("\n"))
        out.write("\n]\n")
    model = build_tiny_model(folder / "tiny-model")
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, "preflight", "--base-model", str(model), "--data",
                               str(data), "--gpu-gb", "24"], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"train_json_mb": round(rows / 1e6), "seconds": None, "note": f"over {timeout_s:.0f} s"}
    report = json.loads(done.stdout.strip().splitlines()[-1])
    size = (data / "train.json").stat().st_size
    return {"train_json_mb": round(size / 1e6), "seconds": round(time.perf_counter() - start, 1),
            "peak_mb": round(report["peak_mb"]), "exit": report["exit"],
            "data_check": next((line for line in done.stdout.splitlines() if "] data:" in line), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per size")
    parser.add_argument("--preflight-mb", type=float, default=0, help="also time preflight on a file this big")
    args = parser.parse_args()
    figures, preflight = [], None
    with tempfile.TemporaryDirectory(prefix="tunesmith-scale-") as tmp:
        for n in args.sizes:
            figures.append(run_size(n, Path(tmp), args.timeout))
            print(json.dumps(figures[-1]), flush=True)
        if args.preflight_mb:
            preflight = run_preflight(args.preflight_mb, Path(tmp), args.timeout)
            print(json.dumps(preflight), flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    earlier = results.get("dataset_build_scale", {})
    results["dataset_build_scale"] = {"measured": time.strftime("%Y-%m-%d %H:%M"), "machine": "2-core CPU",
                                      "sizes": figures or earlier.get("sizes", []),
                                      "preflight": preflight or earlier.get("preflight")}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

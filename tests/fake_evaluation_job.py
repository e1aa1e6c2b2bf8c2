"""Stands in for `python -m tools.training.evaluation_job RUN` in watcher tests: same files (eval.json with its
verdict and every case, as tools/training/evaluate.py writes it), no models, half a second."""
import json
import sys
import time
from pathlib import Path

RESULT = {"eval_file": "eval.json", "samples": 2, "short_answers": True,
          "base": {"loss": 3.2, "perplexity": 24.5, "rouge_l": 0.1, "exact_match": 0.0},
          "tuned": {"loss": 0.4, "perplexity": 1.5, "rouge_l": 0.9, "exact_match": 0.5},
          "side_by_side": [{"prompt": "Capital of Zorbia?", "reference": "Quelm.", "base": "Paris", "tuned": "Quelm."},
                           {"prompt": "Capital of Vessa?", "reference": "Orrin.", "base": "Rome", "tuned": "Quelm."}],
          "cases": [{"index": 0, "instruction": "Capital of Zorbia?", "input": "", "prompt": "Capital of Zorbia?",
                     "reference": "Quelm.", "answer": "Quelm.", "correct": True, "kinds": []},
                    {"index": 1, "instruction": "Capital of Vessa?", "input": "", "prompt": "Capital of Vessa?",
                     "reference": "Orrin.", "answer": "Quelm.", "correct": False, "kinds": ["wrong_content"]}],
          "verdict": {"level": "partly", "headline": "Partly works: exact match 50% on 2 held-out rows (base model "
                      "0%); 100% of the answers stopped by themselves.",
                      "classes": [{"kind": "wrong_content", "label": "right format, wrong content", "count": 1,
                                   "example": {"prompt": "Capital of Vessa?", "reference": "Orrin.",
                                               "answer": "Quelm."}}],
                      "next_steps": [{"step": "Add rows like the ones it failed on (press Improve)",
                                      "why": "1 answers have the right format but wrong content"}]},
          "leaks": []}


def note(run: Path, event: str) -> None:
    with (run / "evaluation.jsonl").open("a") as handle:
        handle.write(json.dumps({"event": event}) + "\n")


if __name__ == "__main__":
    run = Path(sys.argv[1])
    note(run, "start")
    time.sleep(0.5)
    (run / "eval.json").write_text(json.dumps(RESULT))
    note(run, "done")

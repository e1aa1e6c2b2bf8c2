"""Stands in for `python -m tools.evaluation_job RUN` in watcher tests: same files, no models, half a second."""
import json
import sys
import time
from pathlib import Path

RESULT = {"eval_file": "eval.json", "samples": 2, "short_answers": True,
          "base": {"loss": 3.2, "perplexity": 24.5, "rouge_l": 0.1, "exact_match": 0.0},
          "tuned": {"loss": 0.4, "perplexity": 1.5, "rouge_l": 0.9, "exact_match": 1.0},
          "side_by_side": [{"prompt": "Capital of Zorbia?", "reference": "Quelm.", "base": "Paris", "tuned": "Quelm."}]}


def note(run: Path, event: str) -> None:
    with (run / "evaluation.jsonl").open("a") as handle:
        handle.write(json.dumps({"event": event}) + "\n")


if __name__ == "__main__":
    run = Path(sys.argv[1])
    note(run, "start")
    time.sleep(0.5)
    (run / "eval.json").write_text(json.dumps(RESULT))
    note(run, "done")

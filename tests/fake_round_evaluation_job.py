"""Runs the real evaluation process (`tools.training.evaluation_job`: which rows a round is scored on, its progress
file) with `evaluate_run` replaced by a scripted one: no models, scripted answers judged by the real verdict, eval.json
as tools/training/evaluate.py writes it.

Round 1 (no parent_run) gets the odd-numbered held-out rows wrong (the right ticket with another priority); a later
round gets only the last row wrong. Both read the rows from the eval file the job chose."""
import json
import re
import sys
from pathlib import Path

import tools.training.evaluate as evaluate
from tools.training import evaluation_job
from tools.training.preflight import read_dataset_split

OTHER_PRIORITY = {"low": "high", "medium": "low", "high": "medium"}


def wrong_priority(ticket: str) -> str:
    """The right ticket with the wrong priority: right format, wrong content."""
    return re.sub(r'"priority": "(\w+)"', lambda m: f'"priority": "{OTHER_PRIORITY[m.group(1)]}"', ticket)


def answers_for(samples: list, round_number: int) -> list[str]:
    if round_number == 1:
        return [s.output if i % 2 == 0 else wrong_priority(s.output) for i, s in enumerate(samples)]
    return [s.output if i < len(samples) - 1 else wrong_priority(s.output) for i, s in enumerate(samples)]


def scripted_evaluate_run(run_dir, eval_path=None, max_samples: int = 50) -> dict:
    run_dir = Path(run_dir).resolve()
    eval_file = Path(eval_path) if eval_path else evaluate.default_eval_path(run_dir)
    samples = read_dataset_split(eval_file).samples[:max_samples]
    parent = evaluate.parent_run_of(run_dir)
    tuned = answers_for(samples, 2 if parent else 1)
    base = [evaluate.Answer("Hello", True)] * len(samples)
    _, facts = evaluate.training_facts(run_dir)
    cases, verdict = evaluate.verdict_of(samples, [evaluate.Answer(a, True) for a in tuned], base, True, [], facts)
    right = sum(c["correct"] for c in cases) / len(cases)

    def scores(share: float) -> dict:
        return {"loss": round(2.5 - 2 * share, 4), "perplexity": 3.0, "rouge_l": share, "exact_match": share,
                "stop_rate": 1.0}

    result = {"eval_file": str(eval_file), "samples": len(samples), "short_answers": True,
              "base": scores(0.0), "tuned": scores(right), "max_new_tokens": 64, "leaks": [], "cases": cases,
              "side_by_side": [{"prompt": c["prompt"], "reference": c["reference"], "base": "Hello",
                                "tuned": c["answer"]} for c in cases],
              "verdict": verdict}  # the real verdict of these answers
    if parent is not None:
        previous = answers_for(samples, 1)
        result["previous_run"] = str(parent)
        result["previous"] = scores(sum(a == s.output for a, s in zip(previous, samples)) / len(samples))
    (run_dir / "eval.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    evaluate.evaluate_run = scripted_evaluate_run
    sys.exit(evaluation_job.main(sys.argv[1:]))

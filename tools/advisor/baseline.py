"""A quick measurement before deciding: zero-shot vs few-shot (and retrieval-augmented) on held-out examples.

Short answers (labels) are scored by exact match, longer ones by ROUGE-L F1. The verdict feeds the rules table:
a good few-shot score argues for stopping at ICL; a poor one on a focused task argues for fine-tuning.
"""
from __future__ import annotations

import random
import statistics
from typing import Any

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

GOOD, FAIR = 0.8, 0.5  # score thresholds of the verdict
ZERO_SHOT_TEMPLATE = "{task}\n\n{question}"
RAG_TEMPLATE = "{task}\n\nUse these passages where they help:\n{passages}\n\n{question}"


def verdict_for(score: float) -> str:
    return "good" if score >= GOOD else "fair" if score >= FAIR else "poor"


def run_baseline(chat_model: Any, task: str, examples: list[AlpacaSample], holdout: int = 5, shots: int = 4,
                 document_index: Any = None, seed: int = 0) -> dict:
    """Scores each strategy on `holdout` examples kept out of the few-shot pool; returns scores and a verdict."""
    from tools.icl.prompt import build_few_shot_prompt, try_prompt
    from tools.training.evaluate import exact_match, rouge_l_f1

    if len(examples) < holdout + 2:
        raise UserError(f"a baseline needs at least {holdout + 2} examples ({holdout} held out, 2 or more as "
                        f"shots); you have {len(examples)}. Add examples or lower the held-out count.")
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    test, pool = shuffled[:holdout], shuffled[holdout:]
    short = statistics.median(len(s.output.split()) for s in examples) <= 8
    metric = "exact_match" if short else "rouge_l"

    def score(prediction: str, reference: str) -> float:
        return float(exact_match(prediction, reference)) if short else rouge_l_f1(prediction, reference)

    strategies = {
        "zero_shot": lambda q: try_prompt(chat_model, ZERO_SHOT_TEMPLATE.format(task=task, question=q), q),
        "few_shot": lambda q: try_prompt(chat_model, build_few_shot_prompt(task, pool, query=q, max_examples=shots), q),
    }
    if document_index is not None:
        def with_retrieval(q: str) -> str:
            passages = "\n".join(f"[{i}] {h.text}" for i, h in enumerate(document_index.search(q, k=3), 1))
            return try_prompt(chat_model, RAG_TEMPLATE.format(task=task, passages=passages, question=q), q)
        strategies["retrieval"] = with_retrieval

    rows, totals = [], {name: 0.0 for name in strategies}
    for sample in test:
        question = sample.prompt_text()
        row = {"question": question, "reference": sample.output}
        for name, ask in strategies.items():
            answer = ask(question)
            row[name] = answer
            totals[name] += score(answer, sample.output)
        rows.append(row)
    scores = {name: round(total / len(test), 3) for name, total in totals.items()}
    best = max(scores, key=scores.get)
    return {"metric": metric, "n": len(test), "scores": scores, "best": best,
            "verdict": verdict_for(max(scores["few_shot"], scores.get("retrieval", 0.0))), "rows": rows}


def render_baseline_markdown(result: dict) -> str:
    names = {"zero_shot": "zero-shot", "few_shot": "few-shot", "retrieval": "retrieval-augmented"}
    lines = [f"**Baseline on {result['n']} held-out examples** ({result['metric'].replace('_', ' ')}):"]
    lines += [f"- {names[k]}: {v:.0%}" for k, v in result["scores"].items()]
    lines.append(f"\nVerdict: prompting is **{result['verdict']}** (best: {names[result['best']]}).")
    return "\n".join(lines)

"""Base vs tuned on the held-out split: answer-token loss/perplexity, exact match and ROUGE-L, side by side.

Loss counts the tokens training trains (the answers and the end-of-turn token that follows each: learning to
stop matters), as the template module marks them.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, UserError
from tools.training.inference import Answer, ModelBundle, generate_batch, load_tuned, resolve_run, run_data_dir
from tools.training.preflight import read_dataset_split
from tools.training.template import IGNORE_INDEX, encode_sample, sample_messages

SHORT_ANSWER_WORDS = 8  # median reference length up to which answers count as labels/short answers
SIDE_BY_SIDE = 10
OPEN_ANSWER_RIGHT = 0.8  # ROUGE-L F1 from which an open answer counts as right
MAX_NEW_TOKENS_CAP = 512
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise_answer(text: str) -> str:
    """Lower case, single spaces, no surrounding punctuation: 'Positive.' and ' positive' match."""
    return " ".join(text.lower().split()).strip(" .!?;:,\"'")


def exact_match(prediction: str, reference: str) -> bool:
    return normalise_answer(prediction) == normalise_answer(reference)


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 on lower-cased word tokens: longest common subsequence vs both lengths."""
    pred, ref = _WORD.findall(prediction.lower()), _WORD.findall(reference.lower())
    if not pred or not ref:
        return float(pred == ref)
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def answer_loss(
    bundle: ModelBundle, samples: list[AlpacaSample], use_adapter: bool = True
) -> dict[str, float]:
    """Mean cross-entropy per trained token (the answers and their end-of-turn, as in training) and perplexity;
    use_adapter=False scores the base model."""
    import torch

    model = bundle.model
    context = model.disable_adapter() if bundle.is_adapter and not use_adapter else nullcontext()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with context, torch.no_grad():
        for sample in samples:
            encoded = encode_sample(bundle.tokenizer, sample)
            labels = torch.tensor(encoded.labels[1:], device=device)
            keep = torch.nonzero(labels != IGNORE_INDEX).flatten()
            # the last len(ids) positions: prompt/p-tuning prepend virtual tokens whose logits come first
            logits = model(input_ids=torch.tensor([encoded.input_ids], device=device)).logits[0]
            logits = logits[-len(encoded.input_ids) : -1]
            total += torch.nn.functional.cross_entropy(logits[keep].float(), labels[keep], reduction="sum").item()
            count += len(keep)
    mean = total / max(count, 1)
    return {"loss": round(mean, 4), "perplexity": round(math.exp(min(mean, 50)), 3), "answer_tokens": count}


def generate_answers(
    bundle: ModelBundle, samples: list[AlpacaSample], max_new_tokens: int, use_adapter: bool = True
) -> list[Answer]:
    """Greedy answers to each sample's question (with its system prompt and history), in batches, each with
    whether it stopped by itself."""
    context = bundle.model.disable_adapter() if bundle.is_adapter and not use_adapter else nullcontext()
    with context:
        return generate_batch(bundle, [sample_messages(s, with_answer=False) for s in samples], max_new_tokens)


def score_answers(answers: list[Answer], references: list[str], short: bool) -> dict[str, float | None]:
    """ROUGE-L F1 always; exact match only for short answers (labels), where it means something; the share of
    answers that stopped by themselves (the rest ran on to the length cap)."""
    if not references:
        return {"rouge_l": 0.0, "exact_match": None, "stop_rate": 0.0}
    rouge = statistics.fmean(rouge_l_f1(a.text, r) for a, r in zip(answers, references))
    em = statistics.fmean(exact_match(a.text, r) for a, r in zip(answers, references))
    stopped = statistics.fmean(a.stopped for a in answers)
    return {"rouge_l": round(rouge, 4), "exact_match": round(em, 4) if short else None,
            "stop_rate": round(stopped, 4)}


def is_right(answer: str, reference: str, short: bool) -> bool:
    """Exact match for short answers; for open text, nearly the same words (ROUGE-L F1 of 0.8 or more)."""
    return exact_match(answer, reference) if short else rouge_l_f1(answer, reference) >= OPEN_ANSWER_RIGHT


def training_facts(run_dir: Path) -> tuple[list[AlpacaSample], dict]:
    """The run's training rows (for leaks) and what the plan read of them (computed numbers, answer length)."""
    from tools.training.config import split_file
    from tools.training.plan import LONG_ANSWER_WORDS, answer_shape

    data_dir = run_data_dir(run_dir)
    train_path = split_file(data_dir, "train") if data_dir else None
    train = read_dataset_split(train_path).samples if train_path else []
    from tools.training.verdict import question_words

    read = [(s.prompt_text(), s.output) for s in train[:5000]]
    words, computed, _ = answer_shape(read)
    word_rows = Counter(word for prompt, _ in read for word in question_words(prompt))
    return train, {"computed_share": computed, "long_answers": words >= LONG_ANSWER_WORDS, "rows": len(train),
                   "train_word_rows": word_rows}


def eval_leaks(train: list[AlpacaSample], samples: list[AlpacaSample]) -> list[dict]:
    """Held-out rows whose near-twin is in training, by words or by meaning (tools/dataset/leaks.py, compared
    as the dataset build compares questions): listed, and left out of the score."""
    from tools.dataset.leaks import find_leaks

    return [{"eval_index": leak.eval_index, "train_index": leak.train_index, "similarity": round(leak.similarity, 3),
             "by": leak.by, "prompt": samples[leak.eval_index].prompt_text(),
             "train_prompt": train[leak.train_index].prompt_text()} for leak in find_leaks(train, samples)]


def verdict_of(samples: list[AlpacaSample], answers: list[Answer], base_answers: list[Answer], short: bool,
               leaks: list[dict], facts: dict) -> tuple[list[dict], dict]:
    """Every held-out row with the tuned answer and its error classes, and the verdict on the rows that count."""
    from tools.training.verdict import Case, classify, judge

    twins = {leak["eval_index"] for leak in leaks}
    cases = [Case(s.prompt_text(), s.input or s.instruction, s.output, a.text, a.stopped,
                  is_right(a.text, s.output, short), i in twins) for i, (s, a) in enumerate(zip(samples, answers))]
    kinds = classify(cases, rouge_l_f1)
    counted = [i for i in range(len(samples)) if i not in twins]
    score = statistics.fmean(cases[i].correct for i in counted) if counted else 0.0
    base_score = (statistics.fmean(is_right(base_answers[i].text, samples[i].output, short) for i in counted)
                  if counted else 0.0)
    verdict = judge(cases, kinds, {**facts, "score": round(score, 4), "base_score": round(base_score, 4),
                                   "metric": "exact match" if short else "near-exact answers (ROUGE-L ≥ 0.8)"})
    rows = [{"index": i, "instruction": s.instruction, "input": s.input, "prompt": c.prompt, "reference": c.reference,
             "answer": c.answer, "stopped": c.stopped, "correct": c.correct, "kinds": k}
            for i, (s, c, k) in enumerate(zip(samples, cases, kinds))]
    return rows, verdict


def parent_run_of(run_dir: Path) -> Path | None:
    """The earlier run a round continued from (parent_run in RUN/config.json), when it is still there."""
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return None
    parent = json.loads(config_path.read_text(encoding="utf-8")).get("parent_run")
    return Path(parent) if parent and Path(parent).is_dir() else None


def first_round_of(run_dir: Path) -> Path:
    """The run a chain of rounds started from (parent_run followed back; a run without one is its own)."""
    first, seen = run_dir.resolve(), {run_dir.resolve()}
    while (parent := parent_run_of(first)) is not None and parent.resolve() not in seen:
        first = parent.resolve()
        seen.add(first)
    return first


def default_eval_path(run_dir: Path) -> Path:
    """The held-out split a run is scored on: eval.json next to the train.json of its FIRST round (data_dir in
    RUN/config.json), so that every later round and its previous one are compared on the same rows; the run's
    own split when the first round's is gone."""
    for run in dict.fromkeys((first_round_of(run_dir), run_dir)):
        data_dir = run_data_dir(run)
        if data_dir and (data_dir / "eval.json").is_file():
            return data_dir / "eval.json"
    raise UserError(
        f"no eval split found for {run_dir}: pass the held-out Alpaca file with --eval "
        "(the dataset tool writes eval.json next to train.json)"
    )


def evaluate_run(run_dir: str | Path, eval_path: str | Path | None = None, max_samples: int = 50) -> dict:
    """Scores base and tuned model on up to max_samples eval samples; writes and returns RUN/eval.json."""
    run_dir = Path(run_dir).expanduser().resolve()
    resolve_run(run_dir)  # clear error before anything loads
    if max_samples < 1:
        raise UserError(f"max_samples must be at least 1, got {max_samples}")
    eval_file = Path(eval_path) if eval_path else default_eval_path(run_dir)
    data = read_dataset_split(eval_file)
    if data.bad_rows:
        raise UserError(f"{eval_file} has invalid rows: {'; '.join(data.bad_rows[:5])}; fix them first",
                        BAD_CONTENT)
    samples = data.samples[:max_samples]
    if not samples:
        raise UserError(f"{eval_file} holds no samples; put some held-out samples in it", BAD_CONTENT)
    tuned = load_tuned(run_dir)
    base = tuned if tuned.is_adapter else load_tuned(run_dir, base_only=True)
    references = [s.output for s in samples]
    short = statistics.median(len(r.split()) for r in references) <= SHORT_ANSWER_WORDS
    longest = max(len(tuned.tokenizer(r)["input_ids"]) for r in references)
    max_new_tokens = min(MAX_NEW_TOKENS_CAP, longest + 16)
    outputs = {}
    result: dict[str, Any] = {"eval_file": str(eval_file), "samples": len(samples), "short_answers": short}
    models = [("base", base, False), ("tuned", tuned, True)]
    parent = parent_run_of(run_dir)
    if parent is not None:  # a new round: also the run it continued from, on the same rows
        models.insert(1, ("previous", load_tuned(parent), True))
        result["previous_run"] = str(parent)
    for name, bundle, use_adapter in models:
        outputs[name] = generate_answers(bundle, samples, max_new_tokens, use_adapter)
        result[name] = {
            **answer_loss(bundle, samples, use_adapter),
            **score_answers(outputs[name], references, short),
        }
    result["max_new_tokens"] = max_new_tokens
    from tools.rag.raft_eval import evaluate_run_with_retrieval  # a run trained on passages: ask with retrieval

    result.update(evaluate_run_with_retrieval(run_dir, samples, models, max_new_tokens))
    train, facts = training_facts(run_dir)
    result["leaks"] = eval_leaks(train, samples) if train else []
    result["cases"], result["verdict"] = verdict_of(samples, outputs["tuned"], outputs["base"], short,
                                                    result["leaks"], facts)
    if not short:  # free text: exact match says little, an LLM judge with the person's rubric says more
        from tools.training.judge import judge_run

        result["judge"] = judge_run(run_dir, [{"prompt": s.prompt_text(), "reference": s.output, "answer": t.text}
                                              for s, t in zip(samples, outputs["tuned"])],
                                    [b.text for b in outputs["base"]])
    result["side_by_side"] = [
        {"prompt": s.prompt_text(), "reference": s.output, "base": b.text, "tuned": t.text}
        for s, b, t in list(zip(samples, outputs["base"], outputs["tuned"]))[:SIDE_BY_SIDE]
    ]
    is_run_adapter = (run_dir / "adapter_config.json").is_file() and (
        run_dir.parent / "config.json"
    ).is_file()
    report_dir = run_dir.parent if is_run_adapter else run_dir  # RUN/eval.json, not inside the adapter
    (report_dir / "eval.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result


def format_report(result: dict) -> str:
    """A few lines for the terminal: the metrics side by side, then the first examples."""
    from tools.training.verdict import verdict_markdown

    columns = [name for name in ("base", "previous", "tuned") if name in result]
    lines = [
        verdict_markdown(result), "",
        f"{result['samples']} eval samples from {result['eval_file']}",
        f"{'':12}" + "".join(f"{name:>10}" for name in columns),
    ]
    for metric in ("loss", "perplexity", "rouge_l", "exact_match", "stop_rate"):
        if result["base"].get(metric) is not None:
            lines.append(f"{metric:12}" + "".join(f"{result[name][metric]:>10.4g}" for name in columns))
    if "previous_run" in result:
        lines.append(f"previous = the run this round continued from: {result['previous_run']}")
    if "retrieval" in result:
        from tools.rag.raft_eval import retrieval_markdown

        lines += ["", retrieval_markdown(result)]
    for example in result["side_by_side"][:3]:
        lines += [
            "",
            f"prompt:    {example['prompt'][:200]}",
            f"reference: {example['reference'][:200]}",
            f"base:      {example['base'][:200]}",
            f"tuned:     {example['tuned'][:200]}",
        ]
    return "\n".join(lines)

"""Retrieval in the loop for a run trained on retrieval samples (tools/rag/raft.py): each held-out question is
asked with the passages the same index retrieves for it now (k, as the samples were made), and base and tuned
answers are scored on what RAG + fine-tuning is for: the answer (exact match and ROUGE-L, citations aside), citing
the passage that answers (and no other), and saying the passages do not answer when none does. Try-it retrieves
the same way, and export writes the retrieval settings beside the model."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

from tools.dataset.passages import read_passages
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.rag.answer import cited_numbers
from tools.rag.index import DocumentIndex
from tools.rag.raft import (
    SETTINGS_FILE,
    RetrievalSettings,
    is_retrieval_sample,
    retrieval_input,
    says_no_answer,
    strip_citations,
)

EXAMPLES = 10


def run_retrieval_settings(run_dir: str | Path) -> RetrievalSettings | None:
    """The retrieval settings of a run trained on retrieval samples: retrieval.json in its data folder, else in
    the project folder the dataset version was built in; None for any other run."""
    from tools.dataset.readers import RowProblem, SampleStream
    from tools.training.config import split_file
    from tools.training.inference import run_data_dir

    data_dir = run_data_dir(Path(run_dir))
    train = split_file(data_dir, "train") if data_dir else None
    if train is None:
        return None
    rows = [item for _, item in itertools.islice(SampleStream(train, max_bytes=None), 50)
            if not isinstance(item, RowProblem)]
    if not any(is_retrieval_sample(row) for row in rows):
        return None
    for folder in (data_dir, data_dir.parent.parent):  # a version's folder: projects/<id>/datasets/vNNN
        if (settings := RetrievalSettings.load(folder)) is not None:
            return settings
    raise UserError(f"the run was trained on samples with passages, but no {SETTINGS_FILE} says which index they "
                    f"came from (looked in {data_dir} and {data_dir.parent.parent}); choose the documents for "
                    "fine-tuning on the Retrieval tab again")


def oracle_label(sample: AlpacaSample) -> str | None:
    """The label of the passage a held-out row's answer cites; None when its answer is that none answers."""
    passages = read_passages(sample.input)
    cited = cited_numbers(sample.output, len(passages))
    return passages[cited[0] - 1].label if cited and not says_no_answer(sample.output) else None


def ask_again(index: DocumentIndex, k: int, samples: list[AlpacaSample]) -> list[tuple[AlpacaSample, int | None]]:
    """Each row as it is asked now, with the number its answer should cite: 0 when retrieval missed the passage
    that answers, None when no passage answers. Those rows keep the passages they were written with: retrieving
    again would bring back the one that was left out on purpose."""
    asked = []
    for sample in samples:
        oracle = oracle_label(sample)
        if oracle is None:
            asked.append((sample, None))
            continue
        hits = index.search(sample.instruction, k)
        labels = [hit.label for hit in hits]
        number = labels.index(oracle) + 1 if oracle in labels else 0
        asked.append((sample.model_copy(update={"input": retrieval_input(hits)}), number))
    return asked


def score_with_retrieval(asked: list[tuple[AlpacaSample, int | None]], answers: list[str], k: int) -> dict:
    """exact_match / rouge_l of the answers (citations aside) and citation (the right passage, no other) on the
    rows a passage answers; no_answer: the share of the others where the model says none does; wrongly_declined:
    answerable rows it declined."""
    from tools.training.evaluate import exact_match, rouge_l_f1

    answerable = [(row, n, a) for (row, n), a in zip(asked, answers) if n is not None]
    unanswerable = [a for (_, n), a in zip(asked, answers) if n is None]

    def share(values: list[bool | float]) -> float | None:
        return round(statistics.fmean(values), 4) if values else None

    return {
        "exact_match": share([exact_match(strip_citations(a), strip_citations(row.output))
                              for row, _, a in answerable]),
        "rouge_l": share([rouge_l_f1(strip_citations(a), strip_citations(row.output)) for row, _, a in answerable]),
        "citation": share([n > 0 and cited_numbers(a, k) == [n] for _, n, a in answerable]),
        "no_answer": share([says_no_answer(a) for a in unanswerable]),
        "wrongly_declined": share([says_no_answer(a) for _, _, a in answerable]),
    }


def evaluate_with_retrieval(settings: RetrievalSettings, samples: list[AlpacaSample],
                            models: list[tuple[str, Any, bool]], max_new_tokens: int) -> dict:
    """Base, tuned (and a previous round) answering the held-out questions with passages retrieved now (rows
    without passages, e.g. seeds, are left to the ordinary evaluation)."""
    from tools.training.evaluate import generate_answers

    asked = ask_again(settings.open_index(), settings.k, [s for s in samples if is_retrieval_sample(s)])
    numbers = [n for _, n in asked if n is not None]
    result: dict[str, Any] = {
        "index": settings.index_name, "embedding_model": settings.embedding_model, "k": settings.k,
        "questions": len(asked), "answerable": len(numbers), "unanswerable": len(asked) - len(numbers),
        "without_passages": len(samples) - len(asked),
        "retrieved_the_answer": round(statistics.fmean(n > 0 for n in numbers), 4) if numbers else None,
    }
    answers = {}
    for name, bundle, use_adapter in models:
        generated = generate_answers(bundle, [row for row, _ in asked], max_new_tokens, use_adapter)
        answers[name] = [a.text for a in generated]
        result[name] = {**score_with_retrieval(asked, answers[name], settings.k),
                        "stop_rate": round(statistics.fmean(a.stopped for a in generated), 4) if generated else None}
    result["examples"] = [
        {"question": row.instruction, "passages": [p.label for p in read_passages(row.input)],
         "should_cite": n, "reference": row.output, **{name: answers[name][i] for name, _, _ in models}}
        for i, (row, n) in enumerate(asked[:EXAMPLES])]
    return result


def evaluate_run_with_retrieval(run_dir: Path, samples: list[AlpacaSample], models: list[tuple[str, Any, bool]],
                                max_new_tokens: int) -> dict:
    """{"retrieval": ...} for a run trained on retrieval samples ({} for any other run); a missing or changed index
    is said in {"retrieval": {"error": ...}} and the run's other numbers stand."""
    try:
        settings = run_retrieval_settings(run_dir)
        if settings is None:
            return {}
        return {"retrieval": evaluate_with_retrieval(settings, samples, models, max_new_tokens)}
    except UserError as exc:
        return {"retrieval": {"error": exc.message}}


def retrieval_markdown(result: dict) -> str:
    """The retrieval evaluation as a Markdown table ('' when the run has none)."""
    retrieval = result.get("retrieval")
    if not retrieval:
        return ""
    if "error" in retrieval:
        return f"**With retrieval:** not measured: {retrieval['error']}"
    columns = [name for name in ("base", "previous", "tuned") if name in retrieval]
    recall = retrieval["retrieved_the_answer"]
    lines = [f"**With retrieval** (index `{retrieval['index']}`, {retrieval['k']} passages a question; "
             f"{retrieval['answerable']} questions a passage answers, {retrieval['unanswerable']} none does; "
             + (f"retrieval found the answering passage for {recall:.0%})" if recall is not None else ")"), "",
             "| metric | " + " | ".join(f"{name} + RAG" for name in columns) + " |", "|---|" + "---:|" * len(columns)]
    for metric, title in (("exact_match", "answer exact match"), ("rouge_l", "answer ROUGE-L"),
                          ("citation", "cites the right passage"), ("no_answer", "says none answers, when none does"),
                          ("wrongly_declined", "declines a question a passage answers"),
                          ("stop_rate", "answers that stopped by themselves")):
        values = [retrieval[name].get(metric) for name in columns]  # runs evaluated before had no stop rate
        if any(v is not None for v in values):
            lines.append(f"| {title} | " + " | ".join("–" if v is None else f"{v:.0%}" for v in values) + " |")
    return "\n".join(lines)


def ask_with_retrieval(run_dir: str | Path, question: str) -> tuple[str | list[dict[str, str]], str, list[str]]:
    """Try-it for a run trained on retrieval samples: the question with the passages the index retrieves for it,
    a note naming them, and their texts; (the question, '', []) for any other run."""
    from tools.training.template import sample_messages

    settings = run_retrieval_settings(run_dir)
    if settings is None:
        return question, "", []
    hits = settings.open_index().search(question, settings.k)
    if not hits:
        raise UserError(f"the index {settings.index_name!r} is empty; index your documents on the Retrieval tab")
    asked = AlpacaSample(instruction=question, input=retrieval_input(hits), output="-")
    names = "; ".join(f"[{n}] {hit.label}" for n, hit in enumerate(hits, start=1))
    note = f"Asked with {len(hits)} passages from `{settings.index_name}`: {names}."
    return sample_messages(asked, with_answer=False), note, [hit.text for hit in hits]


def export_retrieval_settings(run_dir: str | Path, folder: Path) -> Path | None:
    """retrieval.json beside an exported model trained on retrieval samples (None for any other run): the model
    must be asked with passages from the same index, embedding model, k and chunking."""
    settings = run_retrieval_settings(run_dir)
    return None if settings is None else settings.save(folder)

"""Dataset health report after Meta's checklist: size, drops, lengths, label balance, refusals, unsupported
answers, system-prompt consistency and multi-turn share. Warnings are plain sentences that say the fix."""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tools.dataset.dedup import canonical_text
from tools.dataset.schema import AlpacaSample

MIN_GOOD_SIZE = 50
REFUSAL_WARN_SHARE = 0.10
UNSUPPORTED_WARN_SHARE = 0.10
LABEL_MAX_DISTINCT = 20
LABEL_MAX_CHARS = 40
IMBALANCE_RATIO = 4.0
EXAMPLES_SHOWN = 10
LENGTH_FIELDS = ("instruction", "input", "output")

_REFUSAL = re.compile(
    r"\b(i can(?:no|')t|i cannot|i am unable|i'm unable|i'm not able to|i am not able to|i won't|i will not|"
    r"as an ai\b|as a language model|i'm sorry, but|i am sorry, but|"
    r"i do not have access|i don't have access)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"[.!?:;\n]+")
_WORD = re.compile(r"[^\W\d_][\w'-]*")
# Instructions whose answers are numbers worked out from the question (counted, converted, summed...).
_COMPUTES = re.compile(r"\b(?:calculate|compute|convert|round|count|sum|add|subtract|multiply|divide|how many|"
                       r"how much|total|average|percent(?:age)?|estimate)\b", re.IGNORECASE)


def length_stats(values: list[str]) -> dict[str, int]:
    """min / median / p95 / max character length (nearest-rank p95)."""
    return _length_stats([len(v) for v in values])


def _length_stats(lengths: Sequence[int]) -> dict[str, int]:
    ordered = np.sort(np.asarray(lengths, dtype=np.int64)) if len(lengths) else np.zeros(1, dtype=np.int64)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"min": int(ordered[0]), "median": int(np.median(ordered)), "p95": int(p95), "max": int(ordered[-1])}


def looks_like_refusal(output: str) -> bool:
    """The answer's opening reads like a refusal ("I can't…", "As an AI…")."""
    opening = output[:300].lower()
    # every refusal phrase holds "i" followed by space or apostrophe, or "as a": a plain check first, 5x faster
    return ("i " in opening or "i'" in opening or "as a" in opening) and _REFUSAL.search(opening) is not None


def unsupported_tokens(sample: AlpacaSample) -> list[str]:
    """Numbers and mid-sentence capitalised words (likely names) in the output that appear nowhere in the
    instruction, input, system or history. A heuristic: it flags facts that may have been invented (numbers are
    not flagged when the instruction asks to count, convert or calculate them)."""
    context = " ".join(
        [sample.system, sample.instruction, sample.input, *(t for turn in sample.history for t in turn)]
    )
    numbers = _NUMBER.findall(sample.output)
    missing = []
    if numbers and not _COMPUTES.search(sample.instruction):  # computed numbers are the work, not invented facts
        context_numbers = {n.replace(",", "") for n in _NUMBER.findall(context)}
        missing = [n for n in numbers if n.replace(",", "") not in context_numbers]
    names = [w for sentence in _SENTENCE_END.split(sample.output)
             for w in _WORD.findall(sentence)[1:] if w[0].isupper() and w != "I"]  # not sentence starts
    if names:  # the context's words are only worth their cost when there are names to look up
        context_words = set(canonical_text(context).split())
        missing += [w for w in names if not set(canonical_text(w).split()) <= context_words]
    return list(dict.fromkeys(missing))


def health_report(
    samples: list[AlpacaSample],
    drops: dict[str, int] | None = None,
    ids: list[str] | None = None,
    tag_counts: dict[str, int] | None = None,
    conflicts: list[list[str]] | None = None,
    kept_on_purpose: set[str] | None = None,
) -> dict:
    """JSON-plain health report of kept samples; drops = {reason: count} from reading and cleaning;
    tag_counts = {tag: accepted samples carrying it} from review, when the samples were reviewed and tagged;
    conflicts = id groups of questions with different answers found before the build kept one of each (counted
    with those still among the kept samples, except the ones a person chose to keep: kept_on_purpose ids)."""
    ids = ids or [f"sample:{i}" for i in range(1, len(samples) + 1)]
    tally = HealthTally()
    for sample_id, sample in zip(ids, samples, strict=True):
        tally.add(sample_id, sample)
    remaining = _conflicting_answers(samples, ids, kept_on_purpose or set())
    return tally.report(drops, tag_counts, [*(conflicts or []), *remaining])


class HealthTally:
    """The health report's figures, gathered one kept sample at a time in bounded memory (a few bytes a sample,
    and only the first examples of each finding)."""

    def __init__(self) -> None:
        self.count = 0
        self.lengths: dict[str, array] = {key: array("l") for key in (*LENGTH_FIELDS, "sample")}
        self.labels: Counter[str] | None = Counter()  # None once the answers no longer look like labels
        self.refusals = _Finding()
        self.unsupported = _Finding()
        self.multi_turn = _Finding()
        self.systems: Counter[str] = Counter()
        self.without_system = 0

    def add(self, sample_id: str, sample: AlpacaSample) -> None:
        self.count += 1
        for key in LENGTH_FIELDS:
            self.lengths[key].append(len(getattr(sample, key)))
        self.lengths["sample"].append(len(sample.prompt_text()) + len(sample.output))
        if self.labels is not None:
            label = sample.output.strip().casefold()
            self.labels[label] += 1
            if len(label) > LABEL_MAX_CHARS or len(self.labels) > LABEL_MAX_DISTINCT:
                self.labels = None
        if looks_like_refusal(sample.output):
            self.refusals.add(sample_id)
        tokens = unsupported_tokens(sample)
        if tokens:
            self.unsupported.add({"id": sample_id, "tokens": tokens[:5]})
        if sample.history:
            self.multi_turn.add(sample_id)
        if sample.system.strip():
            self.systems[sample.system.strip()] += 1
        else:
            self.without_system += 1

    def report(self, drops: dict[str, int] | None, tag_counts: dict[str, int] | None,
               conflicts: list[list[str]]) -> dict:
        """conflicts: id groups of questions still asked with different answers (or settled by the build)."""
        drops = dict(drops or {})
        report = {
            "samples": self.count,
            "dropped": sum(drops.values()),
            "drops": drops,
            "lengths": {key: _length_stats(self.lengths[key]) for key in LENGTH_FIELDS},
            "labels": self._label_balance(),
            "refusals": self.refusals.share(self.count),
            "unsupported": {**self.unsupported.share(self.count), "note": (
                "heuristic: numbers and capitalised names in the answer that its own sample never mentions")},
            "system_prompts": {
                "distinct": len(self.systems),
                "without_system": self.without_system,
                "most_common": [{"system": text[:200], "count": n} for text, n in self.systems.most_common(3)],
            },
            "conflicting_answers": {"count": len(conflicts), "examples": conflicts[:EXAMPLES_SHOWN]},
            "length_histogram": length_histogram(self.lengths["sample"]),
            "multi_turn": self.multi_turn.share(self.count),
            "tags": dict(tag_counts) if tag_counts else None,
        }
        report["warnings"] = _warnings(report)
        return report

    def _label_balance(self) -> dict | None:
        """Counts per label when outputs look like labels: few distinct, short outputs that repeat."""
        if self.labels is None or self.count < 4 or len(self.labels) > self.count / 2:
            return None
        counts = dict(self.labels.most_common())
        return {
            "counts": counts,
            "majority_share": round(max(counts.values()) / self.count, 3),
            "imbalance_ratio": round(max(counts.values()) / min(counts.values()), 2),
        }


class _Finding:
    """How many samples show something, and the first few of them."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list = []

    def add(self, example: object) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES_SHOWN:
            self.examples.append(example)

    def share(self, total: int) -> dict:
        return {"count": self.count, "share": round(self.count / total, 3) if total else 0.0,
                "examples": list(self.examples)}


def length_histogram(lengths: Sequence[int], bins: int = 10) -> list[dict]:
    """Counts of sample lengths (characters, question + answer) in equal-width bins: [{"from", "to", "count"}]."""
    if not lengths:
        return []
    values = np.asarray(lengths, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    width = max(1, math.ceil((high - low + 1) / bins))
    counts = np.bincount((values - low) // width)
    return [{"from": low + b * width, "to": low + (b + 1) * width - 1, "count": int(n)} for b, n in enumerate(counts)]


def _conflicting_answers(samples: list[AlpacaSample], ids: list[str], kept_on_purpose: set[str]) -> list[list[str]]:
    """Questions (same system, history, instruction and input) that appear with different answers, except groups
    a person kept on purpose."""
    answers: dict[str, dict[str, str]] = {}
    for sample_id, s in zip(ids, samples, strict=True):
        question = canonical_text(
            " ".join([s.system, *(t for turn in s.history for t in turn), s.prompt_text()])
        )
        answers.setdefault(question, {}).setdefault(canonical_text(s.output), sample_id)
    remaining = [list(by_answer.values()) for by_answer in answers.values() if len(by_answer) > 1]
    return [group for group in remaining if not set(group) <= kept_on_purpose]


def _warnings(report: dict) -> list[str]:
    n = report["samples"]
    warnings = []
    if n < MIN_GOOD_SIZE:
        warnings.append(
            f"Only {n} samples: aim for at least {MIN_GOOD_SIZE}-100 good, varied examples before "
            "fine-tuning (generate more batches or add real examples)."
        )
    if report["dropped"] and report["dropped"] >= n:
        warnings.append(
            f"{report['dropped']} rows were dropped, as many as were kept: fix the source data "
            "(see drops by reason) rather than losing half of it."
        )
    labels = report["labels"]
    if labels and len(labels["counts"]) == 1:
        warnings.append(
            "Every answer is the same; the model will learn to always say it. Add examples of the "
            "other answers."
        )
    elif labels and labels["imbalance_ratio"] >= IMBALANCE_RATIO:
        rare = min(labels["counts"], key=labels["counts"].get)
        warnings.append(
            f"Labels are imbalanced ({labels['imbalance_ratio']}:1 between the most and least common); "
            f"add examples of rare labels such as '{rare}' or down-sample the common ones."
        )
    tags = report.get("tags")
    if tags and len(tags) > 1 and max(tags.values()) >= IMBALANCE_RATIO * min(tags.values()):
        rare, common = min(tags, key=tags.get), max(tags, key=tags.get)
        warnings.append(
            f"Reviewer tags are uneven: '{rare}' has {tags[rare]} samples against {tags[common]} for '{common}'; "
            f"draft more '{rare}' samples if that case matters (an error note such as 'more {rare} cases' "
            "steers the next batch)."
        )
    refusals = report["refusals"]
    if refusals["share"] > REFUSAL_WARN_SHARE:
        warnings.append(
            f'{refusals["share"]:.0%} of answers look like refusals ("I can\'t…", "As an AI…"); '
            "the model will learn to refuse. Keep refusals only where refusing is the right answer."
        )
    unsupported = report["unsupported"]
    if unsupported["share"] > UNSUPPORTED_WARN_SHARE:
        warnings.append(
            f"{unsupported['share']:.0%} of answers mention numbers or names that their own sample "
            "never gives (a heuristic): check them for invented facts, or put the facts in the input."
        )
    conflicts = report["conflicting_answers"]
    if conflicts["count"]:
        warnings.append(
            f"{conflicts['count']} questions appear with different answers "
            f"(e.g. {', '.join(conflicts['examples'][0])}): "
            "keep one consistent answer per question, or put what makes the answers differ into the input."
        )
    systems = report["system_prompts"]
    if systems["distinct"] > 1:
        warnings.append(
            f"{systems['distinct']} different system prompts: use the one you will use at inference "
            "for every sample (--system) unless the variation is deliberate."
        )
    if systems["distinct"] and systems["without_system"]:
        warnings.append(
            f"{systems['without_system']} samples have no system prompt while others do; "
            "fill them with --system so every sample looks like inference time."
        )
    return warnings


def render_report_markdown(report: dict) -> str:
    """The health report as short Markdown for the UI and report.md."""
    lines = ["# Dataset health report", ""]
    if "rows_read" in report:
        lines.append(
            f"- Rows read: {report['rows_read']}; kept: {report['kept']} "
            f"(train {report['train']}, eval {report['eval']})"
        )
    health = report.get("health", report)
    lines.append(f"- Samples: {health['samples']}; dropped: {health['dropped']}")
    for reason, count in sorted(health["drops"].items()):
        lines.append(f"  - {reason}: {count}")
    lines += [
        "",
        "## Lengths (characters)",
        "",
        "| field | min | median | p95 | max |",
        "|---|---|---|---|---|",
    ]
    for key, stats in health["lengths"].items():
        lines.append(f"| {key} | {stats['min']} | {stats['median']} | {stats['p95']} | {stats['max']} |")
    lines += ["", "## Checks", ""]
    if health["labels"]:
        counts = ", ".join(f"{label}: {n}" for label, n in health["labels"]["counts"].items())
        lines.append(f"- Labels: {counts}")
    if health.get("tags"):
        lines.append("- Reviewer tags: " + ", ".join(f"{tag}: {n}" for tag, n in health["tags"].items()))
    lines.append(f"- Refusal-like answers: {health['refusals']['count']} ({health['refusals']['share']:.0%})")
    lines.append(
        f"- Possibly unsupported answers: {health['unsupported']['count']} "
        f"({health['unsupported']['share']:.0%}; {health['unsupported']['note']})"
    )
    lines.append(
        f"- Distinct system prompts: {health['system_prompts']['distinct']}; "
        f"samples without one: {health['system_prompts']['without_system']}"
    )
    lines.append(f"- Questions with conflicting answers: {health['conflicting_answers']['count']}")
    if report.get("held_out"):
        lines.append(f"- Held-out set: twins stay on one side; {report['held_out']['note']}")
    lines.append(
        f"- Multi-turn samples: {health['multi_turn']['count']} ({health['multi_turn']['share']:.0%})"
    )
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in health["warnings"]] or ["- None."]
    return "\n".join(lines) + "\n"

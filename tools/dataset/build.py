"""From raw files (or samples) to a training-ready folder: read, fill system, clean, split, write, report.

DIR/train.json and DIR/eval.json (OpenAI chat: .jsonl), DIR/dataset_info.json for LLaMA-Factory,
DIR/report.json (counts read, kept, dropped by reason; every dropped row with its id, reason and the twin kept;
conflicting answers; health) and DIR/report.md. Samples given as ReviewedRow keep their review ids and ranks.
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.dataset.clean import CleanConfig, clean_samples, find_conflicts
from tools.dataset.readers import MAX_FILE_BYTES, RowProblem, read_samples
from tools.dataset.report import health_report, render_report_markdown
from tools.dataset.schema import AlpacaSample, ReviewedRow
from tools.dataset.split import split_train_eval
from tools.dataset.writers import FILE_SUFFIX, FORMATS, DatasetFormat, write_dataset_info, write_samples
from tools.errors import UserError


def check_file(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> list[RowProblem]:
    """Every record of the file that cannot become a sample (empty list: the file is clean)."""
    return read_samples(path, max_bytes=max_bytes).problems


def build_dataset(
    inputs: list[Path] | list[str] | list[AlpacaSample] | list[ReviewedRow],
    out_dir: Path | str,
    eval_fraction: float = 0.1,
    system: str | None = None,
    fmt: DatasetFormat = "alpaca",
    seed: int = 42,
    clean_config: CleanConfig | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    tag_counts: dict[str, int] | None = None,
    final_dir: Path | str | None = None,
) -> dict:
    """Builds the dataset folder and returns the report (also written to out_dir/report.json).

    tag_counts: reviewer tags of the accepted samples, reported for balance (tools.generation.store.tag_counts);
    final_dir: where the folder will end up when it is built under a temporary name (the report names it)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not inputs:
        raise UserError("no input given; pass one or more dataset files (JSON, JSONL, CSV) or samples")
    config = clean_config or CleanConfig()
    gathered = _gather(inputs, max_bytes)
    samples, ids = gathered["samples"], gathered["ids"]
    if not samples:
        first = "; ".join(p["where"] + ": " + p["message"] for p in gathered["problems"][:3])
        raise UserError(
            f"no valid samples in the input ({first}); run 'tunesmith dataset check FILE' for all problems"
        )
    if system and system.strip():
        samples = [
            s if s.system.strip() else s.model_copy(update={"system": system.strip()}) for s in samples
        ]

    kept, conflicts, conflict_drops = _settle_conflicts(samples, ids, gathered, config.near_duplicate_threshold)
    cleaned = clean_samples([samples[i] for i in kept], [ids[i] for i in kept], config,
                            [gathered["ranks"][i] for i in kept], [gathered["keep_both"][i] for i in kept])
    if not cleaned.samples:
        raise UserError(f"every sample was dropped while cleaning ({cleaned.drops}); fix the data and retry")
    train_idx, eval_idx = split_train_eval(
        cleaned.samples, eval_fraction, seed, config.near_duplicate_threshold
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / f"{split}{suffix}" for split in ("train", "eval") for suffix in (".json", ".jsonl")]:
        stale.unlink(missing_ok=True)  # a split left from an earlier build would be read as part of this one
    files = {"train": f"train{FILE_SUFFIX[fmt]}"}
    write_samples([cleaned.samples[i] for i in train_idx], out / files["train"], fmt)
    if eval_idx:
        files["eval"] = f"eval{FILE_SUFFIX[fmt]}"
        write_samples([cleaned.samples[i] for i in eval_idx], out / files["eval"], fmt)
    write_dataset_info(out, files, fmt)

    drops = _merge_counts(gathered["drops"], _count(conflict_drops), cleaned.drops)
    dropped_rows = [*gathered["dropped_rows"], *conflict_drops, *(_with_detail(row) for row in cleaned.dropped_rows)]
    unresolved = [c for c in conflicts if c["resolution"] == "unresolved"]
    kept_on_purpose = {i for i, keep in zip(ids, gathered["keep_both"], strict=True) if keep}
    report = {
        "out_dir": str(final_dir or out),
        "format": fmt,
        "inputs": gathered["inputs"],
        "rows_read": gathered["rows_read"],
        "kept": len(cleaned.samples),
        "train": len(train_idx),
        "eval": len(eval_idx),
        "dropped": sum(drops.values()),
        "drops": drops,
        "dropped_ids": _ids_by_reason(dropped_rows),
        "dropped_rows": dropped_rows,
        "conflicts": conflicts,
        "problems": gathered["problems"],
        "fixes": cleaned.fixes,
        "notes": gathered["notes"],
        "files": {
            **files,
            "dataset_info": "dataset_info.json",
            "report_json": "report.json",
            "report_md": "report.md",
        },
        "health": health_report(cleaned.samples, drops, cleaned.ids, tag_counts,
                                conflicts=[c["ids"] for c in unresolved],
                                kept_on_purpose=kept_on_purpose),
    }
    (out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "report.md").write_text(render_report_markdown(report), encoding="utf-8")
    return report


def _gather(inputs: list, max_bytes: int) -> dict:
    """Samples with ids ("file.jsonl:7" or "sample:3"), and every unusable row as a drop with its reason."""
    gathered: dict = {
        "samples": [],
        "ids": [],
        "rows_read": 0,
        "drops": {},
        "dropped_rows": [],
        "ranks": [],
        "keep_both": [],
        "problems": [],
        "notes": [],
        "inputs": [],
    }
    direct = [item if isinstance(item, ReviewedRow) else ReviewedRow(item, f"sample:{i}")
              for i, item in enumerate((x for x in inputs if isinstance(x, AlpacaSample | ReviewedRow)), start=1)]
    if direct:
        gathered["samples"] += [row.sample for row in direct]
        gathered["ids"] += [row.id for row in direct]
        gathered["ranks"] += [row.rank for row in direct]
        gathered["keep_both"] += [row.keep_both for row in direct]
        gathered["rows_read"] += len(direct)
        gathered["inputs"].append({"source": "samples", "format": "samples", "rows": len(direct)})
    for item in inputs:
        if isinstance(item, AlpacaSample | ReviewedRow):
            continue
        path = Path(item)
        result = read_samples(path, max_bytes=max_bytes)
        gathered["samples"] += result.samples
        gathered["ids"] += [f"{path.name}:{row}" for row in result.sample_rows]
        gathered["ranks"] += [0] * len(result.samples)
        gathered["keep_both"] += [False] * len(result.samples)
        gathered["rows_read"] += result.rows_read
        gathered["inputs"].append({"source": str(path), "format": result.format, "rows": result.rows_read})
        gathered["notes"] += [f"{path.name}: {note}" for note in result.notes]
        for problem in result.problems:
            row_id = f"{path.name}:{problem.row}"
            gathered["drops"][problem.code] = gathered["drops"].get(problem.code, 0) + 1
            gathered["dropped_rows"].append({"id": row_id, "reason": problem.code, "kept": None,
                                             "detail": problem.message})
            gathered["problems"].append({"where": row_id, "field": problem.field, "message": problem.message})
    return gathered


def _merge_counts(*counts: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for reason, n in count.items():
            merged[reason] = merged.get(reason, 0) + n
    return dict(sorted(merged.items()))


def _settle_conflicts(
    samples: list[AlpacaSample], ids: list[str], gathered: dict, threshold: float
) -> tuple[list[int], list[dict], list[dict]]:
    """Indices kept, the conflicts found, and the rows dropped for them. Of a question asked with different answers
    the highest-ranked answer is kept (an edit over a seed over an unedited sample, earliest on ties) until the
    person resolves it; samples marked keep_both all stay."""
    ranks, keep_both = gathered["ranks"], gathered["keep_both"]
    dropped: set[int] = set()
    conflicts, rows = [], []
    for group in find_conflicts(samples, threshold):
        winner = min(group, key=lambda i: (-ranks[i], i))
        losers = [i for i in group if i != winner and not keep_both[i]]
        resolved = not losers and all(keep_both[i] for i in group)
        conflicts.append({"ids": [ids[i] for i in group], "kept": [ids[i] for i in group if i not in losers],
                          "resolution": "keep_both" if resolved else "unresolved"})
        for i in losers:
            dropped.add(i)
            rows.append({"id": ids[i], "reason": "conflicting_answer", "kept": ids[winner],
                         "detail": f"same question as {ids[winner]} with a different answer; {ids[winner]} was "
                                   "kept (resolve the conflict in the Data studio to choose)"})
    return [i for i in range(len(samples)) if i not in dropped], conflicts, rows


_DROP_DETAIL = {
    "exact_duplicate": "exact duplicate of {kept} (kept)",
    "near_duplicate": "near duplicate of {kept} (kept)",
    "empty_after_cleaning": "nothing left after cleaning whitespace and wrappers",
    "prompt_too_long": "the question is longer than the limit",
    "output_too_long": "the answer is longer than the limit",
}


def _with_detail(row: dict) -> dict:
    return {**row, "detail": _DROP_DETAIL.get(row["reason"], row["reason"]).format(kept=row["kept"])}


def _count(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    return counts


def _ids_by_reason(rows: list[dict]) -> dict[str, list[str]]:
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        by_reason.setdefault(row["reason"], []).append(row["id"])
    return by_reason

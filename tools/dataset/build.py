"""From raw files (or samples) to a training-ready folder: read, fill system, clean, split, write, report.

DIR/train.json and DIR/eval.json (OpenAI chat: .jsonl), DIR/dataset_info.json for LLaMA-Factory,
DIR/report.json (counts read, kept, dropped by reason with row ids, health) and DIR/report.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.dataset.clean import CleanConfig, clean_samples
from tools.dataset.readers import MAX_FILE_BYTES, RowProblem, read_samples
from tools.dataset.report import health_report, render_report_markdown
from tools.dataset.schema import AlpacaSample
from tools.dataset.split import split_train_eval
from tools.dataset.writers import FILE_SUFFIX, FORMATS, DatasetFormat, write_dataset_info, write_samples
from tools.errors import UserError


def check_file(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> list[RowProblem]:
    """Every record of the file that cannot become a sample (empty list: the file is clean)."""
    return read_samples(path, max_bytes=max_bytes).problems


def build_dataset(
    inputs: list[Path] | list[str] | list[AlpacaSample],
    out_dir: Path | str,
    eval_fraction: float = 0.1,
    system: str | None = None,
    fmt: DatasetFormat = "alpaca",
    seed: int = 42,
    clean_config: CleanConfig | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    tag_counts: dict[str, int] | None = None,
) -> dict:
    """Builds the dataset folder and returns the report (also written to out_dir/report.json).

    tag_counts: reviewer tags of the accepted samples, reported for balance (tools.generation.store.tag_counts)."""
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

    cleaned = clean_samples(samples, ids, config)
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

    drops = _merge_counts(gathered["drops"], cleaned.drops)
    report = {
        "out_dir": str(out),
        "format": fmt,
        "inputs": gathered["inputs"],
        "rows_read": gathered["rows_read"],
        "kept": len(cleaned.samples),
        "train": len(train_idx),
        "eval": len(eval_idx),
        "dropped": sum(drops.values()),
        "drops": drops,
        "dropped_ids": {**gathered["dropped_ids"], **cleaned.dropped_ids},
        "problems": gathered["problems"],
        "fixes": cleaned.fixes,
        "notes": gathered["notes"],
        "files": {
            **files,
            "dataset_info": "dataset_info.json",
            "report_json": "report.json",
            "report_md": "report.md",
        },
        "health": health_report(cleaned.samples, drops, cleaned.ids, tag_counts),
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
        "dropped_ids": {},
        "problems": [],
        "notes": [],
        "inputs": [],
    }
    direct = [item for item in inputs if isinstance(item, AlpacaSample)]
    if direct:
        gathered["samples"] += direct
        gathered["ids"] += [f"sample:{i}" for i in range(1, len(direct) + 1)]
        gathered["rows_read"] += len(direct)
        gathered["inputs"].append({"source": "samples", "format": "samples", "rows": len(direct)})
    for item in inputs:
        if isinstance(item, AlpacaSample):
            continue
        path = Path(item)
        result = read_samples(path, max_bytes=max_bytes)
        gathered["samples"] += result.samples
        gathered["ids"] += [f"{path.name}:{row}" for row in result.sample_rows]
        gathered["rows_read"] += result.rows_read
        gathered["inputs"].append({"source": str(path), "format": result.format, "rows": result.rows_read})
        gathered["notes"] += [f"{path.name}: {note}" for note in result.notes]
        for problem in result.problems:
            row_id = f"{path.name}:{problem.row}"
            gathered["drops"][problem.code] = gathered["drops"].get(problem.code, 0) + 1
            gathered["dropped_ids"].setdefault(problem.code, []).append(row_id)
            gathered["problems"].append({"where": row_id, "field": problem.field, "message": problem.message})
    return gathered


def _merge_counts(*counts: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for reason, n in count.items():
            merged[reason] = merged.get(reason, 0) + n
    return dict(sorted(merged.items()))

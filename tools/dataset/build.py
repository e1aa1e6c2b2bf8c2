"""From raw files (or samples) to a training-ready folder: read, fill system, clean, settle conflicts and twins,
split, write, report.

Rows go through in three passes over a spool file (normalised samples, one JSON line each) with only a few dozen
bytes per row in memory (keys, 8-bit signatures, ranks), so a million-row file builds in bounded memory.

DIR/train.json and DIR/eval.json (OpenAI chat: .jsonl), DIR/dataset_info.json for LLaMA-Factory,
DIR/report.json (counts read, kept, dropped by reason; every dropped row with its id, reason and the twin kept;
conflicting answers; health) and DIR/report.md. Samples given as ReviewedRow keep their review ids and ranks.
"""

from __future__ import annotations

import json
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import numpy as np

from tools.dataset.dedup import text_key, word_grams
from tools.dataset.normalize import CleanConfig, limit_violation, normalize_sample
from tools.dataset.readers import MAX_FILE_BYTES, RowProblem, SampleStream, read_samples
from tools.dataset.report import HealthTally, render_report_markdown
from tools.dataset.row_keys import (
    RowKeys,
    conflict_groups,
    empty_keys,
    fill_keys,
    question_text,
    row_keys,
    sample_grams,
    settle_duplicates,
    visiting_order,
)
from tools.dataset.schema import AlpacaSample, ReviewedRow
from tools.dataset.split import eval_size, held_out, twin_labels
from tools.dataset.writers import FILE_SUFFIX, FORMATS, DatasetFormat, SampleWriter, write_dataset_info
from tools.errors import BAD_CONTENT, UserError, printable
from tools.output_files import refuse_existing, staged_folder

_KEY_BATCH = 4096  # rows hashed per step


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
    force: bool = False,
) -> dict:
    """Builds the dataset folder and returns the report (also written to out_dir/report.json).

    tag_counts: reviewer tags of the accepted samples, reported for balance (tools.generation.store.tag_counts);
    final_dir: where the folder will end up when it is built under a temporary name (the report names it);
    force: replace files of an earlier build (or the person's) in out_dir; without it they are refused (exit 2).
    The folder is built under a temporary name beside out_dir and moved into place at the end."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not inputs:
        raise UserError("no input given; pass one or more dataset files (JSON, JSONL, CSV) or samples")
    eval_size(0, eval_fraction)  # refuses a bad fraction before any reading
    config = clean_config or CleanConfig()
    out = Path(out_dir)
    refuse_existing(made_files(out), force)  # before reading: the person's files are never replaced
    with staged_folder(out, force) as stage:
        report = _build_into(stage, inputs, eval_fraction, system, fmt, seed, config, max_bytes, tag_counts,
                             str(final_dir or out))
    if force:  # splits of an earlier build in another format would be read as part of this one
        for stale in set(made_files(out)) - {out / name for name in report["files"].values()}:
            stale.unlink(missing_ok=True)
    return report


def made_files(out: Path) -> list[Path]:
    """Every file a build may write in out (splits in any format, dataset_info, the reports)."""
    splits = [out / f"{split}{suffix}" for split in ("train", "eval") for suffix in sorted(set(FILE_SUFFIX.values()))]
    return [*splits, out / "dataset_info.json", out / "report.json", out / "report.md"]


def _build_into(out: Path, inputs: list, eval_fraction: float, system: str | None, fmt: DatasetFormat, seed: int,
                config: CleanConfig, max_bytes: int, tag_counts: dict[str, int] | None, out_name: str) -> dict:
    """The build itself, into a fresh folder out."""
    with tempfile.TemporaryDirectory(prefix=".rows-", dir=out) as work, _Rows(Path(work) / "rows.jsonl") as rows:
        read = _read_inputs(inputs, max_bytes, (system or "").strip(), config, rows)
        if not rows.count:
            if not read["samples"]:
                first = "; ".join(p["where"] + ": " + p["message"] for p in read["problems"][:3])
                raise UserError(f"no valid samples in the input ({first or 'no rows in ' + _inputs_named(inputs)}); "
                                "run 'tunesmith dataset check FILE' for all problems", BAD_CONTENT)
            raise UserError(f"every sample was dropped while cleaning ({_count(read['dropped_rows'])}); fix the "
                            "data and retry", BAD_CONTENT)
        keys = rows.keys()
        conflicts, dropped = _settle_conflicts(rows, keys, config.near_duplicate_threshold)
        dropped.update(_settle_duplicates(rows, keys, dropped, config.near_duplicate_threshold))
        kept = np.ones(rows.count, dtype=bool)
        kept[list(dropped)] = False
        kept_rows = np.flatnonzero(kept)
        labels, held_out_check = twin_labels(
            RowKeys(*(_rows_of(getattr(keys, column.name), kept_rows) for column in fields(RowKeys))),
            config.near_duplicate_threshold, lambda chosen: rows.sample_grams(kept_rows[chosen].tolist()),
            lambda chosen: rows.question_grams(kept_rows[chosen].tolist()),
            lambda chosen: rows.questions(kept_rows[chosen]))
        to_eval = np.zeros(rows.count, dtype=bool)
        to_eval[kept_rows[held_out(labels, eval_fraction, seed)]] = True
        files, tally = _write_splits(rows, kept, to_eval, out, fmt)

    dropped_rows = [*read["dropped_rows"],
                    *(_dropped_row(rows.id_of(i), reason, rows.id_of(twin)) for i, (reason, twin) in dropped.items())]
    drops = dict(sorted(_count(dropped_rows).items()))
    unresolved = [c for c in conflicts if c["resolution"] == "unresolved"]
    report = {
        "out_dir": printable(out_name),
        "format": fmt,
        "inputs": read["inputs"],
        "rows_read": read["rows_read"],
        "kept": tally.count,
        "train": tally.count - int(to_eval.sum()),
        "eval": int(to_eval.sum()),
        "dropped": len(dropped_rows),
        "drops": drops,
        "dropped_ids": _ids_by_reason(dropped_rows),
        "dropped_rows": dropped_rows,
        "conflicts": conflicts,
        "problems": read["problems"],
        "fixes": dict(read["fixes"]),
        "notes": read["notes"],
        "held_out": held_out_check,
        "files": {**files, "dataset_info": "dataset_info.json", "report_json": "report.json",
                  "report_md": "report.md"},
        "health": tally.report(drops, tag_counts, [c["ids"] for c in unresolved]),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_report_markdown(report), encoding="utf-8")
    return report


class _Rows:
    """The normalised samples, spooled to a file one JSON line each, with what the build needs of each row kept
    in compact arrays: where it came from, its rank, keep-both mark and instruction key."""

    def __init__(self, path: Path):
        self._file = path.open("w+b")
        self._offsets, self._source, self._row = array("q"), array("l"), array("q")
        self.ranks, self.keep_both = array("b"), array("b")
        self._instruction_keys, self._has_input = array("q"), array("b")
        self._template = np.zeros(0, dtype=bool)  # per row, whether its instruction is a template (see keys)
        self.sources: list[str] = []  # file names; rows given as samples have source -1 and ids in given_ids
        self.given_ids: list[str] = []
        self.count = 0

    def add(self, sample: AlpacaSample, source: int, row: int, rank: int = 0, keep_both: bool = False) -> None:
        line = json.dumps([sample.instruction, sample.input, sample.output, sample.system, sample.history],
                          ensure_ascii=False).encode("utf-8") + b"\n"
        self._offsets.append(self._file.tell())
        self._file.write(line)
        self._source.append(source)
        self._row.append(row)
        self.ranks.append(rank)
        self.keep_both.append(keep_both)
        self._instruction_keys.append(text_key(sample.instruction))
        self._has_input.append(bool(sample.input.strip()))
        self.count += 1

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def id_of(self, i: int) -> str:
        source = self._source[i]
        return self.given_ids[self._row[i]] if source < 0 else f"{self.sources[source]}:{self._row[i]}"

    def records(self) -> Iterator[list]:
        """Every spooled row in order as [instruction, input, output, system, history]."""
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)

    def samples(self) -> Iterator[AlpacaSample]:
        """Every spooled sample in order (already validated: built without checking again)."""
        for record in self.records():
            yield _sample(record)

    def outputs(self, indices: list[int]) -> list[str]:
        return [record[2] for _, record in self._read(indices)]

    def question_grams(self, indices: list[int]) -> list[set[int]]:
        return [word_grams(self._question(i, record)) for i, record in self._read(indices)]

    def sample_grams(self, indices: list[int]) -> list[set[int]]:
        return [sample_grams(self._question(i, record), record[2]) for i, record in self._read(indices)]

    def questions(self, indices: np.ndarray) -> list[str]:
        """The question texts (see row_keys.question_text) of these rows (ascending), in one pass over the spool."""
        chosen = np.zeros(self.count, dtype=bool)
        chosen[indices] = True
        return [self._question(i, record) for i, record in enumerate(self.records()) if chosen[i]]

    def _read(self, indices: list[int]) -> Iterator[tuple[int, list]]:
        """The spooled records of a few rows, read by their offsets."""
        for i in indices:
            self._file.seek(self._offsets[i])
            yield i, json.loads(self._file.readline())
        self._file.seek(0, 2)

    def _question(self, i: int, record: list) -> str:
        instruction, input_, _, system, history = record
        return question_text(instruction, input_, system, history, bool(self._template[i]))

    def keys(self) -> RowKeys:
        """Exact keys and signatures of every row, computed a batch at a time. A shared instruction with an input
        is a template: the question then is the input (see row_keys.question_text)."""
        instruction_keys = np.frombuffer(self._instruction_keys, dtype=np.int64)
        _, inverse, counts = np.unique(instruction_keys, return_inverse=True, return_counts=True)
        self._template = (counts[inverse.reshape(-1)] > 1) & np.frombuffer(self._has_input, np.int8).astype(bool)
        keys = empty_keys(self.count)
        questions, outputs = [], []
        for i, record in enumerate(self.records()):
            questions.append(self._question(i, record))
            outputs.append(record[2])
            if len(questions) == _KEY_BATCH or i == self.count - 1:
                fill_keys(keys, i + 1 - len(questions), row_keys(questions, outputs))
                questions, outputs = [], []
        return keys


def _sample(record: list) -> AlpacaSample:
    instruction, input_, output, system, history = record
    return AlpacaSample.model_construct(instruction=instruction, input=input_, output=output, system=system,
                                        history=[tuple(turn) for turn in history])


def _read_inputs(inputs: list, max_bytes: int, system: str, config: CleanConfig, rows: _Rows) -> dict:
    """First pass: every input row becomes a spooled normalised sample or a drop with its reason."""
    read: dict = {"rows_read": 0, "samples": 0, "dropped_rows": [], "problems": [], "notes": [], "inputs": [],
                  "fixes": Counter()}

    def take(sample: AlpacaSample, source: int, row: int, row_id: str, rank: int = 0, keep: bool = False) -> None:
        read["samples"] += 1
        if system and not sample.system.strip():
            sample = sample.model_copy(update={"system": system})
        cleaned, fixes = normalize_sample(sample, config)
        read["fixes"].update(fixes)
        reason = limit_violation(cleaned, config)
        if reason:
            read["dropped_rows"].append(_dropped_row(row_id, reason, None))
        else:
            rows.add(cleaned, source, row, rank, keep)

    given = [item if isinstance(item, ReviewedRow) else ReviewedRow(item, f"sample:{i}")
             for i, item in enumerate((x for x in inputs if isinstance(x, AlpacaSample | ReviewedRow)), start=1)]
    for position, item in enumerate(given):
        rows.given_ids.append(item.id)
        take(item.sample, -1, position, item.id, item.rank, item.keep_both)
    if given:
        read["rows_read"] += len(given)
        read["inputs"].append({"source": "samples", "format": "samples", "rows": len(given)})
    for item in inputs:
        if isinstance(item, AlpacaSample | ReviewedRow):
            continue
        path = Path(item)
        stream = SampleStream(path, max_bytes)
        rows.sources.append(printable(path.name))  # a name that is not UTF-8 is still written as text
        source = len(rows.sources) - 1
        for row, found in stream:
            row_id = f"{rows.sources[source]}:{row}"
            if isinstance(found, RowProblem):
                read["dropped_rows"].append({"id": row_id, "reason": found.code, "kept": None,
                                             "detail": found.message})
                read["problems"].append({"where": row_id, "field": found.field, "message": found.message})
            else:
                take(found, source, row, row_id)
        read["rows_read"] += stream.rows_read
        read["inputs"].append({"source": printable(str(path)), "format": stream.format, "rows": stream.rows_read})
        read["notes"] += [f"{rows.sources[source]}: {note}" for note in stream.notes]
    return read


def _settle_conflicts(rows: _Rows, keys: RowKeys, threshold: float) -> tuple[list[dict], dict[int, tuple]]:
    """The conflicts found and the rows dropped for them. Of a question asked with different answers the
    highest-ranked answer is kept (an edit over a seed over an unedited sample, earliest on ties) until the
    person resolves it; samples marked keep_both all stay."""
    conflicts, dropped = [], {}
    for group in conflict_groups(keys, rows.outputs, threshold, rows.question_grams):
        winner = min(group, key=lambda i: (-rows.ranks[i], i))
        losers = [i for i in group if i != winner and not rows.keep_both[i]]
        resolved = not losers and all(rows.keep_both[i] for i in group)
        conflicts.append({"ids": [rows.id_of(i) for i in group],
                          "kept": [rows.id_of(i) for i in group if i not in losers],
                          "resolution": "keep_both" if resolved else "unresolved"})
        dropped.update((i, ("conflicting_answer", winner)) for i in losers)
    return conflicts, dropped


def _settle_duplicates(rows: _Rows, keys: RowKeys, gone: dict, threshold: float) -> dict[int, tuple[str, int]]:
    """Exact and near twins among the rows still in (see row_keys.settle_duplicates), by row index."""
    out = np.zeros(rows.count, dtype=bool)
    out[list(gone)] = True
    alive = np.flatnonzero(~out)
    ranks = np.frombuffer(rows.ranks, dtype=np.int8)[alive]
    keep_both = np.frombuffer(rows.keep_both, dtype=np.int8)[alive].astype(bool)
    found = settle_duplicates(_rows_of(keys.sample_keys, alive), _rows_of(keys.sample_sigs, alive),
                              visiting_order(ranks, keep_both), keep_both, threshold,
                              lambda chosen: rows.sample_grams(alive[chosen].tolist()))
    return {int(alive[i]): (reason, int(alive[twin])) for i, (reason, twin) in found.items()}


def _rows_of(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """values[chosen], without a copy when every row is chosen (signatures are 64 bytes a row)."""
    return values if len(chosen) == len(values) else values[chosen]


def _write_splits(rows: _Rows, kept: np.ndarray, to_eval: np.ndarray, out: Path,
                  fmt: DatasetFormat) -> tuple[dict[str, str], HealthTally]:
    """Last pass: the kept rows into train (and eval) in input order, each counted for the health report."""
    files = {"train": f"train{FILE_SUFFIX[fmt]}"}
    if to_eval.any():
        files["eval"] = f"eval{FILE_SUFFIX[fmt]}"
    tally = HealthTally()
    writers = {split: SampleWriter(out / name, fmt) for split, name in files.items()}
    try:
        for i, sample in enumerate(rows.samples()):
            if kept[i]:
                writers["eval" if to_eval[i] else "train"].write(sample)
                tally.add(rows.id_of(i), sample)
    finally:
        for writer in writers.values():
            writer.close()
    write_dataset_info(out, files, fmt)
    return files, tally


_DROP_DETAIL = {
    "exact_duplicate": "exact duplicate of {kept} (kept)",
    "near_duplicate": "near duplicate of {kept} (kept)",
    "conflicting_answer": "same question as {kept} with a different answer; {kept} was kept (resolve the conflict "
                          "in the Data studio to choose)",
    "empty_after_cleaning": "nothing left after cleaning whitespace and wrappers",
    "prompt_too_long": "the question is longer than the limit",
    "output_too_long": "the answer is longer than the limit",
}


def _dropped_row(row_id: str, reason: str, kept: str | None) -> dict:
    return {"id": row_id, "reason": reason, "kept": kept, "detail": _DROP_DETAIL[reason].format(kept=kept)}


def _inputs_named(inputs: list) -> str:
    names = [Path(item).name for item in inputs if not isinstance(item, AlpacaSample | ReviewedRow)]
    return ", ".join(names) if names else "the samples given"


def _count(rows: list[dict]) -> dict[str, int]:
    return dict(Counter(row["reason"] for row in rows))


def _ids_by_reason(rows: list[dict]) -> dict[str, list[str]]:
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        by_reason.setdefault(row["reason"], []).append(row["id"])
    return by_reason

"""Public data first: find an existing dataset on the Hugging Face Hub, preview its rows, and import a file of it
with a column mapping into Alpaca samples (then reviewed like generated ones).

Uses huggingface_hub against HF_ENDPOINT (the Hub, a mirror, or a local stand-in in tests). Without a connection
every call says so plainly; nothing is downloaded unless the person asks for a preview or an import.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tools.dataset.readers import RowProblem
from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, UserError

DEFAULT_ENDPOINT = "https://huggingface.co"
ROW_FILES = (".jsonl", ".json", ".csv")  # formats read here without extra libraries
MAX_FILE_BYTES = 200_000_000
ALPACA_FIELDS = ("instruction", "input", "output")


@dataclass
class HubPreview:
    """A dataset's readable files, the columns of the first one, and its first rows."""

    repo_id: str
    files: list[str]
    file: str
    columns: list[str]
    rows: list[dict]
    suggested_mapping: dict[str, str] = field(default_factory=dict)


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def _api():
    """The client for HF_ENDPOINT, after a quick reachability check: the client's own retries on a dead address
    take tens of seconds before anyone hears that there is no connection."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import HfApi, constants

    url = urlparse(hub_endpoint())
    if not constants.HF_HUB_OFFLINE:
        try:
            socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), 3).close()
        except OSError as exc:
            raise _no_connection(exc) from None
    return HfApi(endpoint=hub_endpoint())


def _no_connection(exc: Exception) -> UserError:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return UserError("the Hugging Face Hub is switched off here (HF_HUB_OFFLINE=1); unset it to search public "
                         "datasets, or go on with generated samples", exit_code=1)
    return UserError(f"no connection to the Hugging Face Hub at {hub_endpoint()} ({type(exc).__name__}); public "
                     "datasets cannot be searched from here. Go on with generated samples, or set HF_ENDPOINT to a "
                     "mirror you can reach", exit_code=1)


def search_hub_datasets(words: str, limit: int = 10) -> list[dict]:
    """Datasets whose name or description matches the task words, most downloaded first."""
    if not words.strip():
        raise UserError("type a few words about the task to search for, e.g. 'customer support tickets'")
    api = _api()
    try:
        found = list(api.list_datasets(search=words.strip(), limit=limit, sort="downloads"))
    except Exception as exc:  # noqa: BLE001 - network and offline errors of every kind become one plain message
        raise _no_connection(exc) from None
    return [{"id": d.id, "downloads": d.downloads or 0, "likes": d.likes or 0} for d in found]


def preview_hub_dataset(repo_id: str, file: str | None = None, rows: int = 5) -> HubPreview:
    """The readable files of a dataset and the first rows of one (the first readable file unless named)."""
    api = _api()
    try:
        files = [f for f in api.list_repo_files(repo_id, repo_type="dataset") if f.lower().endswith(ROW_FILES)]
    except Exception as exc:  # noqa: BLE001
        raise _no_connection(exc) from None
    if not files:
        raise UserError(f"{repo_id} has no JSON, JSONL or CSV file to import; pick another dataset", exit_code=1)
    chosen = file or files[0]
    if chosen not in files:
        raise UserError(f"{repo_id} has no file {chosen!r}; choose one of {', '.join(files[:10])}")
    records = read_hub_rows(repo_id, chosen)
    columns = sorted({key for record in records[:50] for key in record})
    return HubPreview(repo_id, files, chosen, columns, records[:rows], suggest_mapping(columns))


def read_hub_rows(repo_id: str, file: str) -> list[dict]:
    """Downloads one file of the dataset (cached by huggingface_hub) and returns its records."""
    from huggingface_hub import hf_hub_download

    _api()  # the reachability check
    try:
        path = Path(hf_hub_download(repo_id, file, repo_type="dataset", endpoint=hub_endpoint()))
    except Exception as exc:  # noqa: BLE001
        raise _no_connection(exc) from None
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(f"{repo_id}/{file} is over {MAX_FILE_BYTES // 1_000_000} MB; pick a smaller split")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if file.lower().endswith(".csv"):
            return list(csv.DictReader(io.StringIO(text)))
        if file.lower().endswith(".jsonl"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except (json.JSONDecodeError, csv.Error) as exc:
        raise UserError(f"{repo_id}/{file} could not be read ({exc}); pick another file", BAD_CONTENT) from None
    return data if isinstance(data, list) else data.get("data", []) if isinstance(data, dict) else []


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """A first guess of which column is the instruction, the input and the output (the person can change it)."""
    names = {
        "instruction": ("instruction", "question", "prompt", "query", "text"),
        "input": ("input", "context", "document"),
        "output": ("output", "answer", "response", "completion", "label", "target"),
    }
    lowered = {column.lower(): column for column in columns}
    return {field: next((lowered[n] for n in options if n in lowered), "") for field, options in names.items()}


def map_rows(records: list[dict], mapping: dict[str, str]) -> tuple[list[AlpacaSample], list[RowProblem]]:
    """Alpaca samples from records by the column mapping; every record that does not fit is a problem, not a drop."""
    if not mapping.get("instruction") or not mapping.get("output"):
        raise UserError("choose which column is the instruction and which is the output")
    samples, problems = [], []
    for number, record in enumerate(records, start=1):
        values = {field: record.get(column) if column else "" for field, column in mapping.items()
                  if field in ALPACA_FIELDS}
        values = {k: "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                  for k, v in values.items()}
        try:
            samples.append(AlpacaSample(**values))
        except ValueError:
            missing = [f for f in ("instruction", "output") if not values.get(f, "").strip()]
            problems.append(RowProblem(number, missing[0] if missing else None,
                                       f"no {' or '.join(missing) or 'usable text'} in this row; it is not imported",
                                       "empty_field"))
    return samples, problems

"""Write samples as Alpaca JSON, ShareGPT JSON or OpenAI chat JSONL, plus LLaMA-Factory's dataset_info.json.

ShareGPT and OpenAI chat have no separate `input`: the user turn is `sample.prompt_text()` (instruction, blank
line, input), so reading them back gives the same conversation with the input folded into the instruction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

DatasetFormat = Literal["alpaca", "sharegpt", "openai"]
FORMATS: tuple[str, ...] = ("alpaca", "sharegpt", "openai")
FILE_SUFFIX = {"alpaca": ".json", "sharegpt": ".json", "openai": ".jsonl"}


def to_sharegpt_record(sample: AlpacaSample) -> dict:
    """{"conversations": [{"from": "human"|"gpt", "value": ...}, ...], "system": ...}."""
    turns = [*sample.history, (sample.prompt_text(), sample.output)]
    conversations = [
        message
        for question, answer in turns
        for message in ({"from": "human", "value": question}, {"from": "gpt", "value": answer})
    ]
    return {"conversations": conversations, "system": sample.system}


def to_openai_record(sample: AlpacaSample) -> dict:
    """{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}."""
    messages = [{"role": "system", "content": sample.system}] if sample.system else []
    for question, answer in [*sample.history, (sample.prompt_text(), sample.output)]:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


_CONVERT = {"alpaca": AlpacaSample.to_record, "sharegpt": to_sharegpt_record, "openai": to_openai_record}


class SampleWriter:
    """Writes samples one at a time: Alpaca and ShareGPT as one JSON array with a record per line, OpenAI chat
    as JSON Lines. UTF-8, non-ASCII kept readable."""

    def __init__(self, path: Path | str, fmt: DatasetFormat = "alpaca"):
        if fmt not in _CONVERT:
            raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.path, self.fmt, self.count = Path(path), fmt, 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8")

    def write(self, sample: AlpacaSample) -> None:
        text = json.dumps(_CONVERT[self.fmt](sample), ensure_ascii=False)  # no indent: the C encoder, 5x faster
        if self.fmt == "openai":
            self._file.write(text + "\n")
        else:
            self._file.write(("[\n" if not self.count else ",\n") + text)
        self.count += 1

    def close(self) -> None:
        if self.fmt != "openai":
            self._file.write("\n]\n" if self.count else "[]\n")
        self._file.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_samples(samples: list[AlpacaSample], path: Path | str, fmt: DatasetFormat = "alpaca") -> Path:
    """All samples to one file through SampleWriter."""
    with SampleWriter(path, fmt) as writer:
        for sample in samples:
            writer.write(sample)
    return Path(path)


def dataset_info_entry(file_name: str, fmt: DatasetFormat) -> dict:
    """One LLaMA-Factory dataset_info.json entry (columns/tags as documented in its data/README.md)."""
    if fmt == "alpaca":
        return {
            "file_name": file_name,
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
                "history": "history",
            },
        }
    if fmt == "sharegpt":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    if fmt == "openai":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
    raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_dataset_info(
    out_dir: Path | str, files: dict[str, str], fmt: DatasetFormat, name: str = "tunesmith"
) -> Path:
    """dataset_info.json naming each split file: files={"train": "train.json"} → entry "tunesmith_train"."""
    info = {f"{name}_{split}": dataset_info_entry(file_name, fmt) for split, file_name in files.items()}
    path = Path(out_dir) / "dataset_info.json"
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path

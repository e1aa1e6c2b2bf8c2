"""The training plan a person gets without touching a knob: learning rate, epochs, batch and warm-up derived from
the base model (its size), the method and the data (rows, answer length), with the reason in one sentence.

Grounded in the task suite in bench/tasks (six small tasks of the kinds people bring to a small model; `make bench`
trains the built-in model on each with these defaults only and records the result in bench/results.json). What the
suite taught: a small model with LoRA needs a larger step than the textbook 2e-4 (5e-4; at 1e-3 the house-style
task memorised its training names and wrote garbage for an unseen one: 80% exact and 2 answers that did not stop,
87% and all stopping at 5e-4), and a hundred rows need several passes (about 60 updates) before the answers take
the trained format and end where they should.

`data_warnings` reads the data for what no plan can fix (answers computed from numbers in the question, long
reasoning) so the proposal says so before any training.
"""
from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from tools.training.methods import VIRTUAL_TOKEN_METHODS

MIN_UPDATES = 60  # optimizer steps a small dataset gets at least: below this the suite's answers did not stop
MAX_EPOCHS = 8  # beyond this many passes a small model memorises rows instead of learning the task
SMALL_DATA, MEDIUM_DATA = 200, 2000  # rows: below SMALL_DATA effective batch 8 and rank 8, below MEDIUM_DATA 16 and 16
BUILTIN_PARAMETERS = 268_000_000
PLANNED_FIELDS = ("learning_rate", "epochs", "batch_size", "grad_accum", "warmup_steps", "lora_r", "lora_alpha")
LORA_METHODS = ("lora", "qlora")  # the methods that have a rank to plan
# a size in a model's name ("Qwen2.5-7B", "SmolLM-360M"); only B and M: "8k" in a name is a context length
_SIZE_IN_NAME = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
COMPUTED_SHARE = 0.5  # share of rows whose answer holds a number the question does not: a computing task
LONG_ANSWER_WORDS = 150  # median answer length from which "long reasoning" is said


@dataclass(frozen=True)
class DataFacts:
    """What the plan reads of a training split: its size and the shape of its answers."""

    rows: int
    median_answer_words: float
    computed_share: float  # rows whose answer has a number not found in the question (and not a format constant)
    computed_example: tuple[str, str] | None = None  # (question, answer) showing it


@dataclass(frozen=True)
class TrainingPlan:
    learning_rate: float
    epochs: float
    batch_size: int
    grad_accum: int
    warmup_steps: int
    updates: int  # optimizer steps the plan amounts to
    why: str
    lora_r: int | None = None  # None for methods without LoRA adapters
    lora_alpha: float | None = None

    def settings(self) -> dict:
        return {name: getattr(self, name) for name in PLANNED_FIELDS}


def plan_training(method: str, facts: DataFacts, parameters: int | None, gpu: bool) -> TrainingPlan:
    """The plan for this method, data and model size, and why in one sentence."""
    rows = max(facts.rows, 1)
    effective = 8 if rows < SMALL_DATA else 16 if rows < MEDIUM_DATA else 32
    per_device = min(effective, 4 if gpu else 8)  # on a CPU the output layer costs the same for 1 or 8 rows
    per_epoch = math.ceil(rows / effective)
    base_epochs = 3 if rows < MEDIUM_DATA else 2 if rows < 20 * MEDIUM_DATA else 1
    epochs = min(MAX_EPOCHS, max(base_epochs, math.ceil(MIN_UPDATES / per_epoch)))
    updates = per_epoch * epochs
    rate, size_words = learning_rate_for(method, parameters)
    why = (f"{facts.rows} rows in batches of {effective}, {epochs} passes = {updates} updates"
           + (f" (at least {MIN_UPDATES}, so a small dataset is learned and answers stop)"
              if epochs > base_epochs else "")
           + f"; learning rate {rate:g} for {size_words} with {method}")
    rank = rank_for(rows) if method in LORA_METHODS else None
    if rank:
        why += f", rank {rank}"
    if facts.median_answer_words > 60:
        why += f"; answers are long (median {facts.median_answer_words:.0f} words), each row teaches many tokens"
    return TrainingPlan(rate, float(epochs), per_device, effective // per_device, max(2, updates // 20), updates,
                        why + ".", rank, rank and 2.0 * rank)


def rank_for(rows: int) -> int:
    """LoRA rank from the data: a small dataset is learned in rank 8, and a bigger adapter over-fits it (on the
    suite's house-style task rank 16 learned to cut unseen phrases, rank 8 did not); a few thousand rows fit in
    rank 16; more data can use more capacity (LoRA matches full fine-tuning until the data outgrows it)."""
    return 8 if rows < SMALL_DATA else 16 if rows < MEDIUM_DATA else 32 if rows < 10 * MEDIUM_DATA else 64


def learning_rate_for(method: str, parameters: int | None) -> tuple[float, str]:
    """(learning rate, the model size in words): smaller models take larger steps, adapters larger than full."""
    if method in VIRTUAL_TOKEN_METHODS:
        return 3e-2, "learned prompt tokens (they need a far larger step than weights)"
    size = "a model of unknown size" if parameters is None else f"a {_size_words(parameters)} model"
    billions = 3.0 if parameters is None else parameters / 1e9
    if method in ("full", "freeze"):
        return (5e-5 if billions <= 1 else 2e-5 if billions <= 10 else 1e-5), size
    return (5e-4 if billions <= 2 else 2e-4 if billions <= 10 else 1e-4), size


def _size_words(parameters: int) -> str:
    return f"{parameters / 1e9:.1f}B" if parameters >= 1e9 else f"{parameters / 1e6:.0f}M"


def data_warnings(facts: DataFacts, parameters: int | None) -> list[str]:
    """What the data shows that training cannot fix, in plain sentences (said in the proposal, before training)."""
    small = parameters is not None and parameters < 2e9
    model = f"a {_size_words(parameters)} model" if parameters else "a small model"
    warnings = []
    if facts.computed_share >= COMPUTED_SHARE:
        shown = ""
        if facts.computed_example:
            question, answer = facts.computed_example
            shown = f" (e.g. {question[-60:]!r} → {answer[:40]!r})"
        said = f"{facts.computed_share:.0%} of the answers hold numbers computed from the question{shown}"
        if small or parameters is None:
            warnings.append(f"{said}: arithmetic is beyond {model}, which learns the format but not the numbers. "
                            "Consider a bigger model on a GPU, or let a program compute the numbers.")
        else:
            warnings.append(f"{said}: check the numbers in the evaluation, not only the format.")
    if facts.median_answer_words >= LONG_ANSWER_WORDS and (small or parameters is None):
        warnings.append(f"answers are long (median {facts.median_answer_words:.0f} words): long reasoning is beyond "
                        f"{model}; expect the style to be learned, not the reasoning. A bigger model on a GPU "
                        "fits this better.")
    return warnings


class DataFactsTally:
    """Gathers DataFacts a row at a time, so the pass that reads a split for another reason (preflight's
    survey) also serves the plan and the task-fit check."""

    def __init__(self, limit: int = 5000):
        self.rows, self.pairs, self.limit = 0, [], limit

    def add(self, sample) -> None:
        self.rows += 1
        if len(self.pairs) < self.limit:
            self.pairs.append((sample.prompt_text(), sample.output))

    def facts(self) -> DataFacts:
        return DataFacts(self.rows, *answer_shape(self.pairs))


_FACTS_READ: dict[tuple, DataFacts] = {}  # (path, size, mtime) -> facts: a proposal reads its split once


def read_data_facts(train_file: Path) -> DataFacts:
    """Counts the rows of a split (streamed, any size) and reads the first rows for the answers' shape; a file
    read before and unchanged since is not read again."""
    from tools.dataset.readers import RowProblem, SampleStream

    key = _file_key(train_file)
    if key in _FACTS_READ:
        return _FACTS_READ[key]
    tally = DataFactsTally()
    for _, item in SampleStream(train_file, max_bytes=None):
        if not isinstance(item, RowProblem):
            tally.add(item)
    return remember_data_facts(train_file, tally.facts(), key)


def remember_data_facts(train_file: Path, facts: DataFacts, key: tuple | None = None) -> DataFacts:
    """Keeps what a pass over this file found, for the next reader of the same unchanged file."""
    if len(_FACTS_READ) > 32:  # a long-lived app sees many versions; a few recent ones are enough
        _FACTS_READ.clear()
    _FACTS_READ[key or _file_key(train_file)] = facts
    return facts


def _file_key(path: Path) -> tuple:
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns


def answer_shape(pairs: list[tuple[str, str]]) -> tuple[float, float, tuple[str, str] | None]:
    """(median answer words, share of rows with a computed number, one such row)."""
    if not pairs:
        return 0.0, 0.0, None
    words = statistics.median(len(answer.split()) for _, answer in pairs)
    answer_numbers = [set(_NUMBER.findall(answer)) for _, answer in pairs]
    appears = {}
    for numbers in answer_numbers:
        for number in numbers:
            appears[number] = appears.get(number, 0) + 1
    constants = {n for n, count in appears.items() if count >= 0.3 * len(pairs)}  # format, not content ("+1")
    computed = []
    for (question, answer), numbers in zip(pairs, answer_numbers):
        digits = "".join(ch for ch in question if ch.isdigit())
        if any(_is_computed(n, digits) for n in numbers - constants):
            computed.append((question, answer))
    return float(words), len(computed) / len(pairs), (computed[0] if computed else None)


def _is_computed(number: str, question_digits: str) -> bool:
    """A number of two or more significant digits (or a fraction) that the question does not hold: month 3 for
    "March" is a lookup, "14.0" for "8.7 miles" a computation."""
    digits = number.replace(".", "").replace(",", "").lstrip("0")
    return (len(digits) >= 2 or "." in number or "," in number) and digits not in question_digits


def model_parameters(base_model: str) -> int | None:
    """Parameter count of the base model, read without loading it: the built-in one's is known, a local
    folder's config.json is counted, else a size in the name ("Qwen2.5-7B"); None when nothing tells."""
    from tools.training.builtin import is_builtin

    if is_builtin(base_model):
        return BUILTIN_PARAMETERS
    config_path = Path(base_model).expanduser() / "config.json"
    if config_path.is_file():
        try:
            return _count_from_config(json.loads(config_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            pass
    match = _SIZE_IN_NAME.search(Path(base_model).name)
    if match:
        from tools.training.estimate import parse_params  # its unit table reads "7B" and "350M"

        return int(parse_params(match.group(1) + match.group(2)) * 1e9)
    return None


def _count_from_config(config: dict) -> int:
    """Decoder parameters from the config's shape: attention and MLP per layer, plus the embedding."""
    config = config.get("text_config") or config
    hidden, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
    inner = int(config.get("intermediate_size") or 4 * hidden)
    vocab = int(config.get("vocab_size") or 32000)
    return layers * (4 * hidden * hidden + 3 * hidden * inner) + vocab * hidden

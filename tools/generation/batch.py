"""Generates one batch of exactly n valid, new samples, asking again only for what is missing."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from tools import llm
from tools.dataset.dedup import NearDuplicateIndex
from tools.dataset.passages import compared_question
from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, LLMUnavailable, UserError
from tools.generation.notes import Correction
from tools.generation.parse import UnparseableReply, batch_response_format, items_from_reply
from tools.generation.prompt import EXAMPLES_PER_PROMPT, PromptBuilder, build_batch_prompt, choose_seeds
from tools.llm import describe_llm_error
from tools.redact import redact

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 20
DUPLICATE_THRESHOLD = 0.8
# Failures that asking again cannot fix: bad request, key, permission, unknown model.
_FATAL_STATUSES = {400, 401, 403, 404}
_SAMPLE_FIELDS = ("instruction", "input", "output", "system", "history")


@dataclass
class BatchResult:
    """What one generate_batch call produced; complete is True only with exactly `requested` samples."""

    samples: list[AlpacaSample]
    complete: bool
    attempts: int
    requested: int
    dropped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seed_indices: list[int] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One line for a person: how many samples, and why any are missing."""
        if self.complete:
            return f"Generated {len(self.samples)} samples in {self.attempts} call(s)."
        reason = self.errors[-1] if self.errors else "the model kept returning unusable or duplicate samples"
        return (
            f"Batch incomplete: {len(self.samples)} of {self.requested} samples "
            f"after {self.attempts} call(s); {reason}. "
            "The valid samples are kept; generate again for the rest."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain form (samples as Alpaca records) for state, logs and the UI."""
        data = asdict(self)
        data["samples"] = [sample.to_record() for sample in self.samples]
        data["message"] = self.message
        return data


def coerce_sample(item: Any, system: str = "") -> AlpacaSample:
    """An AlpacaSample from an LLM item; the project system prompt fills a blank system.

    Raises TypeError (not an object) or ValueError (pydantic ValidationError: a field is wrong).
    """
    if isinstance(item, AlpacaSample):
        return item
    if not isinstance(item, dict):
        raise TypeError(f"expected an object, got {type(item).__name__}")
    fields = {key: item[key] for key in _SAMPLE_FIELDS if item.get(key) is not None}
    if system and not fields.get("system"):
        fields["system"] = system
    return AlpacaSample.model_validate(fields)


def sample_from_generated(item: Any, system: str) -> AlpacaSample:
    """A generated item as a sample run with the person's system prompt: a `system` the model wrote is ignored,
    so generated text can never replace (or, with no system prompt, add) the instructions the model runs with."""
    if isinstance(item, dict):
        item = {key: value for key, value in item.items() if key != "system"}
    return coerce_sample(item, system)


def _status_code(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


class _BatchCaller:
    """Calls the model with structured output; falls back to plain text where it is unsupported."""

    def __init__(self, chat_model: Any):
        self.chat_model = chat_model
        try:
            self.structured = chat_model.with_structured_output(batch_response_format(), include_raw=True)
        except NotImplementedError:
            self.structured = None

    def invoke(self, messages: list[dict[str, str]]) -> Any:
        if self.structured is not None:
            try:
                return self.structured.invoke(messages)
            except Exception as exc:
                if _status_code(exc) != 400:
                    raise
                # Many OpenAI-compatible servers reject response_format; the prompt itself asks for JSON.
                log.warning("endpoint rejected structured output (%s); asking for plain JSON text",
                            describe_llm_error(exc))
                self.structured = None
        return self.chat_model.invoke(messages)


def _describe_invalid(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "sample"
        return f"{where}: {first['msg']}"
    return str(exc)


def generate_batch(
    chat_model: Any,
    task: str,
    seeds: Sequence[AlpacaSample | dict],
    n: int = DEFAULT_BATCH_SIZE,
    system: str = "",
    notes: Sequence[str] = (),
    rejected: Sequence[tuple[AlpacaSample, str]] = (),
    existing_texts: Sequence[str] = (),
    max_attempts: int = 4,
    seed_usage: Mapping[int, int] | None = None,
    rng_seed: int = 0,
    backoff_s: float = 1.0,
    examples_per_prompt: int = EXAMPLES_PER_PROMPT,
    build_prompt: PromptBuilder | None = None,
    make_sample: Callable[[Any], AlpacaSample] | None = None,
    deadline_s: float | None = None,
    corrections: Sequence[Correction] = (),
) -> BatchResult:
    """Asks chat_model for n new samples until exactly n are valid and new, or max_attempts calls are spent.

    build_prompt (count, the shared slots of every drafting request -> messages) and make_sample (a reply item ->
    sample; TypeError/ValueError when invalid) draft another kind of sample with the same retries, validation, dedup
    and review slots (examples, notes, corrections, rejections, questions to avoid; tools.rag.raft: questions
    answered from passages).

    Each sample is validated as AlpacaSample; exact/near duplicates of seeds, existing_texts (accepted and
    pending questions, as compared_question gives them) and of each other are dropped. LLM failures are retried with
    exponential backoff (backoff_s, 2*backoff_s, ...); failures that persist end the batch as incomplete with
    a plain message, keeping what was already valid. A failed call is asked again only within deadline_s of the
    start (default tools.llm.LLM_DEADLINE_S): the client has already retried it, so an endpoint that does not
    answer costs one budget, not max_attempts of them. seed_usage (seed index -> times shown) steers which seeds
    are shown; result.seed_indices says which were. corrections: reviewers' edits, shown as before -> after pairs.
    """
    if n < 1:
        raise UserError(f"the batch size must be at least 1 (got {n})")
    if not task.strip():
        raise UserError("the task description is empty; describe what the model must do")
    if max_attempts < 1:
        raise UserError(f"max_attempts must be at least 1 (got {max_attempts})")
    try:
        seed_samples = [coerce_sample(seed) for seed in seeds]
    except (TypeError, ValueError) as exc:
        raise UserError(f"a seed example is not a valid Alpaca sample ({exc}); fix the seeds file",
                        BAD_CONTENT) from None

    seed_indices = choose_seeds(len(seed_samples), examples_per_prompt, seed_usage, rng_seed)
    examples = [seed_samples[i] for i in seed_indices]
    index = NearDuplicateIndex(DUPLICATE_THRESHOLD)
    for i, text in enumerate(existing_texts):
        index.add(f"existing:{i}", text)
    for i, seed in enumerate(seed_samples):
        index.add(f"seed:{i}", compared_question(seed))

    caller = _BatchCaller(chat_model)
    started = time.monotonic()
    deadline_s = llm.LLM_DEADLINE_S if deadline_s is None else deadline_s
    accepted: list[AlpacaSample] = []
    dropped: Counter[str] = Counter()
    errors: list[str] = []
    attempts = 0
    while len(accepted) < n and attempts < max_attempts:
        if attempts and time.monotonic() - started >= deadline_s:  # the announced budget is spent: no new call
            errors.append(f"gave up after {time.monotonic() - started:.0f} s (the time limit for one batch's calls)")
            break
        attempts += 1
        missing = n - len(accepted)
        messages = build_batch_prompt(
            task,
            examples,
            missing,
            system,
            notes,
            rejected,
            avoid_texts=[*existing_texts, *(compared_question(sample) for sample in accepted)],
            corrections=corrections,
            other_request=build_prompt,
        )
        log.info("batch attempt %d: asking for %d samples", attempts, missing)
        try:
            items = items_from_reply(caller.invoke(messages))
        except UnparseableReply as exc:
            dropped["unparseable_reply"] += 1
            errors.append(f"attempt {attempts}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001  any LLM/client failure becomes a message, never a lost batch
            log.warning("batch attempt %d failed: %s", attempts, describe_llm_error(exc))  # redacted: no key
            elapsed = time.monotonic() - started
            out_of_time = elapsed >= deadline_s
            errors.append(f"attempt {attempts}: {describe_llm_error(exc)}"
                          + (f" Gave up after {elapsed:.0f} s (the time limit for one batch's calls)"
                             if out_of_time else ""))
            if out_of_time or isinstance(exc, LLMUnavailable) or _status_code(exc) in _FATAL_STATUSES:
                break
            if attempts < max_attempts and backoff_s > 0:
                time.sleep(backoff_s * 2 ** (attempts - 1))
            continue

        invalid: list[str] = []
        for position, item in enumerate(items):
            if len(accepted) == n:
                dropped["surplus"] += len(items) - position
                break
            try:
                sample = make_sample(item) if make_sample is not None else sample_from_generated(item, system)
            except (TypeError, ValueError) as exc:
                dropped["invalid"] += 1
                invalid.append(_describe_invalid(exc))
                continue
            earlier = index.add_if_new(f"batch:{len(accepted)}", compared_question(sample))
            if earlier is None:
                accepted.append(sample)
            else:
                dropped["duplicate_in_batch" if earlier.startswith("batch:") else "duplicate"] += 1
        if invalid:
            errors.append(f"attempt {attempts}: {len(invalid)} sample(s) were invalid (e.g. {invalid[0]})")
        if len(items) < missing:
            log.info("batch attempt %d: the model wrote %d of %d samples", attempts, len(items), missing)

    return BatchResult(
        samples=accepted,
        complete=len(accepted) == n,
        attempts=attempts,
        requested=n,
        dropped=dict(dropped),
        errors=[redact(error) for error in errors],  # a reply or server message may repeat the key
        seed_indices=seed_indices,
    )

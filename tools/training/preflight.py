"""Go/no-go checks before training: data, sample count, token lengths, chat template/EOS, memory.

Each check says what it found and, when it is not ok, the fix. Nothing here loads model weights.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.training.config import TrainConfig
from tools.training.estimate import HEADROOM, estimate_for_model, measure_workload, training_device
from tools.training.template import has_generation_tags, template_name, text_after_answer

Status = Literal["ok", "warn", "fail"]
MIN_SAMPLES = 10
FEW_SAMPLES = 50
FEW_FOR_ADAPTERS = 30  # below this, prompt tuning (a few learned tokens) over-fits less than LoRA
MAX_BAD_ROWS_SHOWN = 10
MAX_BAD_ROWS_KEPT = 1000  # described in the check's details; the rest are counted


@dataclass
class Check:
    """One finding: status ok/warn/fail, what was found, and how to fix it when not ok."""

    name: str
    status: Status
    message: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreflightReport:
    """ok is False when any check failed (warnings still allow training)."""

    ok: bool
    checks: list[Check]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}

    @property
    def verdict(self) -> str:
        return "GO: ready to train." if self.ok else "NO-GO: fix the failed checks first."

    def to_text(self, problems_only: bool = False) -> str:
        """For a terminal: one line per check (only warnings and failures when problems_only), then the verdict."""
        shown = [c for c in self.checks if c.status != "ok" or not problems_only]
        return "\n".join([check_line(c) for c in shown] + [self.verdict])

    def to_markdown(self) -> str:
        """For the proposal in the app: the verdict, then one line per check (escaped: templates such as
        <start_of_turn> and the data's own text show as text, not as HTML)."""
        return "\n".join([f"**Preflight** — {self.verdict}"] + [check_line(c, markdown=True) for c in self.checks])

    @classmethod
    def from_dict(cls, data: dict) -> PreflightReport:
        return cls(data["ok"], [Check(**check) for check in data["checks"]])


BADGES = {"ok": "OK", "warn": "WARN", "fail": "FAIL"}  # words, not emoji: readable without an emoji font


def check_line(check: Check, markdown: bool = False) -> str:
    """One check as a person reads it, with its fix: the one format of the CLI, `tunesmith preflight` and the app."""
    if not markdown:
        return f"[{BADGES[check.status]:4}] {check.name}: {check.message}" + (
            f"\n       fix: {check.fix}" if check.fix else "")
    return (f"- `{BADGES[check.status]}` **{check.name}**: {html.escape(check.message)}"
            + (f" _Fix: {html.escape(check.fix)}_" if check.fix else ""))


@dataclass
class AlpacaFile:
    """The valid samples of a dataset split and a description of every row that is not valid."""

    samples: list[AlpacaSample]
    bad_rows: list[str]


def read_dataset_split(path: str | Path) -> AlpacaFile:
    """A train/eval file in any format the dataset tool writes (Alpaca, ShareGPT, OpenAI JSONL), read by its
    reader; an unreadable file raises UserError, bad rows are listed."""
    from tools.dataset.readers import read_samples

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found; export the dataset into that folder (train.json / eval.json)")
    result = read_samples(path)
    return AlpacaFile(result.samples, [problem.describe() for problem in result.problems])


def count_train_samples(data_dir: str | Path) -> int:
    """Valid rows in the training split (0 when it cannot be read: preflight then says why)."""
    from tools.training.config import split_file

    path = split_file(Path(data_dir), "train")
    try:
        return survey_split(path).count if path else 0
    except UserError:
        return 0


@dataclass
class SplitSurvey:
    """What preflight needs of a split, read in one streaming pass: the valid rows counted, the first bad rows
    described, and the samples whose token lengths are measured (see LengthSample)."""

    count: int
    bad_count: int
    bad_rows: list[str]
    length_sample: list[AlpacaSample]


def survey_split(path: str | Path) -> SplitSurvey:
    """Reads a train/eval file of any format the dataset tool writes a piece at a time, so that a file of
    hundreds of MB is checked in bounded memory; an unreadable file raises UserError."""
    from tools.dataset.readers import RowProblem, SampleStream

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found; export the dataset into that folder (train.json / eval.json)")
    from tools.training.plan import DataFactsTally, remember_data_facts

    count, bad, bad_count, lengths, facts = 0, [], 0, LengthSample(), DataFactsTally()
    for _, item in SampleStream(path, max_bytes=None):  # streamed: any size fits in memory
        if isinstance(item, RowProblem):
            bad_count += 1
            if len(bad) < MAX_BAD_ROWS_KEPT:
                bad.append(item.describe())
        else:
            count += 1
            lengths.add(item)
            facts.add(item)
    remember_data_facts(path, facts.facts())  # the same pass serves the plan and the task-fit check
    return SplitSurvey(count, bad_count, bad, lengths.samples())


def run_preflight(config: TrainConfig, gpu_gb: float | None = None) -> PreflightReport:
    """All checks for one training config; gpu_gb overrides the detected device memory."""
    checks: list[Check] = []
    data = _check_data(config, checks)
    if data is not None:
        checks.append(check_sample_count(data.count))
        if data.count:
            checks.append(check_task_fit(config))
    model_config, tokenizer, source = _check_model_found(config.base_model, checks)
    if tokenizer is not None:
        checks.append(check_chat_template(tokenizer, _generation_eos_ids(source, model_config)))
        if data is not None and data.count:
            checks.append(check_token_lengths(tokenizer, data.length_sample, config.max_seq_len, data.count))
    if model_config is not None:
        samples = data.length_sample if data is not None and tokenizer is not None else None
        checks.append(check_memory(config, model_config, gpu_gb, tokenizer, samples))
    return PreflightReport(ok=all(check.status != "fail" for check in checks), checks=checks)


def _check_data(config: TrainConfig, checks: list[Check]) -> SplitSurvey | None:
    """The train split (and eval when present) parse and every row is a valid Alpaca sample."""
    try:
        train = survey_split(config.train_file)
        surveys = [(config.train_file, train)]
        if config.eval_file:
            surveys.append((config.eval_file, survey_split(config.eval_file)))
    except UserError as exc:
        checks.append(
            Check("data", "fail", exc.message, "fix the file, or re-export it with `tunesmith dataset`")
        )
        return None
    bad = [f"{path.name} {row}" for path, survey in surveys for row in survey.bad_rows]
    bad_count = sum(survey.bad_count for _, survey in surveys)
    if bad_count:
        more = f"\n  ... ({bad_count - MAX_BAD_ROWS_SHOWN} more)" if bad_count > MAX_BAD_ROWS_SHOWN else ""
        shown = "\n  ".join(bad[:MAX_BAD_ROWS_SHOWN]) + more
        checks.append(
            Check(
                "data",
                "fail",
                f"{bad_count} invalid row(s):\n  {shown}",
                "every row needs a non-empty instruction and output (input/system optional, history "
                "a list of [question, answer]); fix or remove these rows",
                {"bad_rows": bad},
            )
        )
    else:
        checks.append(
            Check("data", "ok", f"{train.count} valid training samples in {config.train_file}")
        )
    return train


def check_task_fit(config: TrainConfig) -> Check:
    """What the data shows that no training plan fixes (computed numbers, long reasoning), said before training."""
    from tools.training.plan import data_warnings, model_parameters, read_data_facts

    facts = read_data_facts(config.train_file)
    warnings = data_warnings(facts, model_parameters(config.base_model))
    if warnings:
        return Check("task fit", "warn", " ".join(warnings),
                     "train anyway to see how far it gets, or change the plan as said above")
    return Check("task fit", "ok", f"answers of about {facts.median_answer_words:.0f} words, no numbers computed "
                 "from the question: a task of the kind a fine-tuned model learns")


def check_sample_count(count: int) -> Check:
    """Under 10 samples cannot teach anything; under 50 is thin (50-100 good examples can already help)."""
    reason = (
        "quality beats quantity, but 50-100 good examples are where fine-tuning starts to help "
        "(Meta's guidance); harder tasks such as long generation need more"
    )
    if count < MIN_SAMPLES:
        return Check(
            "sample count",
            "fail",
            f"only {count} training samples; at least {MIN_SAMPLES} are needed",
            f"add samples (generate batches with `tunesmith generate`): {reason}",
        )
    if count < FEW_SAMPLES:
        few = (f"; with under {FEW_FOR_ADAPTERS}, method prompt_tuning (a few learned prompt tokens) has less to "
               "over-fit than adapters" if count < FEW_FOR_ADAPTERS else "")
        return Check(
            "sample count",
            "warn",
            f"{count} training samples is few",
            f"aim for at least {FEW_SAMPLES}: {reason}{few}",
        )
    return Check("sample count", "ok", f"{count} training samples")


def _check_model_found(base_model: str, checks: list[Check]) -> tuple[Any, Any, str]:
    """The base model's config, tokenizer (with its chat template) and local source; the hub is not reachable."""
    from transformers import AutoConfig

    from tools.training.builtin import resolve_model_source
    from tools.training.inference import load_tokenizer

    try:
        source = resolve_model_source(base_model)
        model_config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (UserError, OSError, ValueError) as exc:
        message = exc.message if isinstance(exc, UserError) else (
            f"base model {base_model!r} not found locally ({exc.__class__.__name__})")
        checks.append(
            Check(
                "base model",
                "fail",
                message,
                "use the built-in model (gemma-3-270m, works offline) or the path of a local model folder "
                "(config.json, weights, tokenizer); the hub cannot be reached from here",
            )
        )
        return None, None, base_model
    try:
        tokenizer = load_tokenizer(source)
    except UserError as exc:
        checks.append(Check("base model", "fail", exc.message, "put the tokenizer files next to the weights"))
        return model_config, None, source
    checks.append(Check("base model", "ok", f"{base_model} ({model_config.model_type})"))
    return model_config, tokenizer, source


def _generation_eos_ids(base_model: str, model_config: Any) -> list[int]:
    """eos ids generation stops on: generation_config.json when present, else the model config's."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(base_model, local_files_only=True).eos_token_id
    except (OSError, ValueError):
        eos = getattr(model_config, "eos_token_id", None)
    return [eos] if isinstance(eos, int) else list(eos or [])


def check_chat_template(tokenizer: Any, generation_eos_ids: list[int]) -> Check:
    """A chat template exists and ends the assistant turn with the EOS token that generation stops on."""
    name = "chat template / EOS"
    if not tokenizer.chat_template:
        return Check(
            name,
            "fail",
            "the tokenizer has no chat template, so training and chat cannot format turns",
            "use the instruct/chat variant of the model, or copy its chat_template into "
            "tokenizer_config.json (its assistant turn must end with the EOS token)",
        )
    try:
        after = text_after_answer(tokenizer)
    except Exception as exc:  # noqa: BLE001 - a broken Jinja template can raise anything; report it
        return Check(name, "fail", f"the chat template does not render: {exc}", "fix or replace the template")
    eos = tokenizer.eos_token
    if not eos or not after.startswith(eos):
        found = after[:20] or "nothing"
        return Check(
            name,
            "fail",
            f"the assistant turn is followed by {found!r}, not the EOS token {eos!r}: the "
            "tuned model would never learn to stop",
            "make the template end assistant turns with the EOS token, or set the tokenizer's "
            "eos_token to the end-of-turn token the template writes (e.g. <|im_end|>)",
            {"after_answer": after[:40], "eos_token": eos},
        )
    if generation_eos_ids and tokenizer.eos_token_id not in generation_eos_ids:
        return Check(
            name,
            "fail",
            f"generation stops on token ids {generation_eos_ids}, but the template ends "
            f"turns with {eos!r} (id {tokenizer.eos_token_id}): the model would run on",
            f"set eos_token_id in generation_config.json to include {tokenizer.eos_token_id}",
            {"generation_eos_ids": generation_eos_ids, "eos_token_id": tokenizer.eos_token_id},
        )
    if not has_generation_tags(tokenizer):
        return Check(
            name,
            "warn",
            f"template ends turns with {eos!r}, but has no {{% generation %}} tags",
            "without them the loss cannot be limited to the answers; add {% generation %}...{% "
            "endgeneration %} around the assistant content",
        )
    return Check(name, "ok", f"{template_name(tokenizer)}; assistant turns end with {eos!r}, which generation "
                             "stops on")


MAX_LENGTH_CHECKS = 5000  # tokenising every row of a huge file took > 15 minutes; a seeded sample says the same


class LengthSample:
    """The samples whose token lengths are measured, chosen while streaming: all of a normal dataset; of a huge
    one the longest texts (the likeliest to be cut) plus a seeded reservoir sample of the rest."""

    def __init__(self, limit: int | None = None):
        import random

        self.limit = limit or MAX_LENGTH_CHECKS
        self.seen = 0
        self._longest: list[tuple[int, int, AlpacaSample]] = []  # a min-heap of (length, arrival, sample)
        self._reservoir: list[AlpacaSample] = []
        self._random = random.Random(0)

    def add(self, sample: AlpacaSample) -> None:
        import heapq

        self.seen += 1
        entry = (len(sample.prompt_text()) + len(sample.output), -self.seen, sample)
        if len(self._longest) < self.limit // 5:
            heapq.heappush(self._longest, entry)
            return
        if entry[:2] > self._longest[0][:2]:
            entry = heapq.heapreplace(self._longest, entry)  # the one pushed out goes on to the reservoir
        kept = self.limit - self.limit // 5
        self._offer(entry[2], kept)

    def _offer(self, sample: AlpacaSample, kept: int) -> None:
        # Algorithm R over the samples that are not among the longest
        offered = self.seen - len(self._longest)
        if len(self._reservoir) < kept:
            self._reservoir.append(sample)
        elif (slot := self._random.randrange(offered)) < kept:
            self._reservoir[slot] = sample

    def samples(self) -> list[AlpacaSample]:
        longest = [sample for _, _, sample in sorted(self._longest, key=lambda e: (-e[0], -e[1]))]
        return longest + self._reservoir


def length_sample(samples: list[AlpacaSample]) -> list[AlpacaSample]:
    """LengthSample of samples held in memory (all of them when there are few)."""
    if len(samples) <= MAX_LENGTH_CHECKS:
        return samples
    chosen = LengthSample()
    for sample in samples:
        chosen.add(sample)
    return chosen.samples()


def check_token_lengths(tokenizer: Any, samples: list[AlpacaSample], max_seq_len: int,
                        total: int | None = None) -> Check:
    """Token lengths with the model's own tokenizer and template: what max_seq_len would cut off.
    total: how many samples the split has, when `samples` is already a LengthSample of it."""
    from tools.training.template import sample_messages

    checked = length_sample(samples)
    total = total or len(samples)
    lengths = sorted(_token_length(tokenizer, sample_messages(sample)) for sample in checked)
    p95 = lengths[min(len(lengths) - 1, math.ceil(0.95 * len(lengths)) - 1)]
    suggested = max(64, 64 * math.ceil(lengths[-1] * 1.1 / 64))  # longest sample + 10 %, in 64-token steps
    truncated = sum(length > max_seq_len for length in lengths)
    details = {
        "max": lengths[-1],
        "p95": p95,
        "median": lengths[len(lengths) // 2],
        "truncated": truncated,
        "suggested_max_seq_len": suggested,
    }
    summary = f"longest {lengths[-1]} tokens, p95 {p95}, median {details['median']}"
    if len(checked) < total:
        summary += (f" (measured on {len(checked):,} of {total:,} samples: the longest texts and a seeded "
                    "sample)")
        details["measured"] = len(checked)
    if truncated:
        share = truncated / len(lengths)
        status: Status = "fail" if share > 0.05 else "warn"
        return Check(
            "token lengths",
            status,
            f"max_seq_len={max_seq_len} would cut {truncated} of {len(lengths)} samples ({share:.0%}), "
            f"losing their answers and EOS; {summary}",
            f"raise max_seq_len to {suggested}, or shorten/split the longest samples",
            details,
        )
    if suggested < max_seq_len // 2:
        return Check(
            "token lengths",
            "ok",
            f"{summary}; max_seq_len={max_seq_len} is generous: {suggested} would use less memory",
            details=details,
        )
    return Check("token lengths", "ok", f"{summary}; none cut at max_seq_len={max_seq_len}", details=details)


def _token_length(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    if tokenizer.chat_template:
        return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
    return len(tokenizer("\n".join(m["content"] for m in messages))["input_ids"])


CPU_FRIENDLY_PARAMS = 0.5e9  # up to about this size a CPU trains LoRA in minutes (the built-in 270M model does)


def check_memory(config: TrainConfig, model_config: Any, gpu_gb: float | None, tokenizer: Any = None,
                 samples: list[AlpacaSample] | None = None) -> Check:
    """The memory estimate for this model, the heaviest batch of these samples (rows of max_seq_len tokens when
    there are none) and these settings, against the device (the GPU, else the RAM)."""
    device, device_gb, description = training_device(gpu_gb)
    from tools.training.train import packs_batches

    workload = measure_workload(tokenizer, samples or [], config.batch_size, config.max_seq_len,
                                packs_batches(config.method, config.packing))
    estimate, params = estimate_for_model(
        model_config, config.method, workload, batch_size=config.batch_size, seq_len=config.max_seq_len,
        lora_r=config.lora_r or 16,  # prompt tuning is estimated as a rank-16 LoRA (an upper bound)
        gradient_checkpointing=config.activation_checkpointing,
        double_quant=config.double_quant, device=device, device_gb=device_gb)
    details = {
        "params": params,
        "estimate": estimate.to_dict(),
        "workload": workload.source,
        "device": description,
        "device_gb": round(device_gb, 1),
    }
    message = (f"needs about {estimate.total_gb:.1f} GB for a batch of {workload.source}; {description} has "
               f"{device_gb:.1f} GB")
    if not estimate.fits:
        return Check(
            "memory", "fail", message + " - it will run out of memory", "; ".join(estimate.advice), details
        )
    if device == "cpu" and params > CPU_FRIENDLY_PARAMS:
        return Check(
            "memory",
            "warn",
            message + f"; a {params / 1e9:.1f}B model trains very slowly on a CPU",
            "train on a machine with a CUDA GPU, or start with the built-in gemma-3-270m (minutes on a CPU)",
            details,
        )
    if estimate.total_gb > HEADROOM * device_gb:
        return Check(
            "memory", "warn", message + " - little headroom", "; ".join(estimate.advice[1:]), details
        )
    return Check("memory", "ok", message, details=details)

"""The training run's settings: one typed object, each field explained for a non-expert, validated."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import BAD_CONTENT, UserError
from tools.training.methods import ADAPTER_METHODS, VIRTUAL_TOKEN_METHODS, Method, auto_method, has_gpu

LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                 "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16", "float16")
LORA_ONLY_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")
QLORA_ONLY_FIELDS = ("double_quant",)


class TrainConfig(BaseModel):
    """Everything one fine-tuning run needs; invalid values raise UserError naming the field and the fix."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(description=(
        "The model you start from: a local folder or a Hugging Face model id already downloaded."))
    data_dir: Path = Field(description=(
        "Folder with train.json (and optionally eval.json) from the dataset tool: Alpaca, ShareGPT or OpenAI JSONL."))
    out_dir: Path = Field(description=(
        "Run folder where progress, checkpoints, the adapter and metrics are written."))
    method: Method = Field(
        "auto", description=(
            "auto: qlora on a GPU, lora on a CPU (4-bit weights are de-quantised at every step there); "
            "qlora: small adapters on a 4-bit base (least GPU memory); lora: adapters on a full-precision "
            "base; full: update every weight (most memory, risks forgetting); freeze: update only the top "
            "layers (train_top_layers); prompt_tuning / p_tuning: learn a few virtual prompt tokens, for very "
            "small data (tens of examples)."))
    lora_r: int | None = Field(None, description=(
        "Adapter rank: how much the adapters can learn. 8-64 is typical; higher = more memory. Empty: planned "
        "(8 below 200 rows, 16 below 2,000, 32 up to 20,000, then 64)."))
    lora_alpha: float | None = Field(None, description=(
        "Adapter scaling; the update is scaled by alpha/r. Empty: twice the rank."))
    lora_dropout: float = Field(0.05, description=(
        "Share of adapter inputs randomly dropped while training, against over-fitting (0-0.1)."))
    target_modules: str | list[str] = Field("all-linear", description=(
        "Which layers get adapters; 'all-linear' = attention and MLP projections."))
    learning_rate: float | None = Field(None, description=(
        "Step size of each update. Empty: planned from the model's size and the method (5e-4 for LoRA on a model "
        "up to 2B, 2e-4 on a 7B one); too high makes training unstable."))
    lr_scheduler: str = Field("cosine", description=(
        "How the learning rate changes over the run; 'cosine' decays it smoothly to zero."))
    warmup_steps: int | None = Field(None, description=(
        "Steps at the start during which the learning rate ramps up from zero. Empty: planned (about 5%)."))
    epochs: float | None = Field(None, description=(
        "Passes over the training data. Empty: planned from the rows, at least 60 updates for a small dataset; "
        "many more passes risk memorising the samples."))
    max_steps: int = Field(-1, description=(
        "Stop after this many optimizer steps; overrides epochs when above 0 (-1 = use epochs)."))
    batch_size: int | None = Field(None, description=(
        "Samples processed together per device; lower it first when memory runs out. Empty: planned."))
    grad_accum: int | None = Field(None, description=(
        "Batches accumulated before each update; effective batch = batch_size x grad_accum. Empty: planned "
        "(8 rows an update for small data, 16 up to 2000 rows, then 32)."))
    max_seq_len: int = Field(1024, description=(
        "Longest sample in tokens; longer ones are cut. Memory grows with it."))
    packing: bool = Field(True, description=(
        "Put a batch's samples side by side in one row, each attending only to itself: no padding, and the "
        "output layer runs only where an answer token is predicted. Off: padded rows and the model's own loss."))
    seed: int = Field(42, description=(
        "Random seed for the data order and the adapters' start. Two runs with one seed start alike, but sums "
        "spread over CPU threads round differently, so on a hundred rows their scores can differ by a few rows."))
    gradient_checkpointing: bool | None = Field(None, description=(
        "Recompute activations instead of storing them: much less memory, ~20-30% slower. Unset: on with a "
        "GPU, off on a CPU (memory is plentiful there and time is short)."))
    train_top_layers: int = Field(2, description=(
        "freeze only: how many of the top layers learn; the rest stay as they are (fewer = faster, safer)."))
    num_virtual_tokens: int = Field(20, description=(
        "prompt_tuning / p_tuning only: how many learned tokens are put before every prompt."))
    parent_run: Path | None = Field(None, description=(
        "Continue from this earlier run's adapter (a new round of data on top of the last one)."))
    cpu_threads: int = Field(0, description=(
        "CPU threads for training without a GPU; 0 = one per core."))
    save_steps: int = Field(50, description=(
        "Save a resumable checkpoint every this many steps (one is always saved at the end)."))
    logging_steps: int = Field(1, description="Report the loss every this many steps.")
    double_quant: bool = Field(True, description=(
        "QLoRA only: also quantise the quantisation constants, saving ~0.4 bit per weight."))
    compute_dtype: str = Field("auto", description=(
        "Number format for computation: auto picks bfloat16 on a recent GPU, float32 on CPU."))
    plan_note: str = Field("", description=(
        "Why the planned settings are what they are (written by Tunesmith; empty when you set them all)."))

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise UserError(_describe_validation_error(exc)) from None

    @field_validator("data_dir", "out_dir", "parent_run")
    @classmethod
    def _absolute(cls, path: Path | None) -> Path | None:
        # Absolute paths keep the run working when the trainer subprocess starts in another folder.
        return None if path is None else Path(path).expanduser().resolve()

    @model_validator(mode="before")
    @classmethod
    def _resolve_auto(cls, data: Any) -> Any:
        """'auto' settings become what suits this machine, so the saved config says what really ran."""
        if isinstance(data, dict):
            data = dict(data)
            if data.get("method", "auto") == "auto":
                data["method"] = auto_method(has_gpu())[0]
            if data.get("gradient_checkpointing") is None:
                data["gradient_checkpointing"] = has_gpu()
            _fill_planned(data)
        return data

    @field_validator("target_modules")
    @classmethod
    def _modules_not_empty(cls, modules: str | list[str]) -> str | list[str]:
        if not modules or (isinstance(modules, list) and not all(m.strip() for m in modules)):
            raise ValueError("is empty; use 'all-linear' or names like ['q_proj', 'v_proj']")
        return modules

    @model_validator(mode="after")
    def _check_values(self) -> TrainConfig:
        problems = _value_problems(self) + _absurd_values(self) + _method_problems(self)
        if not problems:
            problems = _data_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def updated(self, **changes: Any) -> TrainConfig:
        """A validated copy with some settings changed (None values are ignored)."""
        return TrainConfig(**{**self.model_dump(), **{k: v for k, v in changes.items() if v is not None}})

    @property
    def uses_adapters(self) -> bool:
        """Methods whose result is a PEFT adapter on the unchanged base (saved in RUN/adapter)."""
        return self.method in ADAPTER_METHODS

    @property
    def activation_checkpointing(self) -> bool:
        return bool(self.gradient_checkpointing)

    @property
    def train_file(self) -> Path:
        return split_file(self.data_dir, "train") or self.data_dir / "train.json"

    @property
    def eval_file(self) -> Path | None:
        return split_file(self.data_dir, "eval")


def _fill_planned(data: dict[str, Any]) -> None:
    """Settings the person left empty take the training plan's values (tools/training/plan.py), with its reason."""
    from tools.training.plan import LORA_METHODS, PLANNED_FIELDS, model_parameters, plan_training, read_data_facts

    empty = [name for name in PLANNED_FIELDS if data.get(name) is None]
    if not empty:
        return
    try:
        train_file = split_file(Path(str(data["data_dir"])).expanduser(), "train")
        facts = read_data_facts(train_file)
        plan = plan_training(str(data["method"]), facts, model_parameters(str(data.get("base_model") or "")),
                             has_gpu())
    except (KeyError, TypeError, OSError, UserError):
        plan = None  # unreadable data or no data_dir: validation says why; these stand in meanwhile
    planned = plan.settings() if plan else dict(FALLBACK_SETTINGS)
    if data["method"] not in LORA_METHODS:
        planned.update(lora_r=None, lora_alpha=None)  # nothing to plan: no LoRA adapters
    if "grad_accum" in empty and data.get("batch_size") is not None and plan is not None:
        planned["grad_accum"] = max(1, (plan.batch_size * plan.grad_accum) // max(1, int(data["batch_size"])))
    if "lora_alpha" in empty and data.get("lora_r") is not None and planned["lora_alpha"] is not None:
        planned["lora_alpha"] = 2.0 * float(data["lora_r"])  # twice the person's own rank
    for name in empty:
        data[name] = planned[name]
    if plan is not None and not data.get("plan_note"):
        kept = [name for name in PLANNED_FIELDS if name not in empty]
        data["plan_note"] = plan.why + (f" Your own {', '.join(kept)} kept." if kept else "")


# What an empty setting becomes when the data cannot be read to plan (validation then reports the data).
FALLBACK_SETTINGS = {"learning_rate": 2e-4, "epochs": 3.0, "batch_size": 4, "grad_accum": 4, "warmup_steps": 0,
                     "lora_r": 16, "lora_alpha": 32.0}


def _value_problems(c: TrainConfig) -> list[str]:
    """Out-of-range numbers, each with the value to use instead."""
    checks = [
        (not c.base_model.strip(), "base_model is empty; give a local model folder or a downloaded model id"),
        (c.lora_r is not None and c.lora_r < 1, f"lora_r={c.lora_r} must be at least 1; 8-64 is typical"),
        (c.lora_alpha is not None and c.lora_alpha <= 0,
         f"lora_alpha={c.lora_alpha} must be above 0; use about twice lora_r"),
        (not 0 <= c.lora_dropout < 1, f"lora_dropout={c.lora_dropout} must be in [0, 1); 0.05 is typical"),
        (c.learning_rate <= 0, f"learning_rate={c.learning_rate} must be above 0; try 2e-4"),
        (c.learning_rate > 0.1, f"learning_rate={c.learning_rate} is far too high; try 2e-4"),
        (c.lr_scheduler not in LR_SCHEDULERS,
         f"lr_scheduler={c.lr_scheduler!r} is unknown; use one of {', '.join(LR_SCHEDULERS)}"),
        (c.warmup_steps < 0, f"warmup_steps={c.warmup_steps} must be 0 or more"),
        (c.max_steps == 0 or c.max_steps < -1, f"max_steps={c.max_steps} must be -1 (use epochs) or above 0"),
        (c.max_steps <= 0 and c.epochs <= 0, f"epochs={c.epochs} must be above 0 (or set max_steps)"),
        (c.batch_size < 1, f"batch_size={c.batch_size} must be at least 1"),
        (c.grad_accum < 1, f"grad_accum={c.grad_accum} must be at least 1"),
        (c.max_seq_len < 64,
         f"max_seq_len={c.max_seq_len} is too short; use at least 64 (512-2048 is typical)"),
        (c.save_steps < 1, f"save_steps={c.save_steps} must be at least 1"),
        (c.logging_steps < 1, f"logging_steps={c.logging_steps} must be at least 1"),
        (not 1 <= c.train_top_layers <= 1000, f"train_top_layers={c.train_top_layers} must be 1 or more"),
        (not 1 <= c.num_virtual_tokens <= 512,
         f"num_virtual_tokens={c.num_virtual_tokens} must be between 1 and 512; 10-30 is typical"),
        (c.cpu_threads < 0, f"cpu_threads={c.cpu_threads} must be 0 (one per core) or more"),
        (c.compute_dtype not in COMPUTE_DTYPES,
         f"compute_dtype={c.compute_dtype!r} is unknown; use one of {', '.join(COMPUTE_DTYPES)}"),
    ]
    return [message for failed, message in checks if failed]


# Beyond these a value is a typo or a unit mix-up, not a choice (e.g. epochs=3000 for 3, lora_r=16000).
ABSURD_LIMITS = {"lora_r": 4096, "lora_alpha": 65536, "epochs": 1000, "batch_size": 65536, "grad_accum": 65536,
                 "max_seq_len": 2_097_152, "max_steps": 100_000_000, "warmup_steps": 100_000_000}


def _absurd_values(c: TrainConfig) -> list[str]:
    """NaN/infinite numbers (they pass every range check and fail only inside the trainer) and absurd sizes."""
    problems = [f"{name}={value} is not a finite number; give a plain number (e.g. "
                f"{FALLBACK_SETTINGS.get(name, field.default)})"
                for name, field in TrainConfig.model_fields.items()
                if isinstance(value := getattr(c, name), float) and not math.isfinite(value)]
    problems += [f"{name}={getattr(c, name)} is absurdly large (over {limit:,}); check for a typo"
                 for name, limit in ABSURD_LIMITS.items()
                 if getattr(c, name) is not None and math.isfinite(getattr(c, name)) and getattr(c, name) > limit]
    if math.isfinite(c.learning_rate) and 0 < c.learning_rate < 1e-8:
        problems.append(f"learning_rate={c.learning_rate} is too small to change the model; try 2e-4")
    return problems


def _changed(c: TrainConfig, names: tuple[str, ...]) -> list[str]:
    """Fields set to something other than their default (a dumped config repeats defaults harmlessly)."""
    return [n for n in names if getattr(c, n) != TrainConfig.model_fields[n].default]


def _method_problems(c: TrainConfig) -> list[str]:
    """Options that mean nothing for the chosen method: refusing them beats silently ignoring them."""
    problems = []
    if c.method == "full" and (changed := _changed(c, LORA_ONLY_FIELDS + QLORA_ONLY_FIELDS)):
        problems.append(f"method 'full' trains no adapters, so {', '.join(changed)} cannot be used; remove "
                        "them or choose method 'qlora'")
    if c.method in ("lora", *VIRTUAL_TOKEN_METHODS, "freeze") and (changed := _changed(c, QLORA_ONLY_FIELDS)):
        problems.append(f"method {c.method!r} loads no 4-bit base, so {', '.join(changed)} cannot be used; remove "
                        "it or choose method 'qlora'")
    if c.method in (*VIRTUAL_TOKEN_METHODS, "freeze") and (changed := _changed(c, LORA_ONLY_FIELDS)):
        problems.append(f"method {c.method!r} trains no LoRA adapters, so {', '.join(changed)} cannot be used; "
                        "remove them or choose method 'lora'")
    if c.parent_run is not None and c.method not in ("lora", "qlora"):
        problems.append(f"parent_run continues a LoRA adapter, so method must be 'lora' or 'qlora', not "
                        f"{c.method!r}")
    if c.parent_run is not None and c.parent_run == c.out_dir:
        problems.append("parent_run is the run folder itself; continue into a new --out folder")
    return problems


def split_file(data_dir: Path, split: str) -> Path | None:
    """DATA/train.json or DATA/train.jsonl (OpenAI format), whichever the dataset tool wrote."""
    return next((p for p in (data_dir / f"{split}.json", data_dir / f"{split}.jsonl") if p.is_file()), None)


def _data_problems(c: TrainConfig) -> list[str]:
    if not c.data_dir.is_dir():
        return [f"data_dir {c.data_dir} does not exist; point it at the folder the dataset tool wrote "
                "(it holds train.json)"]
    if not c.train_file.is_file():
        return [f"{c.train_file} is missing; export the dataset (train.json/eval.json) "
                "into that folder first"]
    return []


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required (CLI: --base-model, --data, --out; or set it in the config file)"
        if error["type"] == "extra_forbidden":
            message = f"unknown setting; valid ones are {', '.join(TrainConfig.model_fields)}"
        parts.append(f"{field}: {message}" if field else message)
    return "invalid training config: " + "; ".join(parts)


def explain_parameters(config: TrainConfig) -> list[tuple[str, Any, str]]:
    """(name, value, one-line explanation) for every setting, in declaration order, to show a person."""
    return [(name, getattr(config, name), field.description or "")
            for name, field in TrainConfig.model_fields.items()]


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Reads a YAML or JSON config file (optional), then applies the non-None overrides (CLI flags).

    A refused config exits BAD_CONTENT when the file is to blame (the flags alone, with the file's required
    settings, are valid), else BAD_INPUT (a flag is wrong).
    """
    file_data: dict[str, Any] = _read_config_file(Path(path)) if path else {}
    flags = {key: value for key, value in overrides.items() if value is not None}
    try:
        return TrainConfig(**{**file_data, **flags})
    except UserError as exc:
        if file_data and _valid_without_file(file_data, flags):
            exc.exit_code = BAD_CONTENT
        raise


def _valid_without_file(file_data: dict[str, Any], flags: dict[str, Any]) -> bool:
    """Whether the flags with only the file's required settings (base model, data, out) make a valid config."""
    required = {key: value for key, value in file_data.items()
                if key in TrainConfig.model_fields and TrainConfig.model_fields[key].is_required()}
    try:
        TrainConfig(**{**required, **flags})
    except UserError:
        return False
    return True


def _read_config_file(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise UserError(f"config file {path} not found; check the path")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise UserError(f"config file {path} is not valid {kind}: {exc}", BAD_CONTENT) from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must map setting names to values, e.g. 'lora_r: 16'", BAD_CONTENT)
    return data


def save_config(config: TrainConfig, path: str | Path) -> Path:
    """Writes the config as JSON (the form the trainer subprocess reads back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    return path

"""The trainer entry point: `python -m tools.training.train --config RUN/config.json [--resume]`.

Alpaca rows become tokens through the template module (the model's chat template, or the project's for a base
model), transformers' Trainer trains what the method names (LoRA, QLoRA on a 4-bit base, prompt/p-tuning, the
top layers, or everything) with the loss on the answers only, on padding-free packed batches, and progress goes
to RUN/progress.jsonl. Runs without the agent or the UI; the launcher starts it as a subprocess.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tools.errors import BAD_CONTENT, UserError
from tools.training.builtin import resolve_model_source
from tools.training.config import TrainConfig, has_gpu, load_config
from tools.training.launch import append_event
from tools.training.methods import VIRTUAL_TOKEN_METHODS
from tools.training.template import (
    IGNORE_INDEX,
    encode_sample,
    eos_ends_assistant_turn,
    loss_mode,
    template_name,
)

CHECKPOINTS_DIR = "checkpoints"
ADAPTER_DIR = "adapter"
MODEL_DIR = "model"
METRICS_FILE = "metrics.json"
# Old checkpoints are deleted beyond this many: a full fine-tune's checkpoints are as large as the model.
KEEP_CHECKPOINTS = 3


def is_main_process() -> bool:
    """Rank 0 writes the run folder; the other `accelerate launch` workers only train."""
    return int(os.environ.get("RANK", "0")) == 0


# ---- data --------------------------------------------------------------------------------------------------

def read_training_samples(path: Path) -> list:
    """The samples of a dataset split (any format the dataset tool writes); any bad row stops the run."""
    from tools.training.preflight import read_dataset_split

    split = read_dataset_split(path)
    if split.bad_rows:
        more = f" (and {len(split.bad_rows) - 5} more)" if len(split.bad_rows) > 5 else ""
        raise UserError(f"{path} has {len(split.bad_rows)} unusable sample(s): {'; '.join(split.bad_rows[:5])}"
                        f"{more}; fix or remove them (`tunesmith dataset check` shows them all) before training",
                        BAD_CONTENT)
    if not split.samples:
        raise UserError(f"{path} has no samples; add training samples before training", BAD_CONTENT)
    return split.samples


def encode_dataset(samples: list, tokenizer, max_len: int) -> list[dict]:
    """input_ids + labels per sample, by the template module (the one home of 'where the loss goes')."""
    rows = []
    for sample in samples:
        encoded = encode_sample(tokenizer, sample, max_len)
        if encoded.trained_tokens:  # an answer cut off entirely by max_len teaches nothing (preflight warns)
            rows.append({"input_ids": encoded.input_ids, "labels": encoded.labels})
    if not rows:
        raise UserError(f"max_seq_len={max_len} cuts off every answer; raise it (`tunesmith preflight` suggests "
                        "a value)")
    return rows


class PackedBatch:
    """Collates a batch into ONE row without padding: samples side by side, positions restarting at 0 for each.

    transformers reads the restarting position ids as separate sequences (no attention across samples), and
    logits_to_keep lists only the positions that predict a trained token: on a 262k-token vocabulary the output
    layer is the largest matmul of a step, and prompt and padding positions need none of it.
    """

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids = [token for f in features for token in f["input_ids"]]
        labels = [label for f in features for label in f["labels"]]
        positions = [p for f in features for p in range(len(f["input_ids"]))]
        keep = [i for i in range(len(labels) - 1) if labels[i + 1] != IGNORE_INDEX]
        return {"input_ids": torch.tensor([ids]), "position_ids": torch.tensor([positions]),
                "labels": torch.tensor([labels]), "logits_to_keep": torch.tensor(keep, dtype=torch.long)}


def packs_batches(method: str, packing: bool = True) -> bool:
    """Whether training uses PackedBatch: PEFT prepends virtual tokens to padded rows, so prompt/p-tuning cannot."""
    return packing and method not in VIRTUAL_TOKEN_METHODS


class PaddedBatch:
    """Right-padded rows with an attention mask: for prompt/p-tuning, whose virtual tokens PEFT prepends."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        pad = [width - len(f["input_ids"]) for f in features]
        return {
            "input_ids": torch.tensor([f["input_ids"] + [self.pad_token_id] * n for f, n in zip(features, pad)]),
            "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * n for f, n in zip(features, pad)]),
            "labels": torch.tensor([f["labels"] + [IGNORE_INDEX] * n for f, n in zip(features, pad)]),
        }


def answer_loss_trainer_class():
    """transformers.Trainer whose loss is cross-entropy on the answer positions the batch lists (PackedBatch)."""
    import torch
    from transformers import Trainer

    class AnswerLossTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.model_accepts_loss_kwargs = False  # our loss is a per-batch mean; the Trainer averages batches

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if "logits_to_keep" not in inputs:  # padded batches: the model's own loss (PEFT shifts the labels)
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            keep = inputs["logits_to_keep"]
            outputs = model(input_ids=inputs["input_ids"], position_ids=inputs["position_ids"],
                            logits_to_keep=keep, use_cache=False)
            targets = inputs["labels"][0, keep + 1]
            loss = torch.nn.functional.cross_entropy(outputs.logits[0].float(), targets)
            return (loss, outputs) if return_outputs else loss

    return AnswerLossTrainer


# ---- model -------------------------------------------------------------------------------------------------

def resolve_compute_dtype(config: TrainConfig):
    """float32 on CPU; bfloat16 on GPUs that support it, else float16; or what the config names."""
    import torch

    if config.compute_dtype != "auto":
        return getattr(torch, config.compute_dtype)
    if not torch.cuda.is_available():
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_base_model(config: TrainConfig, model_path: str, dtype):
    """The base model: 4-bit NF4 (double quantisation optional) for QLoRA, full precision otherwise."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    # Updated weights (full, freeze) stay float32 (mixed precision computes in dtype); frozen bases can be
    # held in the compute dtype.
    kwargs: dict[str, Any] = {"dtype": torch.float32 if config.method in ("full", "freeze") else dtype}
    if config.method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=dtype)
        if torch.cuda.is_available():  # 4-bit weights are placed at load time, one copy per process
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    model.config.use_cache = False  # training never reuses a cache; a cache also hides packed sequences
    return model


def lora_config(config: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.target_modules, bias="none", task_type="CAUSAL_LM")


def prompt_learning_config(config: TrainConfig, model_path: str):
    """Prompt tuning: learned virtual tokens (started from a plain instruction); p-tuning: made by a small MLP."""
    from peft import PromptEncoderConfig, PromptTuningConfig, PromptTuningInit

    if config.method == "p_tuning":
        return PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens,
                                   encoder_hidden_size=128)
    return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=config.num_virtual_tokens,
                              prompt_tuning_init=PromptTuningInit.TEXT, tokenizer_name_or_path=model_path,
                              prompt_tuning_init_text="Answer the task exactly as the examples do.")


def prepare_model(config: TrainConfig, model, model_path: str):
    """Makes only what the method trains trainable: adapters (new, or the parent run's to continue), virtual
    tokens, the top layers, or everything."""
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.activation_checkpointing)
    if config.parent_run is not None:
        return PeftModel.from_pretrained(model, str(parent_adapter_dir(config.parent_run)), is_trainable=True)
    if config.method in ("qlora", "lora"):
        return get_peft_model(model, lora_config(config))
    if config.method in VIRTUAL_TOKEN_METHODS:
        return get_peft_model(model, prompt_learning_config(config, model_path))
    if config.method == "freeze":
        freeze_below_top_layers(model, config.train_top_layers)
    return model


def freeze_below_top_layers(model, top: int) -> None:
    """Layer freezing: only the top `top` decoder layers (and the final norm) learn; backward stops below them."""
    layers = model.get_decoder().layers
    if top > len(layers):
        raise UserError(f"train_top_layers={top} but the model has {len(layers)} layers; use 1-{len(layers)}")
    for parameter in model.parameters():
        parameter.requires_grad = False
    for module in (*layers[len(layers) - top:], model.get_decoder().norm):
        for parameter in module.parameters():
            parameter.requires_grad = True


def parent_adapter_dir(parent_run: Path) -> Path:
    adapter = Path(parent_run) / ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"parent run {parent_run} has no trained adapter (adapter/adapter_config.json); "
                        "continue from a finished LoRA/QLoRA run")
    return adapter


def training_args(config: TrainConfig, dtype, has_eval: bool):
    """transformers' TrainingArguments from our config: checkpoints under RUN/checkpoints, no hub, no bars."""
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(config.out_dir / CHECKPOINTS_DIR),
        num_train_epochs=config.epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        activation_checkpointing=config.activation_checkpointing,
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=KEEP_CHECKPOINTS,
        eval_strategy="steps" if has_eval else "no", eval_steps=config.save_steps, prediction_loss_only=True,
        logging_steps=config.logging_steps, include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False, seed=config.seed, report_to="none", disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every trainable weight is used; the search costs a graph walk
    )


# ---- progress ----------------------------------------------------------------------------------------------

def progress_callback(config: TrainConfig, details: dict):
    """A TrainerCallback that writes start/log/eval/checkpoint events to RUN/progress.jsonl (rank 0 only)."""
    from transformers import TrainerCallback

    run_dir = config.out_dir

    class ProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            details["start_step"] = state.global_step
            details["start_tokens"] = state.num_input_tokens_seen
            if state.is_world_process_zero:
                append_event(run_dir, "start", step=state.global_step, max_steps=state.max_steps,
                             epoch=state.epoch,
                             **{k: v for k, v in details.items() if not k.startswith("start_")})

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if not state.is_world_process_zero or "loss" not in logs:
                return
            append_event(run_dir, "log", step=state.global_step, max_steps=state.max_steps, epoch=state.epoch,
                         loss=logs["loss"], learning_rate=logs.get("learning_rate"),
                         grad_norm=logs.get("grad_norm"), tokens_seen=state.num_input_tokens_seen)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if state.is_world_process_zero:
                append_event(run_dir, "eval", step=state.global_step, max_steps=state.max_steps,
                             epoch=state.epoch, eval_loss=(metrics or {}).get("eval_loss"))

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                append_event(run_dir, "checkpoint", step=state.global_step, max_steps=state.max_steps,
                             epoch=state.epoch, path=str(path))

    return ProgressCallback()


# ---- checkpoints -------------------------------------------------------------------------------------------

def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """Newest RUN/checkpoints/checkpoint-N whose trainer_state.json (written last) is complete."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    candidates = sorted(folder.glob("checkpoint-*"), key=lambda p: _step_of(p), reverse=True)
    for checkpoint in candidates:
        try:
            state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # killed while saving: skip it, the one before is whole
        if state.get("global_step") == _step_of(checkpoint):
            return checkpoint
    return None


def _step_of(checkpoint: Path) -> int:
    suffix = checkpoint.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


# ---- failures ----------------------------------------------------------------------------------------------

def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    text = str(exc).lower()
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


def out_of_memory_advice(config: TrainConfig) -> str:
    """Which settings to lower, with values, largest saving first."""
    steps = []
    if config.batch_size > 1:
        steps.append(f"batch_size {config.batch_size} -> {max(1, config.batch_size // 2)} (raise grad_accum "
                     f"{config.grad_accum} -> {config.grad_accum * 2} to keep the effective batch)")
    if config.max_seq_len > 256:
        steps.append(f"max_seq_len {config.max_seq_len} -> {config.max_seq_len // 2}")
    if not config.gradient_checkpointing:
        steps.append("gradient_checkpointing off -> on")
    if config.lora_r is not None and config.lora_r > 4:
        steps.append(f"lora_r {config.lora_r} -> {config.lora_r // 2}")
    if config.method != "qlora" and has_gpu():  # on a CPU 4-bit weights are de-quantised at every step
        steps.append(f"method {config.method} -> qlora (4-bit base)")
    steps = steps or ["a smaller base model"]
    return "lower: " + "; ".join(steps)


def describe_failure(exc: BaseException, config: TrainConfig) -> str:
    """A plain message for the progress log: what happened and what to change."""
    if isinstance(exc, UserError):
        return exc.message
    if is_out_of_memory(exc):
        return (f"out of memory during training. {out_of_memory_advice(config)}. Then resume with --resume: "
                "the last saved checkpoint is kept")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (f"the disk is full while writing to {config.out_dir}; free space there (or delete old runs' "
                "checkpoints), then resume with --resume")
    return f"training failed: {type(exc).__name__}: {exc}"


# ---- the run -----------------------------------------------------------------------------------------------

def main(config: TrainConfig, resume: bool = False) -> dict:
    """Trains into config.out_dir and returns the metrics; a failure is logged as 'error', then raised."""
    try:
        metrics = _train(config, resume)
    except Exception as exc:
        if is_main_process():
            try:
                append_event(config.out_dir, "error", message=describe_failure(exc, config),
                             error_type=type(exc).__name__)
            except OSError:  # a full disk cannot take the report either; the launcher reports the exit
                pass
        raise
    close_process_group()  # only after success: a failed rank's peers may still wait in a collective
    return metrics


def close_process_group() -> None:
    """Ends torch.distributed while the interpreter is alive; left to exit, gloo's threads can abort (SIGABRT)."""
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _train(config: TrainConfig, resume: bool) -> dict:
    import datasets
    import torch

    from tools.training.inference import load_tokenizer

    datasets.disable_progress_bars()  # the log is a file; progress goes to progress.jsonl
    run_dir = config.out_dir
    checkpoint = last_complete_checkpoint(run_dir)
    if checkpoint and not resume:
        raise UserError(f"{run_dir} already holds checkpoints; resume with --resume, or choose a new "
                        "output folder")
    model_path = resolve_model_source(config.base_model)  # the built-in model is converted on first use
    tokenizer = load_tokenizer(model_path)  # a base model gets the project's chat template here
    train_rows = encode_dataset(read_training_samples(config.train_file), tokenizer, config.max_seq_len)
    eval_rows = (encode_dataset(read_training_samples(config.eval_file), tokenizer, config.max_seq_len)
                 if config.eval_file else None)
    dtype = resolve_compute_dtype(config)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    if device == "cpu" and config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    mode = loss_mode(tokenizer)
    details = {"device": device, "processes": int(os.environ.get("WORLD_SIZE", "1")), "method": config.method,
               "loss_mode": mode, "samples": len(train_rows), "base_model": config.base_model,
               "parent_run": str(config.parent_run) if config.parent_run else None,
               "resumed_from": str(checkpoint) if resume and checkpoint else None,
               "message": _start_message(device, config, tokenizer, resume, checkpoint)}

    model = prepare_model(config, load_base_model(config, model_path, dtype), model_path)
    packed = packs_batches(config.method, config.packing)
    trainer = answer_loss_trainer_class()(
        model=model, args=training_args(config, dtype, eval_rows is not None),
        train_dataset=datasets.Dataset.from_list(train_rows),
        eval_dataset=datasets.Dataset.from_list(eval_rows) if eval_rows else None,
        data_collator=PackedBatch() if packed else PaddedBatch(tokenizer.pad_token_id),
        processing_class=tokenizer, callbacks=[progress_callback(config, details)])
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if resume and checkpoint else None)
    runtime = time.monotonic() - started

    final_dir = run_dir / (ADAPTER_DIR if config.uses_adapters else MODEL_DIR)
    trainer.save_model(str(final_dir))  # PEFT: the adapter only; full/freeze: the whole model
    metrics = _run_metrics(trainer, result, details, runtime, eval_rows is not None)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(final_dir)  # with the chat template the model was trained on
        (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        append_event(run_dir, "done", step=metrics["steps"], max_steps=trainer.state.max_steps,
                     epoch=trainer.state.epoch, loss=metrics["train_loss"], output=str(final_dir),
                     metrics=metrics, message=f"finished; {'adapter' if config.uses_adapters else 'model'} "
                                              f"saved to {final_dir}")
    return metrics


def _start_message(device: str, config: TrainConfig, tokenizer, resume: bool, checkpoint: Path | None) -> str:
    notes = []
    if device == "cpu":
        notes.append("no GPU found: training on the CPU in float32, without activation checkpointing unless "
                     "asked (4-bit weights and bf16 are emulated on a CPU, and memory is plentiful)")
    notes.append(f"chat format: {template_name(tokenizer)}")
    if loss_mode(tokenizer) == "completion_only":
        notes.append("the chat template has no {% generation %} tags, so the loss is on the final answer "
                     "only; earlier turns in history are context, not trained")
    else:
        notes.append("loss on the answers only")
    if not eos_ends_assistant_turn(tokenizer):
        notes.append("warning: the chat template does not end answers with the EOS token "
                     f"{tokenizer.eos_token!r}; the tuned model may not stop generating")
    if config.parent_run:
        notes.append(f"continuing from the adapter of {config.parent_run}")
    if resume:
        notes.append(f"resuming from {checkpoint}" if checkpoint
                     else "no complete checkpoint found: starting at step 0")
    return "; ".join(notes)


def _run_metrics(trainer, result, details: dict, runtime: float, has_eval: bool) -> dict:
    state = trainer.state
    tokens = state.num_input_tokens_seen - details.get("start_tokens", 0)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    metrics = {
        "train_loss": result.training_loss, "steps": state.global_step, "epochs": state.epoch,
        "runtime_s": round(runtime, 2), "tokens": tokens,
        "tokens_per_s": round(tokens / max(runtime, 1e-9), 1),
        "device": details["device"], "processes": details["processes"], "method": details["method"],
        "loss_mode": details["loss_mode"], "samples": details["samples"], "trainable_params": trainable,
        "resumed_from_step": details.get("start_step") or None, "parent_run": details.get("parent_run"),
        "base_model": details.get("base_model"),
    }
    if has_eval:  # the trainer already evaluated at the last step
        metrics["eval_loss"] = next((log["eval_loss"] for log in reversed(state.log_history)
                                     if "eval_loss" in log), None)
    return metrics


def run_cli(argv: list[str] | None = None) -> int:
    """The subprocess entry: 0 done, 1 training failed (see progress.jsonl) or unusable data, 2 bad config."""
    parser = argparse.ArgumentParser(prog="python -m tools.training.train",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="RUN/config.json (or a YAML/JSON config file)")
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    try:
        main(config, resume=args.resume)
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # already recorded as an 'error' event; the traceback goes to train.log
        traceback.print_exc()
        print(f"error: {describe_failure(exc, config)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_cli())

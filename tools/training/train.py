"""The trainer entry point: `python -m tools.training.train --config RUN/config.json [--resume]`.

Alpaca rows become chat messages, the base model's own chat template renders them, TRL's SFTTrainer trains
LoRA adapters (on a 4-bit NF4 base for QLoRA) with the loss on the answers only, and progress goes to
RUN/progress.jsonl. Runs without the agent or the UI; the launcher starts it as a subprocess.
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

from tools.errors import UserError
from tools.training.config import TrainConfig, load_config
from tools.training.launch import append_event

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

def read_alpaca_file(path: Path) -> list:
    """The AlpacaSamples of a dataset file, read by the dataset tool's reader; any bad row stops the run."""
    from tools.dataset.readers import read_samples

    result = read_samples(path)
    if result.problems:
        shown = "; ".join(problem.describe() for problem in result.problems[:5])
        more = f" (and {len(result.problems) - 5} more)" if len(result.problems) > 5 else ""
        raise UserError(f"{path} has {len(result.problems)} unusable sample(s): {shown}{more}; fix or remove "
                        "them (`tunesmith dataset` checks a file) before training")
    if not result.samples:
        raise UserError(f"{path} has no samples; add training samples before training")
    return result.samples


def alpaca_to_messages(sample) -> list[dict[str, str]]:
    """system, the history turns, then user = instruction (+ blank line + input) and assistant = output."""
    messages = [{"role": "system", "content": sample.system}] if sample.system else []
    for question, answer in sample.history:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    messages += [{"role": "user", "content": sample.prompt_text()},
                 {"role": "assistant", "content": sample.output}]
    return messages


def has_generation_tags(tokenizer) -> bool:
    template = tokenizer.chat_template or ""
    return "{% generation %}" in template or "{%- generation %}" in template


def build_dataset(samples: list, tokenizer) -> tuple[Any, str]:
    """A datasets.Dataset in TRL's conversational format, and the loss mode it trains with.

    With {% generation %} tags in the chat template every assistant turn is trained (assistant-only loss);
    without them, prompt/completion format trains the final answer only (completion-only loss).
    """
    from datasets import Dataset

    if not tokenizer.chat_template:
        raise UserError("the base model's tokenizer has no chat template, so the tuned model would have no "
                        "chat format; choose an instruct/chat model (or a tokenizer with a chat template)")
    conversations = [alpaca_to_messages(s) for s in samples]
    if has_generation_tags(tokenizer):
        return Dataset.from_list([{"messages": m} for m in conversations]), "assistant_only"
    rows = [{"prompt": m[:-1], "completion": m[-1:]} for m in conversations]
    return Dataset.from_list(rows), "completion_only"


def eos_ends_assistant_turn(tokenizer) -> bool:
    """Whether the template closes an answer with the EOS token; otherwise the tuned model may never stop."""
    marker = "Zq7 answer"
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}], tokenize=False)
    return bool(tokenizer.eos_token) and tokenizer.eos_token in rendered.split(marker, 1)[-1]


# ---- model -------------------------------------------------------------------------------------------------

def check_base_model(name: str) -> str:
    """The local folder or cached hub id of the base model; UserError when it is not available offline."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"base model folder {path} has no config.json; give the folder that "
                            "from_pretrained/save_pretrained uses")
        return str(path.resolve())
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError):
        raise UserError(f"base model {name!r} was not found locally and the hub is unreachable from here; "
                        "download it first (e.g. `hf download <id>` on a connected machine) or give a local "
                        "model folder") from None
    return name


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

    # A full fine-tune updates every weight, so they stay float32 (mixed precision computes in dtype);
    # frozen LoRA/QLoRA bases can be held in the compute dtype.
    kwargs: dict[str, Any] = {"dtype": torch.float32 if config.method == "full" else dtype}
    if config.method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=config.double_quant,
            bnb_4bit_compute_dtype=dtype)
        if torch.cuda.is_available():  # 4-bit weights are placed at load time, one copy per process
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)


def lora_config(config: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.target_modules, bias="none", task_type="CAUSAL_LM")


def sft_config(config: TrainConfig, loss_mode: str, dtype, has_eval: bool):
    """TRL's SFTConfig from our config: checkpoints under RUN/checkpoints, no hub, no console bars."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(config.out_dir / CHECKPOINTS_DIR),
        num_train_epochs=config.epochs, max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps, max_length=config.max_seq_len, packing=config.packing,
        assistant_only_loss=loss_mode == "assistant_only",
        completion_only_loss=loss_mode == "completion_only",
        activation_checkpointing=config.gradient_checkpointing,
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=KEEP_CHECKPOINTS,
        eval_strategy="steps" if has_eval else "no", eval_steps=config.save_steps,
        logging_steps=config.logging_steps, include_num_input_tokens_seen="non_padding",
        seed=config.seed, report_to="none", disable_tqdm=True, use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every trainable (LoRA) weight is used; the search costs a graph walk
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
    if config.uses_adapters and config.lora_r > 4:
        steps.append(f"lora_r {config.lora_r} -> {config.lora_r // 2}")
    if config.method != "qlora":
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
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    datasets.disable_progress_bars()  # the log is a file; progress goes to progress.jsonl
    run_dir = config.out_dir
    checkpoint = last_complete_checkpoint(run_dir)
    if checkpoint and not resume:
        raise UserError(f"{run_dir} already holds checkpoints; resume with --resume, or choose a new "
                        "output folder")
    model_path = check_base_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    train_set, loss_mode = build_dataset(read_alpaca_file(config.train_file), tokenizer)
    eval_set = build_dataset(read_alpaca_file(config.eval_file), tokenizer)[0] if config.eval_file else None
    dtype = resolve_compute_dtype(config)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    details = {"device": device, "processes": int(os.environ.get("WORLD_SIZE", "1")), "method": config.method,
               "loss_mode": loss_mode, "samples": len(train_set),
               "resumed_from": str(checkpoint) if resume and checkpoint else None,
               "message": _start_message(device, loss_mode, tokenizer, resume, checkpoint)}

    model = load_base_model(config, model_path, dtype)
    trainer = SFTTrainer(
        model=model, args=sft_config(config, loss_mode, dtype, eval_set is not None),
        train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer,
        peft_config=lora_config(config) if config.uses_adapters else None,
        callbacks=[progress_callback(config, details)])
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if resume and checkpoint else None)
    runtime = time.monotonic() - started

    final_dir = run_dir / (ADAPTER_DIR if config.uses_adapters else MODEL_DIR)
    trainer.save_model(str(final_dir))  # PEFT: the adapter only; full: the whole model
    metrics = _run_metrics(trainer, result, details, runtime, eval_set is not None)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(final_dir)  # with the chat template the adapter was trained on
        (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        append_event(run_dir, "done", step=metrics["steps"], max_steps=trainer.state.max_steps,
                     epoch=trainer.state.epoch, loss=metrics["train_loss"], output=str(final_dir),
                     metrics=metrics, message=f"finished; {'adapter' if config.uses_adapters else 'model'} "
                                              f"saved to {final_dir}")
    return metrics


def _start_message(device: str, loss_mode: str, tokenizer, resume: bool, checkpoint: Path | None) -> str:
    notes = []
    if device == "cpu":
        notes.append("no GPU found: training on CPU, which is slow (fine for tiny models and smoke tests)")
    if loss_mode == "completion_only":
        notes.append("the chat template has no {% generation %} tags, so the loss is on the final answer "
                     "only (prompt/completion format); earlier turns in history are context, not trained")
    else:
        notes.append("loss on the assistant answers only")
    if not eos_ends_assistant_turn(tokenizer):
        notes.append("warning: the chat template does not end answers with the EOS token "
                     f"{tokenizer.eos_token!r}; the tuned model may not stop generating")
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
        "resumed_from_step": details.get("start_step") or None,
    }
    if has_eval:  # the trainer already evaluated at the last step
        metrics["eval_loss"] = next((log["eval_loss"] for log in reversed(state.log_history)
                                     if "eval_loss" in log), None)
    return metrics


def run_cli(argv: list[str] | None = None) -> int:
    """The subprocess entry: 0 done, 1 training failed (see progress.jsonl), 2 bad config or data."""
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

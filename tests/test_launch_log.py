"""The trainer's log as the person reads it (no library noise; the raw file keeps everything), and a finished
trainer reaped at once even when nobody holds its Popen (issue 18: one stayed a zombie of the app for 20 minutes)."""
from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

from agent.run_desk import RunDesk
from tools.training import launch, run_folder
from tools.training.config import TrainConfig

# What a CPU run of the built-in model really wrote to train.log (bitsandbytes looking for hub kernels, a
# FutureWarning with the source line `warnings` prints under it, progress bars redrawn with \r), around the
# lines that matter.
RAW_LOG = (
    "Loading weights:   0%|          | 0/236 [00:00<?, ?it/s]\rLoading weights: 100%|██████████| 236/236 "
    "[00:00<00:00, 21902.86it/s]\n"
    "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes' because Hugging Face Hub is "
    "in offline mode.\n"
    "Failed to load CPU gemm_4bit_forward from kernels-community: Version 1 of "
    "'kernels-community/quantization-bitsandbytes' is not available in the local cache and Hugging Face Hub is in "
    "offline mode. Please make sure you already `pip install kernels` and the kernels >= 0.11.1\n"
    "/work/main/.venv/lib/python3.11/site-packages/transformers/modeling_utils.py:3314: FutureWarning: "
    "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` "
    "instead.\n"
    "  warnings.warn(\n"
    "/x/site-packages/peft/tuners/lora/layer.py:12: DeprecationWarning: old argument\n"
    "  warnings.warn(\n"
    "{'loss': '2.723', 'grad_norm': '8.333', 'learning_rate': '0', 'epoch': '0.06667'}\n"
    "/x/site-packages/transformers/trainer.py:99: UserWarning: the tokenizer has no pad token\n"
    "Traceback (most recent call last):\n"
    "  File \"/x/train.py\", line 3, in <module>\n"
    "RuntimeError: boom\n"
)


def test_the_log_the_person_reads_has_no_library_noise_and_the_file_keeps_it(tmp_path):
    log = tmp_path / run_folder.LOG_FILE
    log.write_text(RAW_LOG, encoding="utf-8")
    shown = run_folder.tail_log(log, 15)
    for noise in ("kernels", "publisher trust", "FutureWarning", "DeprecationWarning", "warnings.warn(",
                  "\r", "0/236"):
        assert noise not in shown, noise
    assert shown.splitlines() == [
        "Loading weights: 100%|██████████| 236/236 [00:00<00:00, 21902.86it/s]",
        "{'loss': '2.723', 'grad_norm': '8.333', 'learning_rate': '0', 'epoch': '0.06667'}",
        "/x/site-packages/transformers/trainer.py:99: UserWarning: the tokenizer has no pad token",
        "Traceback (most recent call last):",
        '  File "/x/train.py", line 3, in <module>',  # an indented line that follows no noise is kept
        "RuntimeError: boom",
    ]
    assert run_folder.tail_log(log, 2).splitlines() == ['  File "/x/train.py", line 3, in <module>',
                                                        "RuntimeError: boom"]
    assert log.read_bytes() == RAW_LOG.encode("utf-8")  # the raw file is untouched
    assert run_folder.tail_log(tmp_path / "missing.log") == "(no log)"


def test_the_training_tab_shows_the_filtered_log(tmp_path):
    (tmp_path / run_folder.LOG_FILE).write_text(RAW_LOG, encoding="utf-8")
    shown = RunDesk.progress(str(tmp_path)).log_tail()  # what the Training tab's Log box displays
    assert "kernels" not in shown and "FutureWarning" not in shown and "RuntimeError: boom" in shown


def _state(pid: int) -> str | None:
    """The process state letter from /proc (Z = zombie), None once it is gone (reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _config(tmp_path) -> TrainConfig:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.json").write_text(json.dumps([{"instruction": "q", "output": "a"}] * 12), encoding="utf-8")
    return TrainConfig(base_model="gemma-3-270m", data_dir=data, out_dir=tmp_path / "run", batch_size=1,
                       grad_accum=1, epochs=1, learning_rate=1e-3, warmup_steps=0)


def test_a_finished_trainer_is_reaped_even_when_nobody_holds_its_process(tmp_path, monkeypatch):
    config = _config(tmp_path)
    # a trainer that ends at once; the app drops the handle as the agent's start_training node does
    monkeypatch.setattr(launch, "trainer_command", lambda *args, **kwargs: [sys.executable, "-c", "pass"])
    process = launch.start_training(config)
    pid = process.pid
    del process
    gc.collect()
    deadline = time.monotonic() + 20
    while _state(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _state(pid) is None, f"the finished trainer {pid} is still there (state {_state(pid)}): a zombie"


def test_a_held_trainer_still_reports_its_exit_status(tmp_path, monkeypatch):
    config = _config(tmp_path)
    slow_failure = "import time, sys; time.sleep(0.5); sys.exit(3)"
    monkeypatch.setattr(launch, "trainer_command", lambda *args, **kwargs: [sys.executable, "-c", slow_failure])
    process = launch.start_training(config)
    assert process.returncode is None  # still running: poll() does not block on the reaper
    assert process.wait(timeout=20) == 3 and process.returncode == 3
    events = list(process.follow(poll_s=0.05, timeout=5))  # exited without a report: said as an error
    assert events and events[-1]["event"] == "error" and "status 3" in events[-1]["message"]

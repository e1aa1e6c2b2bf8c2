"""What the Training tab reads and does around a run, beyond the conversation: its progress, the parameter
explanations, base-model suggestions, trying the tuned model and exporting it. Reached as `session.runs`."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tools.errors import UserError

if TYPE_CHECKING:
    from tools.training.run_folder import RunState

PARAMETERS = ("method", "lora_r", "lora_alpha", "learning_rate", "epochs", "max_steps", "batch_size", "grad_accum",
              "max_seq_len")


@dataclass(frozen=True)
class Parameter:
    """A setting the Training tab offers, as the config explains it."""

    name: str
    default: object
    why: str
    planned: bool  # left empty, the training plan fills it (tools/training/plan.py)
    integer: bool
    choices: tuple[str, ...] = ()  # a closed set (the methods)


@dataclass
class ExampleRun:
    """The built-in example project, run in a background thread of the server (a closed tab does not stop it)."""

    folder: Path
    lines: list[str] = field(default_factory=list)
    summary: dict | None = None
    error: str | None = None

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"

    @property
    def finished(self) -> bool:
        return self.summary is not None or self.error is not None


class RunDesk:
    PROBLEM = "**Problem:**"  # what the Training tab puts before a problem: a word, readable without an emoji font

    def __init__(self) -> None:
        self.example: ExampleRun | None = None

    def start_example(self, examples_root: Path) -> ExampleRun:
        """Starts the example (data, built-in model, training, base vs tuned) unless one is already running."""
        import threading

        from tools.training.example_cli import next_example_dir, run_example

        if self.example and not self.example.finished:
            return self.example
        example = ExampleRun(next_example_dir(examples_root))

        def work() -> None:
            try:
                example.summary = run_example(example.folder, say=example.lines.append)
            except UserError as exc:
                example.error = exc.message
            except Exception as exc:  # noqa: BLE001 - shown to the person instead of dying silently in a thread
                example.error = f"the example failed: {type(exc).__name__}: {exc}"

        self.example = example
        threading.Thread(target=work, name="tunesmith-example", daemon=True).start()
        return example

    @staticmethod
    def parameters() -> list[Parameter]:
        """Each setting the tab offers, from the explained config: the base model first."""
        from tools.training.config import TrainConfig
        from tools.training.methods import METHODS
        from tools.training.plan import PLANNED_FIELDS

        fields = TrainConfig.model_fields
        return [Parameter(name, fields[name].default, fields[name].description or "", name in PLANNED_FIELDS,
                          fields[name].annotation in (int, int | None), METHODS if name == "method" else ())
                for name in ("base_model", *PARAMETERS)]

    @staticmethod
    def signature(run_dir: str | None) -> list:
        """Sizes of the files the panel shows: equal signatures mean nothing to redraw."""
        from tools.training.run_folder import shown_sizes

        return [run_dir, *shown_sizes(run_dir)] if run_dir else [None]

    @staticmethod
    def progress(run_dir: str | None) -> RunState | None:
        """The run folder as the one reader reads it (status, progress, losses, log, evaluation); None: no run."""
        from tools.training.run_folder import read_run

        return read_run(run_dir) if run_dir else None

    @staticmethod
    def suggest_base_models(task: str, gpu_gb: float | None) -> str:
        """The built-in model first, then the ranked table: each with the exact id to type and whether it is here."""
        from tools.training.models import model_choices

        try:
            models = model_choices(task or "general", gpu_gb=gpu_gb or None)
        except UserError as exc:
            return f"{RunDesk.PROBLEM} {exc.message}"
        elsewhere = ("No GPU on this machine: the memory below is for QLoRA on a GPU elsewhere; here, the built-in "
                     "model trains with LoRA on the CPU.\n\n" if not gpu_gb and not RunDesk.gpu_here() else "")
        return elsewhere + "\n".join(f"- **{m['name']}** — {m['reason']}. Type `{m['use']}` ({m['status']}); licence: "
                         f"{m['licence']}" for m in models[:6])

    @staticmethod
    def gpu_here() -> bool:
        from tools.training.methods import has_gpu

        return has_gpu()

    @staticmethod
    def try_tuned(run_dir: str, prompt: str) -> str:
        from tools.training.inference import try_run

        try:
            answer, note = try_run(run_dir, prompt)
            answer = html.escape(answer)  # model output: <start_of_turn> shows as text, not swallowed as HTML
            return f"{answer}\n\n_{note}_" if note else answer
        except UserError as exc:
            return f"{RunDesk.PROBLEM} {exc.message}"

    @staticmethod
    def export(run_dir: str, merge: bool) -> tuple[str, list[str] | None]:
        """Writes the adapter (or the merged model) with a vLLM serve script; returns a note and the files."""
        from tools.training.export import export_run

        out = Path(run_dir) / ("export-merged" if merge else "export-adapter")
        try:
            written = export_run(run_dir, out, merge=merge)
        except UserError as exc:
            return f"{RunDesk.PROBLEM} {exc.message}", None
        serve = (out / "vllm_serve.sh").read_text(encoding="utf-8") if (out / "vllm_serve.sh").exists() else ""
        files = [p for p in written.values() if Path(p).is_file()]
        return f"Exported to `{out}`.\n\n```bash\n{serve.strip()}\n```", files

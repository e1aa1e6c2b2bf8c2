"""The in-process model cache is bounded: a model loaded earlier, or the example's, does not stay for the app's life.

Loading is stubbed (no model files, no download): what is checked is which loaded objects are still held.
"""
from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import pytest

from tools.training import inference
from tools.training.inference import RunArtifacts, load_tuned


class StubModel:
    """Stands in for a loaded causal LM (~1 GB in real life); weak-referenceable so a test can see it freed."""

    def eval(self):
        return self


@pytest.fixture
def loads(monkeypatch):
    """The model sources loaded, in order; every run folder is a LoRA-less run of its own base model."""
    loaded: list[str] = []

    def load_causal_lm(source, quantize=False, dtype="auto"):
        loaded.append(source)
        return StubModel()

    monkeypatch.setattr(inference, "resolve_run", lambda path: RunArtifacts(str(path), None, None, "lora"))
    monkeypatch.setattr(inference, "load_tokenizer", lambda source: SimpleNamespace(source=source))
    monkeypatch.setattr(inference, "load_causal_lm", load_causal_lm)
    inference.clear_cache()
    yield loaded
    inference.clear_cache()


def test_loading_another_model_frees_the_one_before(loads, tmp_path):
    first = weakref.ref(load_tuned(tmp_path / "a", quantize=False).model)
    second = load_tuned(tmp_path / "b", quantize=False)
    gc.collect()
    assert first() is None, "run a's model is still held by the cache after run b was loaded"
    assert load_tuned(tmp_path / "b", quantize=False) is second  # the last one used answers without reloading
    assert loads == [str(tmp_path / "a"), str(tmp_path / "b")]


def test_the_example_leaves_no_model_loaded(loads, tmp_path, monkeypatch):
    from tools.training import builtin, evaluate, launch, run_folder
    from tools.training.example_cli import run_example

    evaluated = []

    def fake_evaluate(run_dir, max_samples=50):
        evaluated.append(weakref.ref(load_tuned(run_dir, quantize=False).model))
        scores = {"exact_match": 0.0}
        return {"base": scores, "tuned": scores, "side_by_side": []}

    process = SimpleNamespace(follow=lambda: iter(()), wait=lambda: 0, log_path=tmp_path / "log")
    monkeypatch.setattr(builtin, "ensure_builtin_model", lambda say=None: tmp_path / "model")
    monkeypatch.setattr(launch, "start_training", lambda config: process)
    monkeypatch.setattr(run_folder, "read_run", lambda run_dir: SimpleNamespace(status="done"))
    monkeypatch.setattr(evaluate, "evaluate_run", fake_evaluate)

    run_example(tmp_path / "example", say=lambda line: None)
    gc.collect()
    assert len(evaluated) == 1 and evaluated[0]() is None, "the example's model stays loaded after its evaluation"

"""The training panel's once-a-second poll only reads, and redraws only when the run, the stage or the chat changed."""
from types import SimpleNamespace

from agent.run_desk import RunDesk
from agent.session import ConversationView
from ui.training_tab import TrainingTab


def test_the_run_signature_changes_only_with_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "progress.jsonl").write_text('{"event": "start", "step": 0}\n')
    tab = TrainingTab.__new__(TrainingTab)
    tab.runs = RunDesk()

    def signature(stage: str = "training", phase: str = "training", messages: int = 3) -> list:
        view = ConversationView("t", messages=[{"role": "assistant", "content": "x"}] * messages, stage=stage,
                                run_dir=str(run), run_phase=phase)
        return tab.run_signature(view)

    first = signature()
    assert signature() == first  # nothing new: the tick sends nothing
    with (run / "progress.jsonl").open("a") as progress:
        progress.write('{"event": "log", "step": 1, "loss": 2.0}\n')
    assert signature() != first
    second = signature()
    (run / "eval.json").write_text("{}")
    assert signature() != second
    assert signature(stage="done") != signature()
    assert signature(phase="evaluating") != signature()
    assert signature(messages=4) != signature()  # the watcher wrote to the chat: redraw it
    assert tab.run_signature(None) == {}


def test_a_tick_with_nothing_new_sends_gradios_skip_not_an_empty_dict(tmp_path):
    """An empty dict is read by Gradio as one value for all the panel's outputs: a ValueError every second."""
    import gradio as gr

    view = ConversationView("t", messages=[], stage="training")
    tab = TrainingTab.__new__(TrainingTab)
    tab.runs = RunDesk()
    tab.session = SimpleNamespace(view=lambda thread_id: view,
                                  studio=SimpleNamespace(versions=lambda thread_id: [{"name": "v001-file"}]))
    tab.chat_outputs_fn = lambda thread_id: {}
    tab.panel = {name: name for name in ("progress", "loss", "log", "verdict", "evaluation", "improve", "plan",
                                         "dataset", "parent", "shown")}
    first = tab.poll("t", None)
    assert first["dataset"]["value"] == "v001-file", "the newest version is preselected"
    assert tab.poll("t", first["shown"]) == gr.skip()


def test_base_model_suggestions_say_when_the_qlora_memory_is_for_a_gpu_elsewhere(monkeypatch):
    """Issue 18: "QLoRA … on one GPU" was said on a machine with none."""
    from tools.training import methods

    monkeypatch.setattr(methods, "has_gpu", lambda: False)
    said = RunDesk.suggest_base_models("classification", None)
    assert said.startswith("No GPU on this machine: the memory below is for QLoRA on a GPU elsewhere")
    assert not RunDesk.suggest_base_models("classification", 24).startswith("No GPU")  # the person named one

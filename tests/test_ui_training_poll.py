"""The training panel's once-a-second poll redraws only when the run's files or status changed."""
from ui.training_tab import TrainingTab


def test_the_run_signature_changes_only_with_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "progress.jsonl").write_text('{"event": "start", "step": 0}\n')

    def signature(stage: str = "training", status: str = "running") -> list:
        return TrainingTab.run_signature(str(run), stage, status)

    first = signature()
    assert signature() == first  # nothing new: the tick sends nothing
    with (run / "progress.jsonl").open("a") as progress:
        progress.write('{"event": "log", "step": 1, "loss": 2.0}\n')
    assert signature() != first
    second = signature()
    (run / "eval.json").write_text("{}")
    assert signature() != second
    assert signature(stage="evaluated") != signature()
    assert signature(status="done") != signature()
    assert TrainingTab.run_signature(None, None, None) == [None]

"""The training panel's once-a-second poll redraws only when the run's files or status changed."""
from ui.training_tab import TrainingTab


def test_the_run_signature_changes_only_with_the_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "progress.jsonl").write_text('{"event": "start", "step": 0}\n')
    first = TrainingTab.run_signature(str(run), "training")
    assert TrainingTab.run_signature(str(run), "training") == first  # nothing new: the tick sends nothing
    with (run / "progress.jsonl").open("a") as progress:
        progress.write('{"event": "log", "step": 1, "loss": 2.0}\n')
    assert TrainingTab.run_signature(str(run), "training") != first
    second = TrainingTab.run_signature(str(run), "training")
    (run / "eval.json").write_text("{}")
    assert TrainingTab.run_signature(str(run), "training") != second
    assert TrainingTab.run_signature(str(run), "evaluated") != TrainingTab.run_signature(str(run), "training")
    assert TrainingTab.run_signature(None, None) == [None]

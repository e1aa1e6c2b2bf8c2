"""What the person already had is never replaced (issue 20, class 1), and what a killed command left is cleared by
the next run (class 6): every command that writes where the person points refuses an existing file with a message
naming it (exit 2) unless --force, and writes through a temporary name moved into place at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.cli import main
from tools.dataset.build import build_dataset
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.store import ReviewStore
from tools.output_files import stage_path, write_new_file

ROWS = [{"instruction": f"Question {i} about topic {i * 17}", "input": "", "output": f"Answer {i}"} for i in range(12)]
MINE = "the person's own file\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.json").write_text(json.dumps(ROWS))
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "unexpected" not in out + err, out + err
    return code, out + err


def dead_pid() -> int:
    """The id of a process that has ended (what a killed command's temporary names carry)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("name", ["train.json", "eval.json", "train.jsonl", "eval.jsonl", "dataset_info.json",
                                  "report.json", "report.md"])
def test_dataset_build_never_replaces_a_file_already_in_out(folder, capsys, name):
    out = folder / "ds"
    out.mkdir()
    (out / name).write_text(MINE)
    code, said = run(capsys, "dataset", "build", folder / "rows.json", "--out", out)
    assert code == 2 and name in said and "--force" in said, said
    assert (out / name).read_text() == MINE and sorted(p.name for p in out.iterdir()) == [name]


def test_dataset_build_never_replaces_its_own_input(folder, capsys):
    out = folder / "ds"
    out.mkdir()
    (out / "train.json").write_text(json.dumps(ROWS))
    before = (out / "train.json").read_bytes()
    code, said = run(capsys, "dataset", "build", out / "train.json", "--out", out, "--format", "openai")
    assert code == 2 and "train.json" in said
    assert (out / "train.json").read_bytes() == before


def test_force_replaces_and_other_files_stay(folder, capsys):
    out = folder / "ds"
    out.mkdir()
    (out / "train.json").write_text(json.dumps(ROWS))
    (out / "notes.txt").write_text(MINE)
    code, said = run(capsys, "dataset", "build", out / "train.json", "--out", out, "--force", "--eval-fraction", "0")
    assert code == 0, said
    assert len(json.loads((out / "train.json").read_text())) == len(ROWS) and (out / "notes.txt").read_text() == MINE
    code, said = run(capsys, "dataset", "build", folder / "rows.json", "--out", out)  # its own earlier build too
    assert code == 2 and "already exist" in said


def test_build_into_a_folder_with_unrelated_files_keeps_them(folder, capsys):
    out = folder / "ds"
    out.mkdir()
    (out / "README").write_text(MINE)
    code, said = run(capsys, "dataset", "build", folder / "rows.json", "--out", out)
    assert code == 0, said
    assert (out / "README").read_text() == MINE and (out / "train.json").is_file() and (out / "report.md").is_file()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary folder left beside it


def test_generate_refuses_an_existing_out_before_asking_the_model(folder, capsys):
    (folder / "o.json").write_text(MINE)
    for out in (folder / "o.json", folder / "rows.json"):  # a file of theirs, and the seeds it reads
        before = out.read_bytes()
        code, said = run(capsys, "generate", "--task", "t", "--seeds", folder / "rows.json", "--out", out)
        assert code == 2 and out.name in said and "--force" in said, said
        assert out.read_bytes() == before
    code, said = run(capsys, "generate", "--task", "t", "--seeds", folder / "rows.json", "--out", folder / "o.json",
                     "--force")
    assert code == 1 and "No LLM endpoint" in said  # past the check: only the missing endpoint stops it


def test_write_new_file_never_replaces_a_file_that_appears_meanwhile(tmp_path):
    target = tmp_path / "batch.json"

    def write(path: Path) -> None:
        path.write_text("new")
        target.write_text(MINE)  # another program creates the file while the batch is written

    with pytest.raises(UserError, match="batch.json already exists"):
        write_new_file(target, write)
    assert target.read_text() == MINE and sorted(p.name for p in tmp_path.iterdir()) == ["batch.json"]


def test_studio_export_refuses_the_persons_files(folder, capsys):
    with ReviewStore(folder / "ws" / "tunesmith.db") as store:
        store.save_project("p1", "answer questions", [AlpacaSample(**ROWS[0])])
        batch = store.add_batch("p1", ROWS[1:6])
        for sample in store.batch_samples(batch.id):
            store.approve(sample.id)
    out = folder / "export"
    out.mkdir()
    (out / "train.json").write_text(MINE)
    code, said = run(capsys, "studio", "export", "p1", "--out", out)
    assert code == 2 and "train.json" in said and (out / "train.json").read_text() == MINE
    code, said = run(capsys, "studio", "export", "p1", "--out", out, "--force")
    assert code == 0 and json.loads((out / "train.json").read_text()), said


def test_train_refuses_an_out_folder_holding_files(folder, capsys):
    (folder / "data").mkdir()
    (folder / "data" / "train.json").write_text(json.dumps(ROWS))
    (folder / "run").mkdir()
    (folder / "run" / "config.json").write_text(MINE)
    code, said = run(capsys, "train", "--base-model", "gemma-3-270m", "--data", folder / "data", "--out",
                     folder / "run")
    assert code == 2 and "config.json" in said and "--force" in said, said
    assert (folder / "run" / "config.json").read_text() == MINE


def test_a_killed_builds_leftovers_are_cleared_by_the_next_build(folder, capsys):
    out = folder / "ds"
    pid = dead_pid()
    leftover = out.with_name(f".ds.tunesmith-partial-{pid}")  # the temporary folder of a build killed mid-way
    (leftover / ".rows-x").mkdir(parents=True)
    (leftover / ".rows-x" / "rows.jsonl").write_text("spooled rows\n")
    (leftover / "train.json").write_text("[]")
    alive = stage_path(out)  # this process's name: a build still running, left alone
    code, said = run(capsys, "dataset", "build", folder / "rows.json", "--out", out)
    assert code == 0, said
    assert not leftover.exists() and not alive.exists()
    assert sorted(p.name for p in out.iterdir()) == ["dataset_info.json", "eval.json", "report.json", "report.md",
                                                      "train.json"]


def test_a_build_that_fails_leaves_nothing_in_out(folder, capsys):
    (folder / "bad.json").write_text(json.dumps([{"instruction": "x", "output": ""}]))
    code, said = run(capsys, "dataset", "build", folder / "bad.json", "--out", folder / "ds")
    assert code == 1 and not (folder / "ds").exists(), said
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_killed_build_leaves_no_outputs_without_their_report(folder):
    """A real kill -9 part-way through a build: out never holds train/eval files without report.json."""
    big = folder / "big.jsonl"
    big.write_text("".join(json.dumps({"instruction": f"Q{i} {i * 7919} about {i % 97}", "output": f"A{i}"}) + "\n"
                           for i in range(10_000)))
    out = folder / "ds"
    process = subprocess.Popen([sys.executable, "-m", "tools.cli", "dataset", "build", str(big), "--out", str(out)],
                               cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    stage = out.with_name(f".ds.tunesmith-partial-{process.pid}")
    for _ in range(600):
        if stage.exists() or process.poll() is not None:
            break
        subprocess.run(["sleep", "0.05"], check=False)
    building = stage.exists() and process.poll() is None  # the kill must land in a build, or this proves nothing
    process.kill()
    process.wait()
    assert building, "the build was not caught half-way (it had not started, or had ended); nothing was tested"
    assert not out.exists() or (out / "report.json").is_file()
    assert build_dataset([big], out, force=True)["kept"] > 0
    assert not stage.exists()


def test_out_as_a_folder_a_link_or_a_new_nested_path(folder, capsys):
    code, said = run(capsys, "generate", "--task", "t", "--seeds", folder / "rows.json", "--out", folder)
    assert code == 2 and "is a folder" in said
    (folder / "real").mkdir()
    (folder / "link").symlink_to(folder / "real", target_is_directory=True)
    code, said = run(capsys, "dataset", "build", folder / "rows.json", "--out", folder / "link")
    assert code == 0 and (folder / "real" / "report.json").is_file() and (folder / "link").is_symlink(), said
    target = folder / "new" / "nested" / "batch.json"
    write_new_file(target, lambda path: path.write_text("[]"))
    assert target.read_text() == "[]"

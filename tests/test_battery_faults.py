"""Faults from the independent battery (issue 20): hangs and time budgets (class 4), two programs at once (class 5),
what a killed conversion leaves (class 6), link loops (class 7) and secrets (class 8). Each test is a family's new
member, not only the example the battery reported."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_stub import (
    Reply,
    openai_stub_fixture,  # noqa: F401  (the openai_stub fixture)
)

from tools.cli import main
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings, list_versions
from tools.errors import UserError
from tools.generation import store as store_module
from tools.generation.store import ReviewStore
from tools.redact import redact
from tools.training import builtin

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [{"instruction": "Which oil for a chain?", "output": "Chain oil."},
         {"instruction": "How hard should a road tyre be?", "output": "About 90 psi."}]
KEY = "sk-proj-Zx81LmQ0aBcDeFgHiJkLmNoPqRsTuV"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "TUNESMITH_LLM_TIMEOUT", "TUNESMITH_LLM_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "seeds.json").write_text(json.dumps(SEEDS))
    assert main(["studio", "new", "bikes", "--task", "Answer bike questions", "--seeds",
                 str(tmp_path / "seeds.json")]) == 0
    return tmp_path


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`tunesmith ARGV` in its own process, as a person in a second terminal would run it."""
    return subprocess.Popen([sys.executable, "-m", "tools.cli", *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def child_env(workspace: Path, **extra: str) -> dict[str, str]:
    import os

    return {**os.environ, "TUNESMITH_WORKSPACE": str(workspace / "ws"), **extra}


# ---- class 4: the announced time is kept; a busy database says so within its stated budget -------------------

@pytest.mark.parametrize(("timeout", "retries"), [("1", "1"), ("0.5", "2")])
def test_studio_generate_keeps_the_time_it_announces(workspace, openai_stub, monkeypatch, capsys, timeout, retries):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    monkeypatch.setenv("TUNESMITH_LLM_TIMEOUT", timeout)
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", retries)
    openai_stub.script(*[Reply.json({"samples": []}, delay_s=5.0) for _ in range(30)])  # never answers in time
    capsys.readouterr()
    start = time.monotonic()
    code = main(["studio", "generate", "bikes"])
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    announced = float(re.search(r"gives up after about (\d+) s", out).group(1))
    assert code == 1 and "Traceback" not in out + err
    assert elapsed < announced * 1.5 + 1.5, f"announced {announced} s, took {elapsed:.1f} s"


def test_a_held_database_is_busy_within_the_stated_budget(workspace, monkeypatch, capsys):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.3)
    other = sqlite3.connect(workspace / "ws" / "tunesmith.db", isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # another program holds the database: not even reads get through
    other.execute("UPDATE projects SET task = task")
    try:
        for argv in (["studio", "new", "bikes", "--task", "t", "--seeds", str(workspace / "seeds.json")],
                     ["studio", "status", "bikes"], ["studio", "notes", "bikes", "--add", "Be brief"]):
            capsys.readouterr()
            start = time.monotonic()
            code = main(argv)
            out, err = capsys.readouterr()
            assert code == 1 and "busy" in err and "waited" in err and "Traceback" not in out + err, out + err
            assert time.monotonic() - start < 0.3 * store_module.BUSY_TRIES + 2
    finally:
        other.execute("ROLLBACK")
        other.close()


# ---- class 5: two programs at once --------------------------------------------------------------------------

def test_two_studio_generates_at_once_open_one_batch(workspace, openai_stub):
    openai_stub.script(Reply.json({"samples": [{"instruction": f"What does part {i} of hub X{i * 31} do?",
                                                "output": f"Part {i} turns."} for i in range(3)]}, delay_s=2.0),
                       *[Reply.json({"samples": []}) for _ in range(10)])
    env = child_env(workspace, OPENAI_BASE_URL=openai_stub.base_url)
    first = cli("studio", "generate", "bikes", "--n", "3", env=env)
    deadline = time.monotonic() + 20
    while not openai_stub.requests and time.monotonic() < deadline:  # the first is waiting on the model
        time.sleep(0.05)
    second = cli("studio", "generate", "bikes", "--n", "3", env=env)
    second_out, second_err = second.communicate(timeout=60)
    first.communicate(timeout=60)
    assert second.returncode == 1 and "drafting a batch" in second_err and "Traceback" not in second_err
    with ReviewStore(workspace / "ws" / "tunesmith.db") as store:
        assert [b.status for b in store.batches("bikes")] == ["open"]


def test_the_store_refuses_a_second_open_batch(workspace):
    db = workspace / "ws" / "tunesmith.db"
    with ReviewStore(db) as app, ReviewStore(db) as terminal:
        app.add_batch("bikes", [AlpacaSample(instruction="Q1?", output="A1.")])
        with pytest.raises(UserError, match="already open"):
            terminal.add_batch("bikes", [AlpacaSample(instruction="Q2?", output="A2.")])
        assert len(app.batches("bikes")) == 1


def test_notes_added_at_once_are_all_kept(workspace):
    env = child_env(workspace)
    adders = [cli("studio", "notes", "bikes", "--add", f"Rule number {i}: mention part {i * 7}", env=env)
              for i in range(6)]
    for adder in adders:
        adder.communicate(timeout=120)
        assert adder.returncode == 0
    with ReviewStore(workspace / "ws" / "tunesmith.db") as store:
        assert sorted(store.notes("bikes")) == sorted(f"Rule number {i}: mention part {i * 7}" for i in range(6))


BUILD = """
import sys
from pathlib import Path
from tools.dataset.schema import AlpacaSample
from tools.dataset.versions import BuildSettings, build_version
rows = [AlpacaSample(instruction=f"Question {i} about part {i * 7919}", output=f"Answer {i}") for i in range(3000)]
print(build_version(rows, Path(sys.argv[1]), "file", BuildSettings())["version"]["name"])
"""


def test_two_versioned_builds_at_once_each_get_their_own_version(tmp_path):
    root = tmp_path / "datasets"
    builds = [subprocess.Popen([sys.executable, "-c", BUILD, str(root)], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE) for _ in range(2)]
    results = [build.communicate(timeout=180) for build in builds]
    assert [build.returncode for build in builds] == [0, 0], results
    assert sorted(out.strip() for out, _ in results) == ["v001-file", "v002-file"]
    assert [v["name"] for v in list_versions(root)] == ["v002-file", "v001-file"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_killed_version_build_leaves_nothing_the_next_keeps(tmp_path):
    from tools.dataset.versions import build_version

    root = tmp_path / "datasets"
    (root / ".v001-file.partial" / ".rows-x").mkdir(parents=True)  # killed mid-way
    (root / "..v002-reviewed.partial.tunesmith-partial-1" / ".rows-y").mkdir(parents=True)  # killed earlier on
    report = build_version([AlpacaSample(**SEEDS[0]), AlpacaSample(**SEEDS[1])], root, "file", BuildSettings())
    assert report["version"]["name"] == "v001-file" and sorted(p.name for p in root.iterdir()) == ["v001-file"]


# ---- class 6: a killed conversion of the built-in model -----------------------------------------------------

def test_a_killed_conversion_is_cleared_on_the_next_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNESMITH_MODEL_CACHE", str(tmp_path / "cache"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    target = builtin.builtin_model_dir()
    leftovers = [target.with_name(f".{target.name}.tunesmith-partial-{gone.pid}"),
                 target.with_name(f".{target.name}.partial-{gone.pid}")]  # the naming before
    for folder in leftovers:
        (folder / "model.gguf").parent.mkdir(parents=True)
        (folder / "model.gguf").write_bytes(b"half" * 1000)
    monkeypatch.setattr(builtin, "builtin_installed", lambda: False)  # stops right after the start's clean-up
    with pytest.raises(UserError, match="not installed"):
        builtin.ensure_builtin_model()
    assert not any(folder.exists() for folder in leftovers)


# ---- class 7: links that go round in a loop ------------------------------------------------------------------

def test_rag_index_indexes_the_rest_and_reports_link_loops(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "guide.md").write_text("# Chains\n\nOil the chain every 300 km.\n")
    (docs / "self.txt").symlink_to(docs / "self.txt")  # a link to itself
    (docs / "a.md").symlink_to(docs / "b.md")  # two links pointing at each other
    (docs / "b.md").symlink_to(docs / "a.md")
    (docs / "sub" / "round").symlink_to(docs / "sub" / "round", target_is_directory=True)
    (docs / "sub" / "up").symlink_to(docs, target_is_directory=True)  # a folder link back up: not a loop to walk
    code = main(["rag", "index", str(docs), "--name", "loops"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "unexpected" not in err
    assert code == 1 and f"indexed {docs / 'guide.md'}" in out  # indexed, with skips to report
    for name in ("self.txt", "a.md", "b.md", "sub/round"):
        assert f"skipped {docs / name}: a link loop" in err
    code = main(["rag", "index", str(docs / "self.txt"), "--name", "loops"])  # the loop named directly
    assert code == 2 and "a link loop" in capsys.readouterr().err


# ---- class 8: secrets ----------------------------------------------------------------------------------------

ECHOED = f"Incorrect API key provided: {KEY}. Also seen: sk-live-0123456789abcdefXYZ and hf_abcdefghijklmnopqrstu"


@pytest.mark.parametrize("reply", [Reply.error(400, ECHOED), Reply.error(401, ECHOED), Reply.error(403, ECHOED),
                                   Reply.error(500, ECHOED), Reply.text(ECHOED)],
                         ids=["400", "401", "403", "500", "200 text"])
def test_a_server_repeating_the_key_never_gets_it_printed(workspace, openai_stub, monkeypatch, capsys, reply):
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", "0")
    openai_stub.script(*[reply for _ in range(10)])
    capsys.readouterr()
    for argv in (["studio", "generate", "bikes", "--max-attempts", "2"],
                 ["generate", "--task", "t", "--seeds", str(workspace / "seeds.json"), "--out",
                  str(workspace / "batch.json"), "--max-attempts", "2"]):
        main(argv)
        out, err = capsys.readouterr()
        said = out + err
        assert KEY not in said and "sk-live-0123456789" not in said and "hf_abcdefghij" not in said, said
        assert KEY[8:20] not in said
    files = [p for p in workspace.rglob("*") if p.is_file()]
    assert not [p for p in files if KEY.encode() in p.read_bytes()]


def test_a_key_in_a_message_or_an_error_is_redacted(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "my-own-local-key-42")
    assert redact("key my-own-local-key-42 refused") == "key [redacted] refused"
    assert redact("Authorization: Bearer abc.def-123456") == "Authorization: Bearer [redacted]"
    assert redact('{"api_key": "s3cr3t-value"}') == '{"api_key": "[redacted]"}'
    assert redact("see run-12 and train.json") == "see run-12 and train.json"
    code = main(["dataset", "check", "/nowhere/my-own-local-key-42.json"])  # even in a path it echoes
    assert code == 2 and "my-own-local-key-42" not in capsys.readouterr().err

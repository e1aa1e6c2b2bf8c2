"""The bad-input battery: every `tunesmith` command given broken, hostile or absurd input ends in a message
(what, where, how to fix) and an exit status, never a traceback. Run in-process through tools.cli.main.

Exit statuses: 2 = usage (a wrong flag, path, permission or name; nothing was read), 1 = a file was read and
its content cannot be used (broken JSON/CSV/YAML, not UTF-8, too deep, wrong columns, empty), or the command ran
and found problems.
"""

from __future__ import annotations

import builtins
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.cli import main

DEPTH = 100_000  # far beyond Python's recursion limit: json.loads raises RecursionError
GOOD_ROW = {"instruction": "Say hi", "input": "", "output": "Hi!"}


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]  # {tmp} is the test folder; {long} a 600-character name
    exit: int
    words: tuple[str, ...]  # each must appear in the output (case-insensitive)
    deny: str | None = None  # a file under {tmp} that reading raises PermissionError for (we run as root)
    env: tuple[tuple[str, str], ...] = ()


def _files(tmp: Path) -> None:
    deep = "[" * DEPTH + "]" * DEPTH
    (tmp / "deep.json").write_text(deep)
    (tmp / "deep.jsonl").write_text(json.dumps(GOOD_ROW) + "\n" + deep + "\n")
    (tmp / "deep_profile.json").write_text('{"labeled_data": ' + deep + "}")
    (tmp / "deep_notes.json").write_text(deep)
    (tmp / "deep_config.json").write_text('{"lora_r": ' + deep + "}")
    (tmp / "good.json").write_text(json.dumps([GOOD_ROW, {**GOOD_ROW, "instruction": "Say bye", "output": "Bye"}]))
    (tmp / "profile.json").write_text("{}")
    (tmp / "latin1.yaml").write_bytes("learning_rate: 2e-4\n# r\xe9glage\n".encode("latin-1"))
    (tmp / "latin1.json").write_bytes('{"task_diversity": "caf\xe9"}'.encode("latin-1"))
    (tmp / "nan.json").write_text('{"learning_rate": NaN}')
    (tmp / "absurd.yaml").write_text("epochs: 3000\nlora_r: 100000\n")
    (tmp / "afile").write_text("I am a file, not a folder\n")
    (tmp / "data").mkdir()
    (tmp / "data" / "train.json").write_text(json.dumps([GOOD_ROW]))
    (tmp / "docs").mkdir()
    (tmp / "docs" / "deep.json").write_text(deep)
    (tmp / "secret.txt").write_text("top secret")
    (tmp / "ws").mkdir()
    (tmp / "broken.json").write_text('{"task_diversity": ')
    (tmp / "wrong_field.json").write_text('{"task_diversity": "wide"}')
    (tmp / "notes.json").write_text('{"not": "a list"}')
    (tmp / "latin1.txt").write_bytes("r\xe9sum\xe9 of the policy\n".encode("latin-1"))
    (tmp / "empty.txt").write_text("")
    (tmp / "empty.json").write_text("")
    (tmp / "doc.pdf").write_bytes(b"%PDF-1.4")
    (tmp / "columns.csv").write_text("question,reply\nhi,hello\n")
    (tmp / "broken.yaml").write_text("epochs: [1, 2\n")
    (tmp / "list.yaml").write_text("- epochs\n- 2\n")
    (tmp / "good.yaml").write_text("epochs: 2\n")
    (tmp / "badrun").mkdir()
    (tmp / "badrun" / "config.json").write_text("{not json")
    (tmp / "donerun" / "adapter").mkdir(parents=True)  # a finished LoRA run, as far as resolving it goes
    (tmp / "donerun" / "config.json").write_text('{"base_model": "gemma-3-270m", "method": "lora"}')
    (tmp / "donerun" / "adapter" / "adapter_config.json").write_text("{}")
    (tmp / "no_output.json").write_text(json.dumps([{"instruction": "Say hi", "input": ""}]))


T = "{tmp}"
TRAIN = ["train", "--base-model", f"{T}/model", "--data", f"{T}/data", "--out", f"{T}/run"]
PREFLIGHT = ["preflight", "--base-model", f"{T}/model", "--data", f"{T}/data"]
DEEP = ("nested too deeply",)
CASES = [
    # advise / ask: the profile file
    Case("advise deep profile", ["advise", "--profile", f"{T}/deep_profile.json"], 1, DEEP + ("deep_profile.json",)),
    Case("advise unreadable profile", ["advise", "--profile", f"{T}/profile.json"], 2, ("permission",),
         deny="profile.json"),
    Case("advise non-UTF-8 profile", ["advise", "--profile", f"{T}/latin1.json"], 1, ("utf-8",)),
    Case("advise broken JSON profile", ["advise", "--profile", f"{T}/broken.json"], 1, ("not valid JSON",)),
    Case("advise unknown value in profile", ["advise", "--profile", f"{T}/wrong_field.json"], 1,
         ("task_diversity", "allowed values")),
    Case("advise profile is a folder", ["advise", "--profile", f"{T}/docs"], 2, ("docs", "directory")),
    Case("ask deep profile", ["ask", "what is LoRA?", "--profile", f"{T}/deep_profile.json"], 1, DEEP),
    # dataset check / build
    # READERS: the message and status come from tools/dataset/readers.py (its whole-file errors exit 1)
    Case("check deep JSON array", ["dataset", "check", f"{T}/deep.json"], 1, DEEP + ("deep.json",)),  # READERS
    Case("check deep JSONL line", ["dataset", "check", f"{T}/deep.jsonl"], 1, DEEP + ("row 2",)),
    Case("check broken JSON", ["dataset", "check", f"{T}/broken.json"], 1, ("broken.json",)),  # READERS
    Case("check non-UTF-8 file", ["dataset", "check", f"{T}/latin1.txt"], 1, ("utf-8",)),  # READERS
    Case("check empty file", ["dataset", "check", f"{T}/empty.json"], 1, ("empty",)),  # READERS
    Case("check wrong CSV columns", ["dataset", "check", f"{T}/columns.csv"], 1, ("instruction",)),  # READERS
    Case("check unreadable file", ["dataset", "check", f"{T}/good.json"], 2, ("permission", "good.json"),
         deny="good.json"),
    Case("check a folder", ["dataset", "check", f"{T}/docs"], 2, ("is a folder",)),
    Case("build deep JSON", ["dataset", "build", f"{T}/deep.json", "--out", f"{T}/ds"], 1, DEEP),  # READERS
    Case("build unreadable input", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/ds"], 2,
         ("permission", "good.json"), deny="good.json"),
    Case("build --out is a file", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/afile"], 2,
         ("afile", "not a folder")),
    Case("build --out inside a file", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/afile/ds"], 2,
         ("afile", "is a file, not a folder")),
    Case("build NaN eval fraction", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/ds", "--eval-fraction",
                                     "nan"], 2, ("eval",)),
    # generate and the studio
    Case("generate deep seeds", ["generate", "--task", "t", "--seeds", f"{T}/deep.json", "--out", f"{T}/o.json"], 1,
         DEEP),  # READERS
    Case("generate deep notes", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--notes",
                                 f"{T}/deep_notes.json", "--out", f"{T}/o.json"], 1, DEEP + ("deep_notes.json",)),
    Case("generate notes not a list", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--notes",
                                       f"{T}/notes.json", "--out", f"{T}/o.json"], 1, ("list of strings",)),
    Case("generate non-UTF-8 notes", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--notes",
                                      f"{T}/latin1.txt", "--out", f"{T}/o.json"], 1, ("utf-8", "latin1.txt")),
    Case("generate unreadable seeds", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--out",
                                       f"{T}/o.json"], 2, ("permission",), deny="good.json"),
    Case("studio new deep seeds", ["studio", "new", "p1", "--task", "t", "--seeds", f"{T}/deep.json"], 1,
         DEEP),  # READERS
    Case("studio new bad name", ["studio", "new", "no way!", "--task", "t", "--seeds", f"{T}/good.json"], 2,
         ("invalid project name",)),
    Case("studio new long name", ["studio", "new", "{long}", "--task", "t", "--seeds", f"{T}/good.json"], 2,
         ("invalid project name",)),
    Case("studio generate unknown", ["studio", "generate", "nope"], 2, ("no project", "studio new")),
    Case("studio review unknown", ["studio", "review", "nope"], 2, ("no project",)),
    Case("studio notes unknown", ["studio", "notes", "nope", "--add", "x"], 2, ("no project",)),
    Case("studio status unknown", ["studio", "status", "nope"], 2, ("no project",)),
    Case("studio export unknown", ["studio", "export", "nope", "--out", f"{T}/ds"], 2, ("no project",)),
    Case("studio list, workspace is a file", ["studio", "list"], 2, ("afile", "not a folder"),
         env=(("TUNESMITH_WORKSPACE", f"{T}/afile"),)),
    Case("studio list, database is garbage", ["studio", "list"], 1, ("tunesmith.db", "database"),
         env=(("TUNESMITH_WORKSPACE", f"{T}/garbage-ws"),)),
    # estimate / models
    Case("estimate bad size", ["estimate", "--params", "seven"], 2, ("model size", "7B")),
    Case("estimate NaN size", ["estimate", "--params", "nan"], 2, ("model size",)),
    Case("estimate negative seq len", ["estimate", "--params", "7B", "--seq-len", "-5"], 2, ("seq",)),
    Case("models NaN GPU", ["models", "--gpu-gb", "nan"], 2, ("--gpu-gb nan", "not a finite number")),
    # preflight / train: the config is validated before anything launches
    Case("preflight non-UTF-8 config", [*PREFLIGHT, "--config", f"{T}/latin1.yaml"], 1, ("utf-8", "latin1.yaml")),
    Case("preflight deep config", [*PREFLIGHT, "--config", f"{T}/deep_config.json"], 1,
         DEEP + ("deep_config.json",)),
    Case("preflight NaN learning rate", [*PREFLIGHT, "--config", f"{T}/nan.json"], 1,
         ("learning_rate", "not a finite number")),
    Case("preflight unreadable config", [*PREFLIGHT, "--config", f"{T}/nan.json"], 2, ("permission",),
         deny="nan.json"),
    Case("train NaN learning rate flag", [*TRAIN, "--lr", "nan"], 2, ("--lr nan", "not a finite number")),
    Case("train NaN learning rate config", [*TRAIN, "--config", f"{T}/nan.json"], 1,
         ("learning_rate", "not a finite number")),
    Case("train infinite epochs", [*TRAIN, "--epochs", "inf"], 2, ("epochs", "not a finite number")),
    Case("train absurd config", [*TRAIN, "--config", f"{T}/absurd.yaml"], 1, ("epochs", "lora_r", "absurdly large")),
    Case("train non-UTF-8 config", [*TRAIN, "--config", f"{T}/latin1.yaml"], 1, ("utf-8",)),
    Case("train zero batch", [*TRAIN, "--batch-size", "0"], 2, ("batch_size",)),
    Case("train zero batch over a good config", [*TRAIN, "--config", f"{T}/good.yaml", "--batch-size", "0"], 2,
         ("batch_size",)),  # the flag is wrong, not the file
    Case("train broken YAML config", [*TRAIN, "--config", f"{T}/broken.yaml"], 1, ("not valid YAML", "broken.yaml")),
    Case("train config not a mapping", [*TRAIN, "--config", f"{T}/list.yaml"], 1, ("setting names to values",)),
    # chat / evaluate / export
    Case("chat unknown run", ["chat", "--run", f"{T}/norun", "hello"], 2, ("norun",)),
    Case("evaluate unknown run", ["evaluate", "--run", f"{T}/norun"], 2, ("norun",)),
    Case("chat run with broken config.json", ["chat", "--run", f"{T}/badrun", "hello"], 1,
         ("config.json", "cannot read")),
    Case("evaluate on unusable rows", ["evaluate", "--run", f"{T}/donerun", "--eval", f"{T}/no_output.json"], 1,
         ("no_output.json", "invalid rows")),
    Case("export unknown run", ["export", "--run", f"{T}/norun", "--out", f"{T}/exp"], 2, ("norun",)),
    # rag
    Case("rag index long name", ["rag", "index", f"{T}/docs", "--name", "{long}"], 2, ("at most 100 characters",)),
    Case("rag ask long name", ["rag", "ask", "q", "--name", "{long}"], 2, ("at most 100 characters",)),
    Case("rag index deep JSON", ["rag", "index", f"{T}/docs/deep.json", "--name", "n"], 1,
         DEEP + ("no document was indexed",)),
    Case("rag index non-UTF-8 document", ["rag", "index", f"{T}/latin1.txt", "--name", "n"], 1,
         ("utf-8", "no document was indexed")),
    Case("rag index empty document", ["rag", "index", f"{T}/empty.txt", "--name", "n"], 1, ("no text",)),
    Case("rag index a PDF", ["rag", "index", f"{T}/doc.pdf", "--name", "n"], 2, ("pdftotext",)),
    Case("rag index unreadable", ["rag", "index", f"{T}/secret.txt", "--name", "n"], 2, ("permission",),
         deny="secret.txt"),
    Case("rag index zero chunks", ["rag", "index", f"{T}/docs", "--name", "n", "--max-chunks", "0"], 2,
         ("--max-chunks",)),
    # ui (settings are checked before the app starts)
    Case("ui bad port", ["ui", "--port", "99999"], 2, ("port",)),
    Case("ui workspace is a file", ["ui", "--workspace", f"{T}/afile", "--port", "1"], 2, ("afile", "not a folder")),
    # argparse itself: unknown flags and missing arguments
    Case("unknown command", ["frobnicate"], 2, ("invalid choice",)),
    Case("missing argument", ["dataset", "build"], 2, ("required",)),
]


@pytest.fixture
def battery_dir(tmp_path, monkeypatch):
    _files(tmp_path)
    (tmp_path / "garbage-ws").mkdir()
    (tmp_path / "garbage-ws" / "tunesmith.db").write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def deny_reading(monkeypatch, path: Path) -> None:
    """Opening path raises PermissionError, as for a file without read permission (chmod has no effect as root)."""
    real_open = io.open
    denied = os.path.abspath(path)

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(builtins, "open", guarded_open)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_ends_in_a_message(case, battery_dir, monkeypatch, capsys):
    for key, value in case.env:
        monkeypatch.setenv(key, value.format(tmp=battery_dir))
    if case.deny:
        deny_reading(monkeypatch, battery_dir / case.deny)
    argv = [arg.format(tmp=battery_dir, long="x" * 600) for arg in case.argv]
    code = main(argv)
    out, err = capsys.readouterr()
    err = out + err  # `dataset check` lists problems on stdout
    assert "Traceback" not in err and "unexpected" not in err, err
    assert code == case.exit, f"exit {code}, expected {case.exit}: {err}"
    for word in case.words:
        assert word.lower() in err.lower(), f"{word!r} not in: {err}"

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
    _battery_files(tmp)


HUGE = "9" * 5000  # beyond Python's int-to-text limit (4300 digits): json.loads and int() refuse it
OBJ = '{"instruction": "Say hi", "input": "", "output": %s}'


def _battery_files(tmp: Path) -> None:
    """Files of the independent battery's families (issue 20): huge numbers, non-finite numbers, odd text."""
    (tmp / "huge_int.json").write_text("[" + OBJ % HUGE + "]")
    (tmp / "huge_int.jsonl").write_text(OBJ % HUGE + "\n")
    (tmp / "huge_profile.json").write_text('{"labeled_data": ' + HUGE + "}")
    (tmp / "huge_notes.json").write_text("[" + HUGE + "]")
    (tmp / "huge_config.json").write_text('{"lora_r": ' + HUGE + "}")
    (tmp / "huge_config.yaml").write_text("epochs: " + HUGE + "\n")
    (tmp / "big_config.yaml").write_text("lora_r: " + "9" * 400 + "\n")  # parses, but overflows a float
    (tmp / "docs_huge").mkdir()
    (tmp / "docs_huge" / "n.json").write_text('{"n": ' + HUGE + "}")
    (tmp / "nan_row.json").write_text("[" + OBJ % "NaN" + "]")
    (tmp / "inf_row.jsonl").write_text(OBJ % "Infinity" + "\n")
    (tmp / "neg_inf_row.json").write_text("[" + OBJ % "-Infinity" + "]")
    (tmp / "huge_float.json").write_text("[" + OBJ % "1e999" + "]")
    (tmp / "empty_array.json").write_text("[]")
    (tmp / "scalar.json").write_text("42")
    (tmp / "null.json").write_text("null")
    (tmp / "numbers.json").write_text("[1, 2, 3]")
    (tmp / "wrong_keys.json").write_text(json.dumps([{"question": "hi", "answer": "hello"}]))
    (tmp / "deep_object.json").write_text('{"a": ' * DEPTH + "1" + "}" * DEPTH)
    (tmp / "broken.csv").write_text('instruction,input,output\n"unclosed,hi,there\n')
    (tmp / "surrogate.json").write_text("[" + OBJ % '"half \\ud800 of a pair"' + "]")
    (tmp / "surrogate_seed.jsonl").write_text('{"instruction": "\\udfff hi", "input": "", "output": "x"}\n')
    (tmp / "nul.json").write_text("[" + OBJ % '"a\\u0000b\\u0007c"' + "]")
    (tmp / "nul_seeds.jsonl").write_text('{"instruction": "a\\u0000b", "input": "\\u001b[31m", "output": "c\\u0007"}\n')
    (tmp / "surrogate_profile.json").write_text('{"task_diversity": "\\ud800"}')
    (tmp / "nul_profile.json").write_text('{"task_diversity": "narrow\\u0000"}')
    (tmp / "nul_config.yaml").write_bytes(b"epochs: 2\x00\n")
    (tmp / "surrogate_config.json").write_text('{"method": "\\udc80"}')
    (tmp / "docs_nul").mkdir()
    (tmp / "docs_nul" / "n.txt").write_text("text with a \x00 NUL byte\n")
    (tmp / "we\udcffird.json").write_text(json.dumps([GOOD_ROW]))  # a name that is not UTF-8 (byte 0xff)
    (tmp / "docs_surrogate").mkdir()
    (tmp / "docs_surrogate" / "s.json").write_text('{"t": "\\ud800"}')
    (tmp / "garbage.env").write_bytes(bytes(range(256)) * 4)
    (tmp / "port.env").write_text("TUNESMITH_PORT=http\n")
    (tmp / "latin1.env").write_bytes("OPENAI_API_KEY=caf\xe9\n".encode("latin-1"))


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
    # issue 20, class 2: huge integers, non-finite and odd text never end in "a bug in Tunesmith"
    Case("check huge integer", ["dataset", "check", f"{T}/huge_int.json"], 1, ("huge_int.json", "digits")),
    Case("check huge integer JSONL", ["dataset", "check", f"{T}/huge_int.jsonl"], 1, ("digits",)),
    Case("build huge integer", ["dataset", "build", f"{T}/huge_int.json", "--out", f"{T}/ds"], 1, ("digits",)),
    Case("advise huge integer profile", ["advise", "--profile", f"{T}/huge_profile.json"], 1,
         ("huge_profile.json", "digits")),
    Case("generate huge integer notes", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--notes",
                                         f"{T}/huge_notes.json", "--out", f"{T}/o.json"], 1, ("huge_notes.json",)),
    Case("studio new huge integer seeds", ["studio", "new", "p1", "--task", "t", "--seeds", f"{T}/huge_int.json"], 1,
         ("digits",)),
    Case("preflight huge integer JSON config", [*PREFLIGHT, "--config", f"{T}/huge_config.json"], 1,
         ("huge_config.json",)),
    Case("train huge integer YAML config", [*TRAIN, "--config", f"{T}/huge_config.yaml"], 1, ("huge_config.yaml",)),
    Case("train 400-digit config value", [*TRAIN, "--config", f"{T}/big_config.yaml"], 1,
         ("big_config.yaml", "too large")),
    Case("rag index huge integer", ["rag", "index", f"{T}/docs_huge", "--name", "n"], 1, ("digits",)),
    Case("check lone surrogate", ["dataset", "check", f"{T}/surrogate.json"], 1, ("surrogate",)),
    Case("build lone surrogate", ["dataset", "build", f"{T}/surrogate.json", "--out", f"{T}/ds"], 1,
         ("surrogate",)),
    Case("studio new lone surrogate seed", ["studio", "new", "p1", "--task", "t", "--seeds",
                                            f"{T}/surrogate_seed.jsonl"], 1, ("surrogate",)),
    Case("studio new lone surrogate task", ["studio", "new", "p1", "--task", "bad \udcff", "--seeds",
                                            f"{T}/good.json"], 2, ("--task",)),
    Case("studio new NUL in task", ["studio", "new", "p1", "--task", "a\x00b", "--seeds", f"{T}/good.json"], 2,
         ("--task",)),
    Case("rag index lone surrogate", ["rag", "index", f"{T}/docs_surrogate", "--name", "n"], 1, ("surrogate",)),
    Case("build NUL and control characters", ["dataset", "build", f"{T}/nul.json", "--out", f"{T}/ds"], 0, ("kept 1",)),
    Case("studio new NUL in seeds", ["studio", "new", "p1", "--task", "t", "--seeds", f"{T}/nul_seeds.jsonl"], 0,
         ("created",)),
    Case("advise lone surrogate in profile", ["advise", "--profile", f"{T}/surrogate_profile.json"], 1,
         ("task_diversity",)),
    Case("advise NUL in profile", ["advise", "--profile", f"{T}/nul_profile.json"], 1, ("task_diversity",)),
    Case("train NUL in YAML config", [*TRAIN, "--config", f"{T}/nul_config.yaml"], 1, ("nul_config.yaml",)),
    Case("train lone surrogate in config", [*TRAIN, "--config", f"{T}/surrogate_config.json"], 1, ("method",)),
    Case("rag index NUL in a document", ["rag", "index", f"{T}/docs_nul", "--name", "n"], 1, ("NUL",)),
    Case("check a name that is not UTF-8", ["dataset", "check", f"{T}/we\udcffird.json"], 0, ("1 valid",)),
    Case("build a name that is not UTF-8", ["dataset", "build", f"{T}/we\udcffird.json", "--out", f"{T}/ds"], 0,
         ("kept 1",)),
    Case("build --out a new name that is not UTF-8", ["dataset", "build", f"{T}/good.json", "--out",
                                                      f"{T}/d\udcffs"], 2, ("--out",)),
    Case("studio new seeds named in non-UTF-8", ["studio", "new", "p1", "--task", "t", "--seeds",
                                                 f"{T}/we\udcffird.json"], 0, ("created",)),
    Case("check NUL in a path", ["dataset", "check", f"{T}/a\x00b.json"], 2, ("NUL",)),
    Case("build NUL in --out", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/o\x00ut"], 2, ("NUL",)),
    Case("studio new huge target", ["studio", "new", "p1", "--task", "t", "--seeds", f"{T}/good.json", "--target",
                                    "9" * 30], 2, ("--target",)),
    Case("studio new zero target", ["studio", "new", "p1", "--task", "t", "--seeds", f"{T}/good.json", "--target",
                                    "0"], 2, ("--target",)),
    Case("generate huge n", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--out", f"{T}/o.json", "--n",
                             "9" * 25], 2, ("--n",)),
    Case("generate zero attempts", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--out", f"{T}/o.json",
                                    "--max-attempts", "0"], 2, ("--max-attempts",)),
    Case("build huge seed", ["dataset", "build", f"{T}/good.json", "--out", f"{T}/ds", "--seed", "9" * 40], 2,
         ("--seed",)),
    Case("estimate huge seq len", ["estimate", "--params", "7B", "--seq-len", "9" * 400], 2, ("--seq-len",)),
    Case("rag index huge max chunks", ["rag", "index", f"{T}/docs", "--name", "n", "--max-chunks", "9" * 30], 2,
         ("--max-chunks",)),
    *(Case(f"LLM timeout {value}", ["studio", "list"], 2, ("TUNESMITH_LLM_TIMEOUT",),
           env=(("TUNESMITH_LLM_TIMEOUT", value),)) for value in ("0", "nan", "inf", "-5", "1e-300", "abc")),
    *(Case(f"LLM retries {value}", ["studio", "list"], 2, ("TUNESMITH_LLM_RETRIES",),
           env=(("TUNESMITH_LLM_RETRIES", value),)) for value in ("-1", "9" * 30, "1.5")),
    *(Case(f"{name} empty", ["studio", "list"], 2, (name,), env=((name, " "),))
      for name in ("TUNESMITH_WORKSPACE", "TUNESMITH_CHAT_MODEL")),
    *(Case(f"OPENAI_BASE_URL {url!r}", ["studio", "list"], 2, ("OPENAI_BASE_URL",), env=(("OPENAI_BASE_URL", url),))
      for url in ("localhost:11434", "ftp://x", "http://")),
    Case("port in the environment is text", ["studio", "list"], 2, ("TUNESMITH_PORT",),
         env=(("TUNESMITH_PORT", "http"),)),
    # issue 20, class 3: a file read whose content cannot be used is 1; usage is 2
    *(Case(f"check {name}", ["dataset", "check", f"{T}/{name}"], 1, words)
      for name, words in (("nan_row.json", ("not a finite number",)), ("inf_row.jsonl", ("not a finite number",)),
                          ("neg_inf_row.json", ("not a finite number",)),
                          ("huge_float.json", ("not a finite number",)), ("empty_array.json", ("no rows",)))),
    *(Case(f"build {name}", ["dataset", "build", f"{T}/{name}", "--out", f"{T}/ds"], 1, (name,))
      for name in ("broken.csv", "columns.csv", "wrong_keys.json", "scalar.json", "null.json", "empty_array.json",
                   "numbers.json", "deep_object.json", "nan_row.json", "huge_float.json", "empty.json")),
    Case("build empty --out", ["dataset", "build", f"{T}/good.json", "--out", ""], 2, ("--out",)),
    Case("generate empty --out", ["generate", "--task", "t", "--seeds", f"{T}/good.json", "--out", ""], 2,
         ("--out",)),
    Case("studio export empty --out", ["studio", "export", "nope", "--out", " "], 2, ("--out",)),
    Case("export empty --out", ["export", "--run", f"{T}/donerun", "--out", ""], 2, ("--out",)),
    *(Case(f"estimate GPU {gb} GB", ["estimate", "--params", "7B", "--gpu-gb", gb], 2, ("--gpu-gb",))
      for gb in ("0", "-1")),
    Case("models GPU -2 GB", ["models", "--gpu-gb", "-2"], 2, ("--gpu-gb",)),
    Case("preflight GPU 0 GB", [*PREFLIGHT, "--gpu-gb", "0"], 2, ("--gpu-gb",)),
    Case("train missing parent run", [*TRAIN, "--parent-run", f"{T}/norun"], 2, ("norun",)),
    Case("train parent run that is no run", [*TRAIN, "--parent-run", f"{T}/data"], 2, ("data", "run folder")),
    Case("preflight missing base model", ["preflight", "--base-model", f"{T}/nomodel", "--data", f"{T}/data"], 2,
         ("nomodel",)),
    Case("preflight base model is a file", ["preflight", "--base-model", f"{T}/afile", "--data", f"{T}/data"], 2,
         ("afile",)),
    Case("train base model is a file", [*TRAIN[:2], f"{T}/afile", *TRAIN[3:]], 2, ("afile",)),
    Case("train resume with nothing to resume", [*TRAIN, "--resume"], 2, ("resume",)),
    Case(".env not UTF-8", ["studio", "list"], 1, (".env", "utf-8"), env=(("DOTENV", "latin1.env"),)),
    Case(".env garbage", ["studio", "list"], 1, (".env",), env=(("DOTENV", "garbage.env"),)),
    Case(".env bad port", ["studio", "list"], 1, (".env", "TUNESMITH_PORT"), env=(("DOTENV", "port.env"),)),
    # issue 20, class 4: flags that would train forever (or with epochs) are refused before anything starts
    *(Case(f"train --max-steps {n}", [*TRAIN, "--max-steps", n], 2, ("--max-steps",)) for n in ("-1", "0")),
    *(Case(f"example --max-steps {n}", ["example", "--out", f"{T}/ex", "--max-steps", n], 2, ("--max-steps",))
      for n in ("-1", "0")),
    Case("train --epochs 0", [*TRAIN, "--epochs", "0"], 2, ("epochs",)),
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
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "TUNESMITH_LLM_TIMEOUT", "TUNESMITH_LLM_RETRIES",
                 "TUNESMITH_PORT"):
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
        if key == "DOTENV":  # the working directory's .env
            (battery_dir / ".env").write_bytes((battery_dir / value).read_bytes())
            continue
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


# Every command that reads a file the person names, given each kind of unusable content: exit 1 with a message
# naming the file, never "a bug in Tunesmith" (issue 20: new members of each family, not only the examples).
UNUSABLE = {
    "broken.json": '{"a": ', "latin1.json": b'{"a": "caf\xe9"}', "empty.json": "", "blank.json": "   \n ",
    "deep.json": "[" * DEPTH + "]" * DEPTH, "huge.json": '{"a": ' + HUGE + "}", "nan.json": '{"a": NaN}',
    "scalar.json": "42", "null.json": "null", "numbers.json": "[1, 2]", "string.json": '"text"',
    "unknown.json": '{"zzz": 1}', "surrogate.json": '{"a": "\\ud800"}', "bom.json": b'\xef\xbb\xbf{"a": 1}',
    "binary.json": bytes(range(256)), "nul.json": b'{"a": 1}\x00',
}
READERS = {
    "dataset check": ["dataset", "check", "{f}"],
    "dataset build": ["dataset", "build", "{f}", "--out", "{tmp}/out-{name}"],
    "generate --seeds": ["generate", "--task", "t", "--seeds", "{f}", "--out", "{tmp}/o-{name}"],
    "generate --notes": ["generate", "--task", "t", "--seeds", "{tmp}/good.json", "--notes", "{f}", "--out",
                         "{tmp}/o-{name}"],
    "studio new --seeds": ["studio", "new", "p1", "--task", "t", "--seeds", "{f}"],
    "advise --profile": ["advise", "--profile", "{f}"],
    "preflight --config": [*PREFLIGHT, "--config", "{f}"],
    "train --config": [*TRAIN, "--config", "{f}"],
    "evaluate --eval": ["evaluate", "--run", "{tmp}/donerun", "--eval", "{f}"],
}


@pytest.mark.parametrize("command", READERS)
def test_every_reader_says_unusable_content_is_unusable(command, battery_dir, capsys):
    wrong = []
    for name, data in UNUSABLE.items():
        path = battery_dir / "unusable" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        argv = [arg.format(tmp=battery_dir, f=path, name=name) for arg in READERS[command]]
        code = main(argv)
        out, err = capsys.readouterr()
        if code != 1 or "unexpected" in out + err or "Traceback" in out + err:
            wrong.append(f"{name}: exit {code}: {(out + err).strip()[-200:]}")
    assert not wrong, "\n".join(wrong)

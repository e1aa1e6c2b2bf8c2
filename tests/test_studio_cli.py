"""`tunesmith studio` end to end: a real ChatOpenAI against the local stub, answers piped through stdin,
and the app's SQLite store (every command opens it anew, as a new process would)."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai_stub import (
    OpenAIStub,
    openai_stub_fixture,  # noqa: F401  (the openai_stub fixture)
)

from tools.cli import main
from tools.generation.store import ReviewStore

SEEDS = [
    {
        "instruction": "Which tool loosens a rusted bolt on a bike frame?",
        "output": "Penetrating oil, then a wrench.",
    },
    {"instruction": "How often should a bike chain be lubricated?", "output": "Every 300 km or after rain."},
    {"instruction": "What tyre pressure suits a road bike?", "output": "About 80 to 100 psi."},
]
SYSTEM = "You are a patient bike mechanic."


def batch(start: int, count: int = 20) -> dict:
    """count distinct samples (no two are near duplicates), numbered from start."""
    return {
        "samples": [
            {
                "instruction": f"Explain what part {i} of gearbox model X{i * 37} does",
                "output": f"It turns gear {i}.",
            }
            for i in range(start, start + count)
        ]
    }


class InterruptedStdin(io.StringIO):
    """Answers the scripted lines, then behaves like Ctrl-C at the next prompt."""

    def readline(self, *args) -> str:
        line = super().readline(*args)
        if not line:
            raise KeyboardInterrupt
        return line


@dataclass
class Studio:
    """Runs `tunesmith studio ...` in-process with stdin piped; knows the workspace and the LLM stub."""

    workspace: Path
    seeds: Path
    stub: OpenAIStub
    capsys: pytest.CaptureFixture
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *argv: str, stdin: str | io.StringIO = "") -> tuple[int, str, str]:
        self.capsys.readouterr()
        self.monkeypatch.setattr(
            sys, "stdin", stdin if isinstance(stdin, io.StringIO) else io.StringIO(stdin)
        )
        code = main(["studio", *argv])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def store(self) -> ReviewStore:
        return ReviewStore(self.workspace / "tunesmith.db")

    def start(self, project: str = "bikes", target: int = 30) -> None:
        """new + generate batch 1 (20 samples waiting for review)."""
        code, out, err = self(
            "new",
            project,
            "--task",
            "Answer bike repair questions",
            "--seeds",
            str(self.seeds),
            "--system",
            SYSTEM,
            "--target",
            str(target),
        )
        assert code == 0, err
        self.stub.script(batch(len(self.stub.requests) * 100))
        code, out, err = self("generate", project)
        assert code == 0, err
        assert "20 samples waiting for review" in out


@pytest.fixture
def studio(tmp_path, monkeypatch, capsys, openai_stub) -> Studio:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("OPENAI_API_KEY", "TUNESMITH_GENERATION_MODEL", "TUNESMITH_CHAT_MODEL", "VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.base_url)
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", "0")
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(SEEDS))
    return Studio(tmp_path / "ws", seeds, openai_stub, capsys, monkeypatch)


def status_row(out: str, number: int) -> list[str]:
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == [str(number)]]
    assert len(rows) == 1, out
    return rows[0]


def test_review_stops_after_five_decisions_and_continues_at_sample_six(studio):
    studio.start()
    answers = "a\nr\ntoo long\na\nr\n\nnot grounded in the input\na\nq\n"  # the empty reason is asked again
    code, out, _ = studio("review", "bikes", stdin=answers)
    assert code == 0
    assert "sample 1/20, batch 1" in out and "sample 5/20, batch 1" in out and "sample 6/20" in out
    assert f"system:       {SYSTEM}" in out and "Explain what part 0 of gearbox model X0 does" in out
    assert "a reason is needed" in out
    assert "5 decisions saved; run `tunesmith studio review bikes` to continue" in out

    with studio.store() as store:  # a fresh connection sees every decision
        samples = store.batch_samples(store.open_batch("bikes").id)
        assert [s.status for s in samples[:6]] == [
            "approved",
            "rejected",
            "approved",
            "rejected",
            "approved",
            "pending",
        ]
        assert samples[3].reason == "not grounded in the input"

    # Skip sample 6, approve 7..20; the skipped one comes round again and is rejected; submit (default Y).
    code, out, _ = studio("review", "bikes", stdin="s\n" + "a\n" * 14 + "r\nwrong part\n\n")
    assert code == 0
    assert out.index("sample 6/20, batch 1") < out.index("sample 7/20") and "sample 5/20" not in out
    assert "1 skipped sample(s) still pending" in out
    assert "batch 1 submitted: 17 of 20 accepted (85%): 17 approved, 0 edited, 3 rejected" in out
    assert "1. Avoid: too long" in out and "accepted so far: 17 / target 30" in out
    assert "next: tunesmith studio generate bikes" in out

    code, out, _ = studio("status", "bikes")
    assert code == 0
    assert status_row(out, 1) == ["1", "submitted", "20", "17", "0", "3", "0", "85%"]
    assert "accepted: 17 / target 30" in out and "3 seed(s)" in out


def test_tags_set_in_review_are_saved_and_counted_in_status(studio):
    studio.start()
    answers = "t\nBilling, edge-case\na\nt\nbad/tag\nbilling\na\nq\n"  # the bad tag is explained, asked again
    code, out, _ = studio("review", "bikes", stdin=answers)
    assert code == 0 and "tags: billing, edge-case" in out and "use up to 32 letters" in out
    with studio.store() as store:
        first, second = store.batch_samples(store.open_batch("bikes").id)[:2]
        assert first.tags == ["billing", "edge-case"] and second.tags == ["billing"]
    code, out, _ = studio("status", "bikes")
    assert "tags of accepted samples: billing 2, edge-case 1" in out


def feedback_section(prompt: str) -> str:
    """The error notes part of a generation request."""
    return prompt.split("<feedback>")[1].split("</feedback>")[0]


def test_reject_reasons_and_note_edits_reach_the_next_request(studio):
    studio.start()
    code, out, _ = studio("review", "bikes", stdin="r\ntoo vague\nA\ny\ny\n")
    assert code == 0 and "approved 19 sample(s)" in out
    assert "error notes in force (1; fed to the next batch):\n  1. Avoid: too vague" in out

    studio.stub.script(batch(100))
    assert studio("generate", "bikes")[0] == 0
    assert "- Avoid: too vague" in feedback_section(studio.stub.user_prompts()[-1])

    code, out, _ = studio("notes", "bikes", "--remove", "1", "--add", "Name the tool first")
    assert code == 0 and out.startswith("error notes in force (1;") and "1. Name the tool first" in out
    assert studio("review", "bikes", stdin="A\ny\n\n")[0] == 0
    studio.stub.script(batch(200))
    assert studio("generate", "bikes")[0] == 0
    feedback = feedback_section(studio.stub.user_prompts()[-1])
    assert "- Name the tool first" in feedback and "too vague" not in feedback

    code, out, _ = studio("notes", "bikes", "--clear")
    assert code == 0 and "no error notes yet" in out


def write_editor(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "editor.py"
    script.write_text(f"#!{sys.executable}\nimport json, sys\npath = sys.argv[-1]\n{body}\n")
    script.chmod(0o755)
    return script


def test_edit_in_editor_stores_the_edited_sample(studio, tmp_path, monkeypatch):
    studio.start()
    editor = write_editor(
        tmp_path,
        "sample = json.load(open(path))\n"
        "sample['output'] = 'Edited: ' + sample['output']\n"
        "json.dump(sample, open(path, 'w'))",
    )
    monkeypatch.setenv("EDITOR", str(editor))
    code, out, _ = studio("review", "bikes", stdin="e\nq\n")
    assert code == 0 and "edited version saved" in out and "1 decision saved" in out
    with studio.store() as store:
        first = store.batch_samples(store.open_batch("bikes").id)[0]
    assert first.status == "edited"
    assert first.current.output == "Edited: It turns gear 0." and first.original.output == "It turns gear 0."
    assert first.current.system == SYSTEM
    assert status_row(studio("status", "bikes")[1], 1) == ["1", "open", "20", "0", "1", "0", "19", "100%"]


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("{not json", "not valid JSON (line 1, column 2"),
        ('{"instruction": "q", "output": " "}', "field 'output'"),
    ],
)
def test_broken_edit_is_explained_and_the_original_kept(studio, tmp_path, monkeypatch, written, problem):
    studio.start()
    editor = write_editor(tmp_path, f"open(path, 'w').write({written!r})")
    monkeypatch.setenv("VISUAL", f"{editor} --wait")  # VISUAL wins over EDITOR; arguments are split, no shell
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    code, out, _ = studio("review", "bikes", stdin="e\ne\nk\nq\n")  # edit, edit again, keep the original
    assert code == 0
    assert out.count(f"the edited sample is not usable: {problem}") == 2 and "kept the original" in out
    assert "0 decisions saved" in out
    with studio.store() as store:
        first = store.batch_samples(store.open_batch("bikes").id)[0]
    assert first.status == "pending" and first.current == first.original


def test_review_shows_every_field_of_a_multi_turn_sample(studio):
    assert studio("new", "bikes", "--task", "t", "--seeds", str(studio.seeds), "--system", SYSTEM)[0] == 0
    sample = {
        "instruction": "And the rear one?",
        "input": "Shimano 105\nrim brakes",
        "output": "Same pads.\nCheck wear.",
        "history": [["Which pads fit my front brake?", "Shimano R55C4."]],
    }
    studio.stub.script({"samples": [sample]})
    assert studio("generate", "bikes", "--n", "1")[0] == 0
    code, out, _ = studio("review", "bikes", stdin="q\n")
    assert code == 0
    assert (
        f"  system:       {SYSTEM}\n"
        "  history 1 user: Which pads fit my front brake?\n"
        "  history 1 answer: Shimano R55C4.\n"
        "  instruction:  And the rear one?\n"
        "  input:\n      Shimano 105\n      rim brakes\n"
        "  output:\n      Same pads.\n      Check wear.\n"
    ) in out


def test_edit_without_an_editor_asks_for_a_new_output(studio):
    studio.start()
    code, out, _ = studio("review", "bikes", stdin="e\n.\ne\nFirst line\n\nThird line\n.\nq\n")
    assert code == 0 and "output unchanged" in out and "edited version saved" in out
    with studio.store() as store:
        first = store.batch_samples(store.open_batch("bikes").id)[0]
    assert first.status == "edited" and first.current.output == "First line\n\nThird line"


def test_eof_and_ctrl_c_save_decisions_and_approve_all_finishes(studio):
    studio.start()
    code, out, _ = studio("review", "bikes", stdin="a\nx\nr\n")  # EOF while asked for a reason
    assert code == 0 and "please answer a, r, e, t, s, A or q" in out
    assert out.rstrip().endswith("1 decision saved; run `tunesmith studio review bikes` to continue")

    code, out, _ = studio("review", "bikes", stdin=InterruptedStdin("a\n"))
    assert code == 130 and "1 decision saved; run `tunesmith studio review bikes` to continue" in out

    code, out, _ = studio(
        "review", "bikes", stdin="A\nn\nA\ny\n"
    )  # declined once, then 18 approved; EOF at submit
    assert code == 0 and "approve all 18 remaining sample(s) of batch 1? [y/N]" in out
    assert "approved 18 sample(s)" in out and "18 decisions saved" in out

    code, out, _ = studio("review", "bikes", stdin="n\n")  # nothing pending: straight to the submit question
    assert code == 0 and "sample " not in out and "batch 1 is left open" in out
    code, out, _ = studio("review", "bikes", stdin="y\n")
    assert code == 0 and "batch 1 submitted: 20 of 20 accepted (100%)" in out


def test_export_builds_the_dataset_from_accepted_samples(studio, tmp_path):
    studio.start(target=15)
    code, out, _ = studio("review", "bikes", stdin="r\noff topic\nA\ny\ny\n")
    assert code == 0 and "next: tunesmith studio export bikes --out DIR" in out
    with studio.store() as store:  # make one accepted sample a copy of another: export reports the duplicate
        second, third = store.batch_samples(store.batches("bikes")[0].id)[1:3]
        store.edit(third.id, second.current)
        store.set_tags(second.id, "gears")

    out_dir = tmp_path / "dataset"
    code, out, _ = studio("export", "bikes", "--out", str(out_dir), "--eval-fraction", "0.2")
    assert code == 0
    assert "read 19 accepted samples; kept 18 (train 14, eval 4); dropped 1: exact_duplicate 1" in out
    for name in ("train.json", "eval.json", "dataset_info.json", "report.json"):
        assert (out_dir / name).is_file(), name
    report = json.loads((out_dir / "report.json").read_text())
    assert report["kept"] == 18 and report["drops"] == {"exact_duplicate": 1}
    assert report["health"]["tags"] == {"gears": 1}  # the reviewer's tags travel into the health report

    from datasets import load_dataset

    train = load_dataset(
        "json", data_files=str(out_dir / "train.json"), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert len(train) == 14 and set(train.column_names) >= {"instruction", "input", "output", "system"}
    assert all(row["system"] == SYSTEM for row in train)
    info = json.loads((out_dir / "dataset_info.json").read_text())
    assert info["tunesmith_train"]["file_name"] == "train.json"

    code, out, _ = studio("export", "bikes", "--out", str(tmp_path / "sg"), "--format", "sharegpt")
    assert code == 0 and "conversations" in (tmp_path / "sg" / "train.json").read_text()


def test_export_with_nothing_accepted_is_refused(studio, tmp_path):
    studio.start()
    code, _, err = studio("export", "bikes", "--out", str(tmp_path / "out"))
    assert code == 2 and "no accepted samples yet" in err and "tunesmith studio review bikes" in err
    assert not (tmp_path / "out").exists()


def test_bad_input_gets_a_clear_message_and_exit_status(studio):
    db = studio.workspace / "tunesmith.db"
    for argv in (["status", "ghost"], ["review", "ghost"], ["generate", "ghost"], ["notes", "ghost"]):
        code, _, err = studio(*argv)
        assert code == 2
        assert f"error: no project 'ghost' in {db}; create it with `tunesmith studio new ghost" in err

    for name in ("bad name", "x" * 65, "..", ""):
        code, _, err = studio("status", name)
        assert code == 2 and "invalid project name" in err

    studio.seeds.write_text(
        json.dumps([{"instruction": "ok", "output": "fine"}, {"instruction": "no answer"}])
    )
    code, _, err = studio("new", "bikes", "--task", "t", "--seeds", str(studio.seeds))
    assert code == 1 and "row 2" in err  # the seeds file was read; its content is unusable
    studio.seeds.write_text(json.dumps(SEEDS))

    studio.start()
    code, _, err = studio("generate", "bikes")
    assert code == 2 and "batch 1 of project 'bikes' is still open (20 pending)" in err
    assert "tunesmith studio review bikes" in err and len(studio.stub.requests) == 1

    code, _, err = studio("notes", "bikes", "--remove", "3")
    assert code == 2 and "no note number 3" in err

    assert studio("review", "bikes", stdin="A\ny\ny\n")[0] == 0
    code, _, err = studio("review", "bikes")
    assert code == 2 and "no batch waiting for review; next: `tunesmith studio generate bikes`" in err


def test_llm_failure_keeps_what_came_back_and_exits_1(studio):
    studio.start()
    assert studio("review", "bikes", stdin="A\ny\ny\n")[0] == 0
    studio.stub.script(batch(300, 3), 404)  # 3 of 5 samples, then the model is unknown: no point retrying
    code, out, err = studio("generate", "bikes", "--n", "5", "--model", "gen-model")
    assert code == 1 and "batch 2: 3 samples waiting for review" in out
    assert "3 of 5 samples" in err and "(404)" in err
    assert studio.stub.requests[-1]["model"] == "gen-model"
    with studio.store() as store:
        assert len(store.batch_samples(store.open_batch("bikes").id, "pending")) == 3


def test_list_shows_terminal_and_app_projects(studio):
    code, out, _ = studio("list")
    assert code == 0 and "no projects in" in out
    studio.start()
    with studio.store() as store:  # a project the app made for a conversation (its thread id), with its title
        store.save_project("3fa2c1d9e0ab", "Label reviews", SEEDS, target_count=50)
    with sqlite3.connect(studio.workspace / "tunesmith.db") as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS conversations (thread_id TEXT PRIMARY KEY, title TEXT NOT NULL,"
            " created REAL NOT NULL, updated REAL NOT NULL)"
        )
        db.execute("INSERT INTO conversations VALUES ('3fa2c1d9e0ab', 'Review labeller', 0, 0)")
    code, out, _ = studio("list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "0/30" in rows["bikes"] and "batch 1 (20 pending)" in rows["bikes"]
    assert "0/50" in rows["3fa2c1d9e0ab"] and "Review labeller" in rows["3fa2c1d9e0ab"]
    code, out, _ = studio("status", "3fa2c1d9e0ab")
    assert code == 0 and "no batches yet" in out and "next: tunesmith studio generate 3fa2c1d9e0ab" in out


def test_generate_drafts_from_the_documents_the_app_chose_for_fine_tuning(studio):
    """A conversation on the RAG + fine-tuning path: its project folder keeps the retrieval settings (the Retrieval
    tab's choice), and `studio generate` drafts the batch from those documents as the app would, not plain samples."""
    from test_rag_raft import DOCS, WRITTEN, reply_for
    from test_rag_raft import SEEDS as RAG_SEEDS

    from tools.dataset.passages import is_retrieval_input
    from tools.rag.raft import chunks_for_batch, conversation_index, use_documents
    from tools.settings import load_settings
    from tools.workspace import Workspace

    thread = "3fa2c1d9e0ab"
    with studio.store() as store:
        store.save_project(thread, "Answer guests' questions about our holiday homes", RAG_SEEDS)
    workspace = Workspace.from_settings(load_settings())
    folder = studio.workspace.parent / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index = conversation_index(workspace, thread)
    index.add_documents([folder], max_chars=100, overlap=0)
    use_documents(workspace, thread, k=3, index=index)  # what the Retrieval tab saves
    studio.stub.script(reply_for(chunks_for_batch(index.chunks(), 0, 8), WRITTEN[:8])[0])
    code, out, err = studio("generate", thread, "--n", "8")
    assert code == 0, err
    assert f"drafting 8 samples from the documents of index 'docs-{thread}' (3 passages a question)" in out
    assert "<passages>" in studio.stub.user_prompts()[-1]  # the retrieval request, with its chunks
    with studio.store() as store:
        drafted = store.batch_samples(store.open_batch(thread).id)
    assert len(drafted) == 8 and all(is_retrieval_input(s.current.input) for s in drafted)
    assert drafted[0].current.instruction == WRITTEN[0][1]

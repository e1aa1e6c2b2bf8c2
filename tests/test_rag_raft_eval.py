"""Retrieval in the loop (tools/rag/raft_eval.py): a run trained on retrieval samples is evaluated, tried and
exported with the index its samples came from; the scoring of answers, citations and "none answers" by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from prompts.raft import NO_ANSWER
from tools.dataset.passages import read_passages
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.rag.index import DocumentIndex
from tools.rag.raft import RetrievalSettings, retrieval_input, retrieval_sample, settings_for
from tools.rag.raft_eval import ask_again, oracle_label, score_with_retrieval
from tools.training.config import TrainConfig, save_config
from tools.training.tiny_model import build_tiny_model

DOCS = {"loft.md": "# Harbour Loft\n\nCheck-in at the Harbour Loft starts at 3 pm.\n\n"
                   "The Harbour Loft deposit is 200 euros.\n\nPets are not allowed in the Harbour Loft.",
        "mill.md": "# Old Mill\n\nThe Old Mill closes every February.\n\nBreakfast at the Old Mill starts at 7:30."}
FACTS = [("When does check-in start at the Harbour Loft?", "3 pm", "Check-in"),
         ("How much is the Harbour Loft deposit?", "200 euros", "deposit"),
         ("When does breakfast start at the Old Mill?", "7:30", "Breakfast")]


@pytest.fixture(scope="module")
def retrieval_run(tmp_path_factory) -> tuple[Path, DocumentIndex, list[AlpacaSample]]:
    """A RUN trained (a hand-made adapter) on retrieval samples from an index, with retrieval.json by its data."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("raft")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    index = DocumentIndex(root / "index", "stays")
    index.add_documents([root / "docs"], max_chars=100, overlap=0)
    chunks = index.chunks()
    rows = [retrieval_sample(index, q, a, next(c for c in chunks if word in c.text), 2, True) for q, a, word in FACTS]
    question = "Is there a sauna at the Old Mill?"
    rows.append(AlpacaSample(instruction=question, input=retrieval_input(index.search(question, 2)), output=NO_ANSWER))
    data = root / "data"
    data.mkdir()
    for split in ("train.json", "eval.json"):
        (data / split).write_text(json.dumps([r.to_record() for r in rows]), encoding="utf-8")
    settings_for(index, root / "index", k=2).save(data)
    base = build_tiny_model(root / "base")
    run = root / "run"
    save_config(TrainConfig(base_model=str(base), data_dir=data, out_dir=run), run / "config.json")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.2)
    model.save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(base).save_pretrained(run / "adapter")
    return run, index, rows


def test_every_held_out_question_is_asked_with_the_passages_retrieved_now(retrieval_run):
    from tools.training.evaluate import evaluate_run, format_report

    run, index, rows = retrieval_run
    assert [oracle_label(r) for r in rows][-1] is None and all(oracle_label(r) for r in rows[:3])
    asked = ask_again(index, 2, rows)
    for (row, number), original in zip(asked[:3], rows):
        passages = read_passages(row.input)
        assert [p.label for p in passages] == [h.label for h in index.search(original.instruction, 2)]
        assert number and passages[number - 1].label == oracle_label(original)
    assert asked[3] == (rows[3], None)  # none answers: asked with the passages it was written with
    data = Path(json.loads((run / "config.json").read_text())["data_dir"])
    seed = AlpacaSample(instruction="When is checkout?", output="At 11 am.")  # a row without passages
    (data / "eval.json").write_text(json.dumps([r.to_record() for r in [*rows, seed]]), encoding="utf-8")
    result = evaluate_run(run, max_samples=10)
    assert result["samples"] == 5
    retrieval = result["retrieval"]
    assert retrieval["without_passages"] == 1  # left to the ordinary evaluation, not taken for "none answers"
    assert (retrieval["index"], retrieval["k"], retrieval["embedding_model"]) == ("stays", 2, "all-MiniLM-L6-v2")
    assert (retrieval["questions"], retrieval["answerable"], retrieval["unanswerable"]) == (4, 3, 1)
    assert retrieval["retrieved_the_answer"] == 1.0
    for name in ("base", "tuned"):
        assert set(retrieval[name]) == {"exact_match", "rouge_l", "citation", "no_answer", "wrongly_declined",
                                        "stop_rate"}
        assert 0 <= retrieval[name]["stop_rate"] <= 1
    assert retrieval["examples"][0]["question"] == FACTS[0][0] and "tuned" in retrieval["examples"][0]
    report = format_report(result)
    assert "With retrieval" in report and "cites the right passage" in report
    assert "answers that stopped by themselves" in report
    (data / "eval.json").write_text(json.dumps([r.to_record() for r in rows]), encoding="utf-8")


def test_scoring_answers_citations_and_saying_none_answers():
    rows = [AlpacaSample(instruction="q1", input="", output="3 pm [2]"),
            AlpacaSample(instruction="q2", input="", output="200 euros [1]"),
            AlpacaSample(instruction="q3", input="", output="7:30 [1]"),
            AlpacaSample(instruction="q4", input="", output=NO_ANSWER)]
    asked = [(rows[0], 2), (rows[1], 3), (rows[2], 0), (rows[3], None)]  # q2's passage moved to [3]; q3's missed
    scores = score_with_retrieval(asked, ["3 pm [2]", "200 euros [1]", "The passages do not answer this.",
                                          "I don't know."], k=3)
    assert scores["exact_match"] == round(2 / 3, 4) and scores["citation"] == round(1 / 3, 4)
    assert scores["no_answer"] == 1.0 and scores["wrongly_declined"] == round(1 / 3, 4)
    assert score_with_retrieval(asked, ["3 pm [1][2]", "200 euros [3]", "7:30", "It is 5 pm [1]."], 3)[
        "citation"] == round(1 / 3, 4)  # citing another passage too is not citing the right one


def test_try_it_and_export_use_the_runs_index(retrieval_run, tmp_path):
    from tools.training.export import export_run
    from tools.training.inference import try_run

    run, _, _ = retrieval_run
    answer, note = try_run(run, "When does breakfast start at the Old Mill?", max_new_tokens=4)
    assert note.startswith("Asked with 2 passages from `stays`: [1] mill.md, chunk")
    from tools.rag.raft import says_no_answer

    assert "Check: " in note or says_no_answer(answer)  # the citation checked against the passages asked with
    written = export_run(run, tmp_path / "export", merge=False)
    exported = json.loads(Path(written["retrieval.json"]).read_text())
    assert (exported["index_name"], exported["k"], exported["max_chars"], exported["overlap"]) == ("stays", 2, 100, 0)


def test_a_missing_index_is_said_and_the_other_numbers_stand(retrieval_run, tmp_path):
    from tools.training.evaluate import evaluate_run
    from tools.training.inference import try_run

    run, _, _ = retrieval_run
    data = Path(json.loads((run / "config.json").read_text())["data_dir"])
    moved = RetrievalSettings.load(data)
    (data / "retrieval.json").write_text(json.dumps({**moved.__dict__, "index_dir": str(tmp_path / "gone")}))
    try:
        result = evaluate_run(run, max_samples=2)
        assert "is gone" in result["retrieval"]["error"] and result["tuned"]["rouge_l"] is not None
        with pytest.raises(UserError, match="the document index 'stays' is gone"):
            try_run(run, "When does breakfast start?")
    finally:
        moved.save(data)
    shutil.rmtree(tmp_path / "gone", ignore_errors=True)


def test_the_app_shows_the_retrieval_table_under_the_metrics():
    from agent.training_nodes import metrics_table

    scores = {"exact_match": 0.1, "rouge_l": 0.3, "citation": 0.0, "no_answer": None, "wrongly_declined": 0.0}
    result = {"samples": 4, "eval_file": "eval.json", "base": {"rouge_l": 0.3}, "tuned": {"rouge_l": 0.9},
              "retrieval": {"index": "docs-t1", "k": 3, "answerable": 3, "unanswerable": 1,
                            "retrieved_the_answer": 2 / 3, "base": scores,
                            "tuned": {**scores, "exact_match": 1.0, "citation": 2 / 3, "no_answer": 1.0}}}
    table = metrics_table(result)
    assert "retrieval found the answering passage for 67%" in table
    assert "| cites the right passage | 0% | 67% |" in table and "| answer exact match | 10% | 100% |" in table
    assert "| says none answers, when none does | – | 100% |" in table
    assert "stopped by themselves" not in table  # a run evaluated before the stop rate was measured: no row
    result["retrieval"] = {"error": "the document index 'docs-t1' is gone"}
    assert "not measured: the document index 'docs-t1' is gone" in metrics_table(result)

"""The guidance knowledge base: passages parse, retrieval finds the right advice, answers cite passages."""

import subprocess
import sys

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tools.advisor.kb import (
    INDEX_FILE,
    KNOWLEDGE_DIR,
    GuidanceKB,
    answer_question,
    format_answer_markdown,
    format_answer_text,
    load_passages,
    open_kb,
    profile_hints,
)
from tools.errors import UserError


class FailingChatModel(GenericFakeChatModel):
    """A chat model whose endpoint is down."""

    def _generate(self, *args, **kwargs):
        raise ConnectionError("connection refused")


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return GuidanceKB(tmp_path_factory.mktemp("kb"))


def test_the_shipped_index_matches_the_passages(tmp_path):
    """If this fails, rebuild it: python -m tools.advisor.kb"""
    kb = GuidanceKB(tmp_path)
    assert kb.reindexed is False and not (tmp_path / INDEX_FILE).exists()
    assert (KNOWLEDGE_DIR / INDEX_FILE).stat().st_size < 1_000_000


def test_the_knowledge_base_is_loaded_once_per_process(tmp_path):
    assert open_kb(tmp_path) is open_kb(tmp_path)


def test_numpy_query_vectors_equal_the_torch_ones():
    import numpy as np

    from tools.embeddings import embed_texts
    from tools.embeddings_numpy import embed

    texts = ["Should I fine-tune or use RAG?", "Our documentation changes every week, and answers must cite it. " * 3]
    assert np.abs(embed(texts) - np.asarray(embed_texts(texts))).max() < 1e-5


def test_a_first_answer_needs_neither_torch_nor_chromadb(tmp_path):
    code = ("import sys; from tools.advisor.kb import answer_question; "
            f"answer_question('Should I fine-tune or use RAG?', persist_dir={str(tmp_path)!r}); "
            "print(sorted(m for m in ('torch', 'transformers', 'chromadb') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_passages_are_complete_and_the_right_length():
    passages = load_passages()
    assert 25 <= len(passages) <= 40
    for passage in passages:
        assert passage.title and passage.source.startswith("https://")
        assert 80 <= len(passage.text.split()) <= 200, passage.id


def test_malformed_passage_is_reported_with_its_file(tmp_path):
    (tmp_path / "bad.md").write_text("---\nid: bad\ntitle: No source\n---\nSome text.\n")
    with pytest.raises(UserError, match=r"bad\.md.*source"):
        load_passages(tmp_path)


def test_index_is_rebuilt_only_when_passages_change(tmp_path, kb):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    text = "Retrieval keeps answers fresh when documents change. " * 3
    (knowledge / "a.md").write_text(
        f"---\nid: a\ntitle: Fresh data\nsource: https://example.org/a\n---\n{text}\n"
    )
    store = tmp_path / "store"
    assert GuidanceKB(store, knowledge).reindexed is True
    assert GuidanceKB(store, knowledge).reindexed is False
    (knowledge / "a.md").write_text(
        f"---\nid: a\ntitle: Fresh data v2\nsource: https://example.org/a\n---\n{text}\n"
    )
    changed = GuidanceKB(store, knowledge)
    assert changed.reindexed is True and changed.search("fresh data", 1)[0].title == "Fresh data v2"


def test_dynamic_documents_question_finds_the_rag_passage(kb):
    hits = kb.search("should I fine-tune or use RAG when my documents change every week?", k=3)
    assert "dynamic-data-rag" in [p.id for p in hits]
    assert hits[0].score >= hits[-1].score


def test_qlora_memory_question_finds_the_qlora_passage(kb):
    hits = kb.search("how much memory does QLoRA need for 65B", k=2)
    assert hits[0].id in {"qlora-memory", "qlora-method"}


def test_empty_question_is_refused(kb):
    with pytest.raises(UserError, match="empty"):
        kb.search("   ")


def test_llm_answer_cites_passages(kb):
    model = GenericFakeChatModel(
        messages=iter([AIMessage("Use RAG for changing documents [1]; see also [2].")])
    )
    answer = answer_question("RAG or fine-tuning for weekly-changing docs?", chat_model=model, kb=kb)
    assert answer.used_llm and answer.cited == [1, 2]
    assert answer.text.startswith("Use RAG")
    assert len(answer.citations) == 4 and answer.citations[0].id  # [1] maps to citations[0]


def test_extractive_answer_without_a_model_applies_the_profile(kb):
    profile = {
        "data_dynamics": "dynamic",
        "labeled_data": None,
        "cost_complexity_expertise": {"budget": "low"},
    }
    answer = answer_question("How do I keep my assistant's answers up to date?", profile=profile, kb=kb)
    assert not answer.used_llm and "No LLM" in answer.note
    ids = [p.id for p in answer.citations]
    assert (
        "dynamic-data-rag" in ids and "cost-ladder" in ids
    )  # each matching profile answer brings its passage
    rag_number = ids.index("dynamic-data-rag") + 1
    assert f"retrieval index (RAG), not in the weights. [{rag_number}]" in answer.text
    assert "https://" not in answer.text  # the renderers list the sources, once


def test_llm_failure_falls_back_to_extractive_and_says_why(kb):
    answer = answer_question(
        "What LoRA rank should I use?", chat_model=FailingChatModel(messages=iter([])), kb=kb
    )
    assert not answer.used_llm
    assert "Could not reach the LLM endpoint" in answer.note
    assert answer.text.startswith("From Tunesmith's guidance notes:") and "[1]" in answer.text


def test_profile_hints_match_only_given_answers():
    assert [h.passage_id for h in profile_hints({"transparency_required": True})] == [
        "hallucination-grounding"
    ]
    assert profile_hints({"transparency_required": False, "data_dynamics": None}) == []
    assert profile_hints(None) == []


def test_answer_from_a_persist_dir_renders_as_markdown(tmp_path, kb):
    answer = answer_question("What is QLoRA?", persist_dir=tmp_path / "kb")
    markdown = format_answer_markdown(answer)
    assert not (tmp_path / "kb").exists()  # the shipped index served it; nothing was rebuilt
    assert (
        "**Sources**" in markdown and "1. [" in markdown and "](https://arxiv.org/abs/2305.14314)" in markdown
    )
    assert markdown.rstrip().endswith("_No LLM configured: extractive answer._")
    for passage in answer.citations:  # each source listed once
        assert markdown.count(f"]({passage.source})") == sum(p.source == passage.source for p in answer.citations)
    text = format_answer_text(answer)
    assert text.count("Sources:") == 1 and "  [1] " in text and text.rstrip().endswith("extractive answer.)")

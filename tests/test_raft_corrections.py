"""A reviewer's edit of a retrieval sample teaches the next retrieval batch as it teaches an ordinary one: the
drafting request carries it in <corrections> as a before -> after pair (tools/generation/prompt.py review_slots,
shared by both requests), and the Data studio's "next request, word for word" shows the retrieval request the
generator will receive when the next batch is drafted from the documents."""

from __future__ import annotations

import json

from langchain_openai import ChatOpenAI
from openai_stub import openai_stub_fixture  # noqa: F401  (the openai_stub fixture)
from test_rag_raft import DOCS, MORE_WRITTEN, SEEDS, WRITTEN, reply_for

from tools.generation.rounds import learn_from_batch
from tools.generation.store import ReviewStore
from tools.rag.index import DocumentIndex
from tools.rag.raft import chunks_for_batch, cite, draft_retrieval_batch, settings_for

TASK = "Answer guests' questions about our holiday homes"


def index_documents(tmp_path, index: DocumentIndex) -> DocumentIndex:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index.add_documents([folder], max_chars=100, overlap=0)
    return index


def corrections_of(request: str) -> str:
    return request.split("<corrections>")[1].split("</corrections>")[0]


def edit_answer(store: ReviewStore, sample) -> tuple[str, str]:
    """The reviewer rewords the drafted answer and cites another passage; returns (before, after)."""
    before = sample.current.output
    cited = int(before.rsplit("[", 1)[1].rstrip(".]"))
    after = cite("Check-in at the Harbour Loft starts at 3 pm.", cited % 3 + 1)
    store.edit(sample.id, {**sample.current.to_record(), "output": after})
    return before, after


def test_an_edit_of_a_retrieval_sample_reaches_the_next_retrieval_request_as_before_after(tmp_path, openai_stub):
    index = index_documents(tmp_path, DocumentIndex(tmp_path / "index", "stays"))
    settings = settings_for(index, tmp_path / "index", k=3)
    openai_stub.script(reply_for(chunks_for_batch(index.chunks(), 0, 8), WRITTEN[:8])[0],  # the 8 chunks
                       reply_for(chunks_for_batch(index.chunks(), 1, 8), MORE_WRITTEN[:8])[0])
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", TASK, SEEDS)
        batch, result = draft_retrieval_batch(store, "t1", model, settings, n=8, backoff_s=0)
        assert result.complete
        first, *others = store.batch_samples(batch.id)
        assert first.current.instruction == WRITTEN[0][1]
        before, after = edit_answer(store, first)
        for sample in others:
            store.approve(sample.id)
        learn_from_batch(store, batch.id)
        draft_retrieval_batch(store, "t1", model, settings, n=8, backoff_s=0)
    drafted_first, drafted_next = openai_stub.user_prompts()
    assert corrections_of(drafted_first).strip().endswith("(none)")  # nothing was edited yet
    corrections = corrections_of(drafted_next)
    assert before != after and "<passages>" in drafted_next  # the retrieval request, not the ordinary one
    assert (f'  Case: "{WRITTEN[0][1]}"\n'  # the question, not the passages' header
            f"  output before: {json.dumps(before)}\n"
            f"  output after: {json.dumps(after)}") in corrections
    assert corrections.count("- What was wrong:") == 1


def test_the_panel_shows_the_retrieval_request_with_its_corrections_word_for_word(tmp_path, openai_stub):
    """On the RAG + fine-tuning path, through the conversation: the panel (the Data tab's handler) shows the next
    retrieval request, the edit in it, and the generator then receives exactly that text."""
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.nodes import AgentDeps
    from agent.session import Session
    from tests.test_agent_paths import PROFILES, recommended
    from tools.settings import Settings
    from ui.data_tab import DataTab

    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    session = Session(settings, deps=AgentDeps(generation_model=model, store=store, workspace=settings.workspace,
                                               answer_question=lambda q, p, m: q), checkpointer=InMemorySaver())
    tab = DataTab(session, chat_outputs_fn=None)
    tid, _ = recommended(session, PROFILES["rag+fine-tune"])
    session.send(tid, {"text": "Start this path", "action": "start_path"})
    session.send(tid, {"text": "Continue to fine-tuning", "action": "start_finetune"})
    index = index_documents(tmp_path, session.paths.document_index(tid))
    store.save_project(tid, TASK, SEEDS)
    chosen = settings.workspace / "projects" / tid / "retrieval.json"
    assert "<passages>" in tab.show_next_request(tid) and not chosen.exists()  # shown: a read chooses nothing

    openai_stub.script(reply_for(chunks_for_batch(index.chunks(), 0, 20), WRITTEN + MORE_WRITTEN)[0])
    session.send(tid, {"text": "Generate a batch", "action": "generate"})
    drafted = store.batch_samples(store.open_batch(tid).id)
    before, after = edit_answer(store, drafted[0])
    for sample in drafted[1:]:
        store.approve(sample.id)
    session.submit_batch(tid, {})
    panel = tab.show_next_request(tid)
    again = reply_for(chunks_for_batch(index.chunks(), 1, 20), WRITTEN + MORE_WRITTEN)[0]
    openai_stub.script(*[again] * 4)  # the same questions again: dropped as written, asked again (no backoff)
    session.send(tid, {"text": "Generate a batch", "action": "generate"})

    assert openai_stub.user_prompts()[1] == panel
    assert "<passages>" in panel
    assert f"  output before: {json.dumps(before)}\n  output after: {json.dumps(after)}" in corrections_of(panel)


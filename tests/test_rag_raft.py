"""RAG + fine-tuning samples (tools/rag/raft.py): drafted from the person's documents through the ordinary batch
machinery, each holding a question, retrieved passages with the one that answers it, and a cited answer; one in
five with no passage that answers. Also the index's recorded embedding model and the dataset build of such rows."""

from __future__ import annotations

import json

import pytest
from langchain_openai import ChatOpenAI
from openai_stub import openai_stub_fixture  # noqa: F401  (the openai_stub fixture)

from prompts.raft import NO_ANSWER, PASSAGES_HEADER
from tools.dataset.passages import read_passages, without_passages
from tools.dataset.schema import AlpacaSample
from tools.errors import UserError
from tools.generation.store import ReviewStore
from tools.rag.index import DocumentIndex
from tools.rag.raft import (
    RetrievalSettings,
    chunks_for_batch,
    cite,
    draft_retrieval_batch,
    says_no_answer,
    settings_for,
    strip_citations,
)

DOCS = {
    "loft.md": "# Harbour Loft\n\nCheck-in at the Harbour Loft starts at 3 pm.\n\n"
               "The Harbour Loft deposit is 200 euros, paid on arrival.\n\n"
               "Pets are not allowed in the Harbour Loft.",
    "cabin.md": "# Pine Cabin\n\nThe Pine Cabin sleeps six people.\n\n"
                "Firewood for the Pine Cabin costs 8 euros a basket.\n\n"
                "The Pine Cabin has no mobile signal; the landline is in the hall.",
    "mill.md": "# Old Mill\n\nThe Old Mill closes for repairs every February.\n\n"
               "Breakfast at the Old Mill is served from 7:30 to 10.",
}
SEEDS = [AlpacaSample(instruction="When is checkout?", output="Checkout is at 11 am.")]


@pytest.fixture()
def index(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    built = DocumentIndex(tmp_path / "index", "stays")
    built.add_documents([folder], max_chars=100, overlap=0)
    return built


# what the LLM writes: (a word of the chunk it is about, the question, the answer)
WRITTEN = [("Check-in", "When can I check in at the Harbour Loft?", "From 3 pm."),
           ("deposit", "How big is the Harbour Loft deposit?", "200 euros, paid on arrival."),
           ("Pets", "May I bring my dog to the Harbour Loft?", "No, pets are not allowed."),
           ("sleeps", "How many guests fit in the Pine Cabin?", "Six people."),
           ("Firewood", "What does a basket of firewood cost at the cabin?", "8 euros."),
           ("signal", "Will my mobile work at the Pine Cabin?", "No, use the landline in the hall."),
           ("repairs", "Is the Old Mill open in February?", "No, it closes for repairs."),
           ("Breakfast", "When is breakfast served at the Old Mill?", "From 7:30 to 10."),
           ("deposit", "When do I pay the loft's deposit?", "On arrival."),
           ("landline", "Where is the telephone in the Pine Cabin?", "In the hall.")]


def reply_for(chunks, written=WRITTEN) -> tuple[dict, list[int]]:
    """The LLM's reply naming each chunk by its number in the prompt, and those numbers."""
    numbers = [next(n for n, c in enumerate(chunks, start=1) if word in c.text) for word, _, _ in written]
    return ({"samples": [{"instruction": q, "input": str(n), "output": a}
                         for (_, q, a), n in zip(written, numbers)]}, numbers)


def test_a_drafted_batch_holds_questions_passages_and_cited_answers(tmp_path, index, openai_stub):
    settings = settings_for(index, tmp_path / "index", k=3)
    assert (settings.embedding_model, settings.max_chars, settings.overlap) == ("all-MiniLM-L6-v2", 100, 0)
    chunks = chunks_for_batch(index.chunks(), 0, 10)
    assert len(chunks) == 8  # fewer chunks than samples: some get two questions
    reply, numbers = reply_for(chunks)
    openai_stub.script(reply)
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", "Answer guests' questions about our holiday homes", SEEDS, system="Be brief.")
        batch, result = draft_retrieval_batch(store, "t1", model, settings, n=10, backoff_s=0)
        stored = store.batch_samples(batch.id)
    assert result.complete and len(stored) == 10
    prompt = openai_stub.user_prompts()[0]
    assert "[1] " in prompt and chunks[0].text in prompt and "Checkout is at 11 am." in prompt  # passages + style
    no_answer = [s.current for s in stored if s.current.output == NO_ANSWER]
    assert len(no_answer) == 2  # one in five
    for s, n in zip((s.current for s in stored), numbers):
        oracle = chunks[n - 1]
        assert s.input.startswith(PASSAGES_HEADER) and s.system == "Be brief."
        passages = read_passages(s.input)
        assert len(passages) == 3
        texts = [p.text for p in passages]
        if s.output == NO_ANSWER:
            assert oracle.text not in texts  # the passage that answers is left out on purpose
        else:
            cited = int(s.output.rsplit("[", 1)[1].split("]")[0])
            assert texts[cited - 1] == oracle.text and passages[cited - 1].label == oracle.label
    assert all(not s.tags for s in stored)  # questions sharing passages are not taken for twins


def test_a_reply_naming_no_shown_passage_is_asked_again(tmp_path, index, openai_stub):
    settings = settings_for(index, tmp_path / "index", k=2)
    bad, _ = reply_for(index.chunks(), WRITTEN[:3])
    for item, n in zip(bad["samples"], (1, 42, 3)):
        item["input"] = str(n)
    again, _ = reply_for(index.chunks(), WRITTEN[3:4])
    again["samples"][0]["input"] = "2"
    openai_stub.script(bad, again)
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", "Answer guests", SEEDS)
        batch, result = draft_retrieval_batch(store, "t1", model, settings, n=3, backoff_s=0)
    assert result.complete and result.attempts == 2 and result.dropped == {"invalid": 1}
    assert "'42' is not the number of a passage shown (1 to 3)" in result.errors[0]
    assert "Write exactly 1 samples" in openai_stub.user_prompts()[1]


def test_no_index_yet_and_an_index_of_another_embedding_model_are_refused(tmp_path, index):
    empty = DocumentIndex(tmp_path / "empty", "nothing")
    with pytest.raises(UserError, match="nothing is indexed yet"):
        settings_for(empty, tmp_path / "empty")
    gone = RetrievalSettings(str(tmp_path / "nowhere"), "old", "all-MiniLM-L6-v2")
    with pytest.raises(UserError, match="is gone"):
        gone.open_index()
    from tools.embeddings import chroma_client

    other = chroma_client(tmp_path / "other").get_or_create_collection(
        "docs-other", metadata={"embedding_model": "bge-small-en"}, embedding_function=None)
    other.add(ids=["a"], documents=["text"], embeddings=[[0.1] * 384])
    with pytest.raises(UserError, match="built with the embedding model 'bge-small-en'.*build it again"):
        DocumentIndex(tmp_path / "other", "other")


def test_an_empty_or_unreadable_document_is_reported_not_dropped(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "empty.md").write_text("  \n\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    (folder / "good.md").write_text("The gate opens at nine.", encoding="utf-8")
    report = DocumentIndex(tmp_path / "index", "mixed").add_documents([folder])
    assert list(map(lambda p: p.rsplit("/", 1)[1], report.indexed)) == ["good.md"]
    reasons = {path.rsplit("/", 1)[1]: why for path, why in report.skipped.items()}
    assert reasons["empty.md"] == "no text found in the file" and "not UTF-8" in reasons["binary.txt"]


def test_citations_and_saying_the_passages_do_not_answer():
    assert cite("It opens at 9.", 2) == "It opens at 9 [2]." and cite("9 am", 1) == "9 am [1]"
    assert cite("It opens at 9 [4].", 2) == "It opens at 9 [2]."  # the LLM's own citation is replaced
    assert strip_citations("200 euros [2]") == "200 euros"
    assert says_no_answer(NO_ANSWER) and says_no_answer("I don't know.")
    assert not says_no_answer("The deposit is 200 euros [1].")


def rows_sharing_passages() -> list[AlpacaSample]:
    from tools.dataset.passages import Passage, passages_block

    block = passages_block([Passage("loft.md, chunk 1", DOCS["loft.md"]), Passage("cabin.md, chunk 1",
                                                                                   DOCS["cabin.md"])])
    questions = ["When does check-in start?", "How much is the deposit?", "Are pets allowed?",
                 "How many people can sleep there?", "What does firewood cost?", "Is there a phone signal?"]
    return [AlpacaSample(instruction=q, input=block, output=f"Answer {i} [1]") for i, q in enumerate(questions)]


def test_the_dataset_build_keeps_questions_that_share_their_passages(tmp_path):
    from tools.dataset.build import build_dataset

    rows = rows_sharing_passages()
    assert without_passages(rows[0].prompt_text()) == rows[0].instruction
    report = build_dataset(rows, tmp_path / "out", eval_fraction=0.0)
    kept = json.loads((tmp_path / "out" / "train.json").read_text())
    assert len(kept) == 6, report["dropped"]


MORE_WRITTEN = [("Check-in", "Can I arrive at the loft at noon?", "No, check-in starts at 3 pm."),
                ("deposit", "Is the loft deposit paid online?", "No, on arrival."),
                ("Pets", "Are cats welcome at the Harbour Loft?", "No pets are allowed."),
                ("sleeps", "Can a family of six book the Pine Cabin?", "Yes, it sleeps six."),
                ("Firewood", "Is firewood free at the Pine Cabin?", "No, 8 euros a basket."),
                ("signal", "Is there a landline at the cabin?", "Yes, in the hall."),
                ("repairs", "Why is the Old Mill shut in winter?", "For repairs, every February."),
                ("Breakfast", "Can I get breakfast at the mill at 11?", "No, it ends at 10."),
                ("deposit", "How much must I pay up front for the loft?", "A 200 euro deposit."),
                ("Breakfast", "What time does the Old Mill start serving breakfast?", "At 7:30.")]


def test_on_the_hybrid_path_batches_are_drafted_from_the_indexed_documents(tmp_path, openai_stub):
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.nodes import AgentDeps
    from agent.session import Session
    from tests.test_agent_paths import PROFILES, recommended
    from tools.settings import Settings

    settings = Settings(tunesmith_workspace=tmp_path / "ws", _env_file=None)
    store = ReviewStore(settings.workspace_file("tunesmith.db"))
    model = ChatOpenAI(base_url=openai_stub.base_url, api_key="k", model="m", max_retries=0)
    session = Session(settings, deps=AgentDeps(generation_model=model, store=store, workspace=settings.workspace,
                                               answer_question=lambda q, p, m: q), checkpointer=InMemorySaver())
    tid, _ = recommended(session, PROFILES["rag+fine-tune"])
    session.send(tid, {"text": "Start this path", "action": "start_path"})
    session.send(tid, {"text": "Continue to fine-tuning", "action": "start_finetune"})
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    index = session.paths.document_index(tid)
    index.add_documents([folder], max_chars=100, overlap=0)
    store.save_project(tid, "Answer guests' questions", SEEDS)
    openai_stub.script(reply_for(chunks_for_batch(index.chunks(), 0, 20), WRITTEN + MORE_WRITTEN)[0])
    view = session.send(tid, {"text": "Generate a batch", "action": "generate"})
    assert "drafted from your documents (each with up to 3 retrieved passages)" in view.messages[-1]["content"]
    samples = store.batch_samples(store.open_batch(tid).id)
    assert len(samples) == 20 and all(s.current.input.startswith(PASSAGES_HEADER) for s in samples)
    assert json.loads((settings.workspace / "projects" / tid / "retrieval.json").read_text())["k"] == 3

    # the person goes back to ordinary samples (Retrieval tab), then to the documents again
    from tools.rag.raft import RetrievalSettings, drafting_settings
    from tools.workspace import Workspace

    workspace, recommendation = Workspace(settings.workspace), session.view(tid).recommendation
    assert "ordinary samples" in session.paths.use_plain_samples(tid)
    assert drafting_settings(workspace, tid, recommendation) is None  # documents indexed, hybrid path: still plain
    assert RetrievalSettings.load(workspace.project_dir(tid)).k == 3  # kept: batch 1's runs are asked with it
    for sample in samples:
        store.approve(sample.id)
    session.send(tid, {"text": "Submit batch", "action": "submit"})
    openai_stub.script(batch_of_plain_samples := {"samples": [{"instruction": f"Is pet {i} allowed at the loft?",
                                                               "output": "Small dogs only."} for i in range(20)]})
    view = session.send(tid, {"text": "Generate a batch", "action": "generate"})
    assert "drafted from your documents" not in view.messages[-1]["content"]
    assert "<passages>" not in openai_stub.user_prompts()[-1]  # the ordinary request
    drafted = store.batch_samples(store.open_batch(tid).id)
    assert [s.current.instruction for s in drafted] == [r["instruction"] for r in batch_of_plain_samples["samples"]]
    assert session.paths.use_documents_for_samples(tid, 3).startswith("Training samples will be drafted from")
    assert drafting_settings(workspace, tid, recommendation).k == 3


def test_an_improvement_round_leaves_out_the_held_out_question_not_every_row_sharing_its_passages(tmp_path):
    from tools.dataset.versions import BuildSettings
    from tools.generation.project_dataset import build_project_version

    rows = rows_sharing_passages()
    with ReviewStore(tmp_path / "tunesmith.db") as store:
        store.save_project("t1", "Answer guests", SEEDS)
        for sample in store.batch_samples(store.add_batch("t1", rows).id):
            store.approve(sample.id)
        report = build_project_version(store, "t1", tmp_path / "versions",
                                       BuildSettings(eval_fraction=0.0, include_seeds=False), leave_out=rows[:1])
    assert report["train"] == 5


def test_a_project_folder_that_cannot_be_written_is_a_message_not_a_raw_error(tmp_path):
    from tools.rag.raft import use_plain_samples
    from tools.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    folder = workspace.project_dir("t1")
    folder.parent.mkdir(parents=True)
    folder.write_text("a file where the project folder should be", encoding="utf-8")  # refused even as root
    with pytest.raises(UserError, match="could not record the choice of ordinary samples .* press the button"):
        use_plain_samples(workspace, "t1")
    assert folder.read_text(encoding="utf-8").startswith("a file where")


def test_try_its_citation_check_says_where_the_answers_words_are():
    from tools.rag.raft import citation_check, passages_holding

    passages = ["Check-in at the Harbour Loft starts at 3 pm.", "Harbour Loft sleeps up to four guests.",
                "The Old Mill serves breakfast from 7:30."]
    assert passages_holding("four guests [2]", passages) == [2]
    assert citation_check("four guests [2]", passages) == "Check: the passage it cites holds the answer's words."
    assert citation_check("Four guests [1].", passages) == ("Check: the answer's words are in [2], not in [1], "
                                                            "which it cites.")
    assert citation_check("four guests", passages) == "Check: it cites no passage; its words are in [2]."
    assert citation_check("six guests and a dog [2]", passages).startswith("Check: no passage holds most")
    assert citation_check(NO_ANSWER, passages) == ""
    assert passages_holding("[3]", passages) == []  # nothing but a citation: no words to look for

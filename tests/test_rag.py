"""RAG over a person's documents: chunking, readers, a persistent index, answers that cite the right chunk."""

import json

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tools.cli import main
from tools.errors import UserError
from tools.rag.answer import cited_numbers
from tools.rag.chunk import chunk_text
from tools.rag.index import DocumentIndex, collection_name
from tools.rag.readers import read_document

REFUNDS = (
    "# Refunds\n\nCustomers get a full refund within 30 days of purchase.\n\n"
    "After 30 days we give store credit.\n"
)
SHIPPING = (
    "<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
    "<h1>Shipping</h1><p>Orders ship from our Rotterdam warehouse within two business days.</p></body></html>"
)
PRICING = "plan,price_eur,seats\nStarter,10,1\nTeam,49,10\n"


@pytest.fixture()
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "refunds.md").write_text(REFUNDS)
    (folder / "shipping.html").write_text(SHIPPING)
    (folder / "pricing.csv").write_text(PRICING)
    return folder


def test_chunks_respect_size_headings_and_overlap():
    body = " ".join(f"Step {i} of the setup is described in this sentence." for i in range(40))
    text = f"# Guide\n\nIntro paragraph.\n\n## Setup\n\n{body}\n\n## Billing\n\nInvoices go out monthly."
    chunks = chunk_text(text, "guide.md", max_chars=400, overlap=80)
    assert all(len(c.text) <= 400 for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    setup = [c for c in chunks if c.heading == "Setup"]
    assert len(setup) > 2 and all(c.text.startswith(("# Guide", "## Setup")) for c in setup)
    last_sentence = setup[0].text.rsplit(". ", 1)[-1].strip()
    assert last_sentence in setup[1].text  # neighbouring chunks overlap
    assert chunks[-1].heading == "Billing" and "Invoices go out monthly." in chunks[-1].text
    assert " ".join(c.text for c in chunks).count("Step 39 ") >= 1  # nothing lost at the end


def test_readers_strip_html_and_label_csv_cells(docs):
    html = read_document(docs / "shipping.html")
    assert "Rotterdam" in html and "alert" not in html and "color" not in html and "# Shipping" in html
    assert "plan: Team\nprice_eur: 49" in read_document(docs / "pricing.csv")


def test_bad_files_are_refused_with_a_reason(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    index = DocumentIndex(tmp_path / "index", "bad-files")
    report = index.add_documents(
        [tmp_path / name for name in ("scan.pdf", "notes.docx", "broken.json")]
        + [tmp_path / "latin1.txt", tmp_path / "missing.md"]
    )
    assert report.indexed == {}
    reasons = {name.rsplit("/", 1)[-1]: reason for name, reason in report.skipped.items()}
    assert "pdftotext" in reasons["scan.pdf"]
    assert "unsupported file type .docx" in reasons["notes.docx"]
    assert "not valid JSON (line 1" in reasons["broken.json"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "no such file" in reasons["missing.md"]
    assert index.count() == 0


def test_question_is_answered_from_the_right_chunk(docs, tmp_path):
    index = DocumentIndex(tmp_path / "index", "shop docs")
    report = index.add_documents([docs])
    assert sorted(n.rsplit("/", 1)[-1] for n in report.indexed) == [
        "pricing.csv",
        "refunds.md",
        "shipping.html",
    ]
    hits = index.search("Can I get my money back after three weeks?", k=3)
    assert hits[0].source.endswith("refunds.md") and hits[0].position == 0
    model = GenericFakeChatModel(messages=iter([AIMessage("Yes, within 30 days you get a full refund [1].")]))
    answer = index.answer("Can I get my money back after three weeks?", model, k=2)
    assert answer.used_llm and answer.cited == [1]
    assert answer.citations[0].source.endswith("refunds.md")
    extractive = index.answer("Where do orders ship from?", k=1)
    assert not extractive.used_llm and "Rotterdam" in extractive.text and "shipping.html" in extractive.text


def test_re_adding_a_file_replaces_its_chunks(docs, tmp_path):
    index = DocumentIndex(tmp_path / "index", "shop")
    index.add_documents([docs])
    assert index.count() == 3
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are possible within 14 days only.\n")
    report = index.add_documents([docs / "refunds.md"])
    assert list(report.indexed.values()) == [1] and index.count() == 3
    reopened = DocumentIndex(tmp_path / "index", "shop")  # persisted on disk
    texts = [hit.text for hit in reopened.search("refund period", k=3)]
    assert any("14 days" in t for t in texts) and not any("30 days" in t for t in texts)


def test_collection_names_are_sanitised():
    assert collection_name("My Docs!") == "docs-My-Docs"
    assert collection_name("a..b") == "docs-a.b"
    with pytest.raises(UserError, match="support-docs"):
        collection_name("!!!")


def test_cited_numbers_ignore_unknown_sources():
    assert cited_numbers("See [2], [1, 3] and [9].", count=3) == [2, 1, 3]


def test_cli_indexes_and_answers_as_json(docs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    (docs / "old.pdf").write_bytes(b"%PDF")
    assert main(["rag", "index", str(docs), "--name", "shop"]) == 1  # indexed, but one file was skipped
    out = capsys.readouterr()
    assert "refunds.md: 1 chunk" in out.out and "old.pdf" in out.err
    assert (tmp_path / "ws" / "rag" / "shop").is_dir()
    assert main(["rag", "ask", "How much is the Team plan?", "--name", "shop", "--k", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["citations"][0]["source"].endswith("pricing.csv") and result["used_llm"] is False
    assert main(["rag", "ask", "anything", "--name", "nope"]) == 2
    assert "no index named 'nope'" in capsys.readouterr().err
    assert main(["rag", "ask", "anything", "--name", "../escape"]) == 2


def test_cli_asks_a_real_openai_client_and_falls_back_on_server_errors(docs, tmp_path, monkeypatch, capsys):
    from openai_stub import OpenAIStub, Reply

    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("TUNESMITH_LLM_RETRIES", "0")
    monkeypatch.chdir(tmp_path)
    assert main(["rag", "index", str(docs), "--name", "shop"]) == 0
    capsys.readouterr()
    with OpenAIStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        stub.script(Reply.text("Orders leave Rotterdam within two business days [1]."), Reply.error(500))
        assert main(["rag", "ask", "Where do orders ship from?", "--name", "shop", "--k", "2", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["used_llm"] is True and result["cited"] == [1]
        assert result["citations"][0]["source"].endswith("shipping.html")
        assert "Rotterdam warehouse" in stub.user_prompts()[0]  # the excerpt reached the model
        assert main(["rag", "ask", "Where do orders ship from?", "--name", "shop"]) == 0
        out = capsys.readouterr()
        assert "Rotterdam" in out.out and "server error (500)" in out.err

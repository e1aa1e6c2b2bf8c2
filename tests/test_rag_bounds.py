"""`rag index` stays inside the folder it was given, and bounded on huge single-line documents."""

from __future__ import annotations

import time

from tools.cli import main
from tools.rag.chunk import chunk_text
from tools.rag.index import IndexReport, _expand


def _folder_with_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow.txt").write_text("root:$6$secret-hash")
    (outside / "more").mkdir()
    (outside / "more" / "keys.md").write_text("private key")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "guide.md").write_text("# Refunds\n\nRefunds take 5 days.")
    (docs / "sub" / "faq.txt").write_text("Shipping is free.")
    (docs / "shadow.txt").symlink_to(outside / "shadow.txt")  # a file link leaving the folder
    (docs / "more").symlink_to(outside / "more", target_is_directory=True)  # a folder link leaving it
    (docs / "alias.md").symlink_to(docs / "guide.md")  # a link that stays inside
    return docs


def test_links_leaving_the_folder_are_skipped_and_reported(tmp_path):
    docs = _folder_with_links(tmp_path)
    report = IndexReport()
    files = {p.name for p in _expand([docs], report)}
    assert files == {"guide.md", "faq.txt", "alias.md"}
    assert "outside" in report.skipped[str(docs / "shadow.txt")]
    assert "outside" in report.skipped[str(docs / "more")]
    assert not any("keys.md" in path for path in [*files, *report.skipped])


def test_rag_index_never_reads_a_linked_file_outside(tmp_path, monkeypatch, capsys):
    docs = _folder_with_links(tmp_path)
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    code = main(["rag", "index", str(docs), "--name", "docs"])
    out, err = capsys.readouterr()
    assert code == 1  # indexed, with skips to report
    assert "shadow.txt" not in out and "keys.md" not in out and "indexed" in out
    assert f"skipped {docs / 'shadow.txt'}: a link to" in err and "not followed" in err
    code = main(["rag", "ask", "root secret hash", "--name", "docs", "--json"])
    assert code == 0 and "secret-hash" not in capsys.readouterr().out


def test_huge_single_line_document_chunks_in_linear_time():
    text = " ".join(["refund", "policy", "shipping", "days"][i % 4] for i in range(2_000_000))  # ~15 MB, one line
    start = time.perf_counter()
    chunks = chunk_text(text, "one-line.txt", 1200, 150)
    elapsed = time.perf_counter() - start
    assert len(chunks) > 10_000 and max(len(c.text) for c in chunks) <= 1200
    assert elapsed < 15, f"chunking took {elapsed:.1f} s"  # the quadratic version took minutes at this size


def test_chunks_per_file_are_capped_and_the_cap_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TUNESMITH_WORKSPACE", str(tmp_path / "ws"))
    big = tmp_path / "big.txt"
    big.write_text(" ".join(f"word{i}" for i in range(5000)))  # ~40 kB on one line
    code = main(["rag", "index", str(big), "--name", "big", "--max-chunks", "3"])
    out, err = capsys.readouterr()
    assert code == 1 and "3 chunks" in out
    assert "only the first 3 of" in err and "--max-chunks" in err

"""A persistent, searchable index of a person's documents (one chromadb collection per project)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prompts.rag import RAG_REQUEST, RAG_SYSTEM_PROMPT
from tools.errors import BAD_CONTENT, UserError, printable
from tools.rag.answer import Answer, answer_with_fallback, key_sentences, number_sources
from tools.rag.chunk import chunk_text
from tools.rag.readers import read_document

ADD_BATCH = 256  # chunks per chromadb add call
# Embedding runs at ~10-100 chunks/s on a CPU: an 18 MB one-line file (~18k chunks) would take half an hour.
MAX_CHUNKS_PER_FILE = 2000


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: its id, the file it came from, its position in that file, text and similarity."""

    chunk_id: str
    source: str
    position: int
    text: str
    score: float

    @property
    def label(self) -> str:
        return f"{Path(self.source).name}, chunk {self.position + 1}"


@dataclass
class IndexReport:
    """What add_documents did: chunks per indexed file, and each skipped file with the reason."""

    indexed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    truncated: dict[str, str] = field(default_factory=dict)  # files only partly indexed, and why
    unusable: list[str] = field(default_factory=list)  # skipped files that were read but whose content is unusable

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collection_name(name: str) -> str:
    """A valid chromadb collection name (3-512 chars of [a-zA-Z0-9._-], alphanumeric ends) for a project."""
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^a-zA-Z0-9._-]+", "-", name)).strip("._-")
    if not cleaned:
        raise UserError(f"index name {name!r} has no letters or digits; use a name like 'support-docs'")
    return f"docs-{cleaned}"[:512]


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


LINK_LOOP = "a link loop (it leads back to itself through links); not followed: point the link at a real file"


def _resolved(path: Path) -> Path | None:
    """Where path leads once every link is followed, or None for a link loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError "Symlink loop" (Python 3.11), OSError ELOOP (3.13)
        return None


def _folder_files(folder: Path, report: IndexReport) -> list[Path]:
    """Every file under folder, without following links out of it: a link leaving the folder, or going round in
    a loop, is reported and the rest is indexed."""
    root = folder.resolve()
    files: list[Path] = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(dirs):
            if (Path(current) / name).is_symlink():  # os.walk does not descend into it: say so
                target = _resolved(Path(current) / name)
                report.skipped[str(Path(current) / name)] = (
                    LINK_LOOP if target is None else
                    f"a link to {target}, outside {folder}; not followed" if not _inside(target, root)
                    else "a link to a folder inside the same folder; its files are indexed from there")
        for name in names:
            path = Path(current) / name
            target = _resolved(path)
            if target is None:
                report.skipped[str(path)] = LINK_LOOP
            elif not _inside(target, root):
                report.skipped[str(path)] = (f"a link to {target}, outside {folder}; not followed "
                                             "(copy the file into the folder to index it)")
            elif target.is_file():
                files.append(path)
    return sorted(files)


def _expand(paths: list[Path], report: IndexReport) -> list[Path]:
    """Files to read: a folder gives every file in it (unsupported ones are then reported, not dropped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_symlink() and _resolved(path) is None:
            report.skipped[str(path)] = LINK_LOOP
        elif path.is_dir():
            files.extend(_folder_files(path, report))
        elif path.exists():
            files.append(path)  # named by the person: read even when it is a link
        else:
            report.skipped[str(path)] = "no such file or folder; check the path"
    return files


class DocumentIndex:
    """Chunks of documents in a persistent collection; re-adding a file replaces its chunks."""

    def __init__(self, persist_dir: Path | str | None, name: str):
        from tools.embeddings import EMBEDDING_MODEL, chroma_client, open_collection

        self.name = name
        self._collection = open_collection(chroma_client(persist_dir), collection_name(name))
        built_with = self.settings().get("embedding_model", EMBEDDING_MODEL)  # older indexes: the only model then
        if built_with != EMBEDDING_MODEL:  # its vectors and a question's would not be comparable: refuse, say why
            raise UserError(
                f"the index {name!r} ({persist_dir}) was built with the embedding model {built_with!r}, but "
                f"questions are embedded with {EMBEDDING_MODEL!r}, so their vectors cannot be compared; build it "
                "again: delete that folder and index your documents again", BAD_CONTENT)
        if "embedding_model" not in self.settings():
            self._record(embedding_model=EMBEDDING_MODEL)

    def settings(self) -> dict[str, Any]:
        """How the index was built: embedding_model, and max_chars/overlap of the chunking (once documents are in)."""
        return dict(self._collection.metadata or {})

    def _record(self, **settings: Any) -> None:
        self._collection.modify(metadata={**self.settings(), **settings})

    def chunks(self) -> list[Hit]:
        """Every chunk in the index (score 1.0), in file and position order."""
        found = self._collection.get(include=["documents", "metadatas"])
        hits = [Hit(chunk_id, meta["source"], int(meta["position"]), text, 1.0)
                for chunk_id, meta, text in zip(found["ids"], found["metadatas"], found["documents"])]
        return sorted(hits, key=lambda hit: (hit.source, hit.position))

    def count(self) -> int:
        """Number of chunks in the index."""
        return self._collection.count()

    def add_documents(
        self,
        paths: list[Path | str],
        max_chars: int = 1200,
        overlap: int = 150,
        max_chunks: int = MAX_CHUNKS_PER_FILE,
    ) -> IndexReport:
        """Read, chunk and index each file (folders: their supported files); unreadable files are skipped.

        Links inside a folder that lead out of it are skipped and reported; a file that makes more than
        max_chunks chunks is indexed up to that many and reported as truncated.
        """
        report = IndexReport()
        for path in _expand([Path(p) for p in paths], report):
            source = printable(str(_resolved(path) or path))  # a name that is not UTF-8 is stored as text
            try:
                chunks = chunk_text(read_document(path), source, max_chars, overlap)
            except UserError as exc:
                report.skipped[source] = exc.message.removeprefix(f"{path}: ")  # the report names the file
                if exc.exit_code == BAD_CONTENT:
                    report.unusable.append(source)
                continue
            if not chunks:
                report.skipped[source] = "no text found in the file"
                report.unusable.append(source)
                continue
            if len(chunks) > max_chunks:
                report.truncated[source] = (
                    f"only the first {max_chunks} of {len(chunks)} chunks were indexed (about "
                    f"{max_chunks * max_chars // 1000} kB of text); split the file or raise --max-chunks")
                chunks = chunks[:max_chunks]
            self._collection.delete(where={"source": source})  # re-indexing a file replaces its old chunks
            key = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
            for start in range(0, len(chunks), ADD_BATCH):
                batch = chunks[start : start + ADD_BATCH]
                self._collection.add(
                    ids=[f"{key}-{c.position}" for c in batch],
                    documents=[c.text for c in batch],
                    metadatas=[
                        {"source": source, "position": c.position, "heading": c.heading} for c in batch
                    ],
                )
            report.indexed[source] = len(chunks)
        if report.indexed:  # what retrieval samples and their evaluation must chunk and retrieve with
            self._record(max_chars=max_chars, overlap=overlap)
        return report

    def search(self, query: str, k: int = 4) -> list[Hit]:
        """The k chunks closest in meaning to the query, best first (empty when the index is empty)."""
        from tools.embeddings import cosine_score

        if not query.strip():
            raise UserError("the question is empty; type what you want to find in your documents")
        if k < 1:
            raise UserError(f"k must be at least 1 (got {k})")
        count = self.count()
        if count == 0:
            return []
        found = self._collection.query(query_texts=[query], n_results=min(k, count))
        return [
            Hit(chunk_id, meta["source"], int(meta["position"]), text, cosine_score(dist))
            for chunk_id, meta, text, dist in zip(
                found["ids"][0], found["metadatas"][0], found["documents"][0], found["distances"][0]
            )
        ]

    def answer(self, query: str, chat_model: Any | None = None, k: int = 4) -> Answer:
        """An answer citing the retrieved chunks as [n] (Answer.citations[n-1] is hit n).

        Without a chat model, or when the call fails, the most relevant sentences of each chunk are quoted.
        """
        hits = self.search(query, k)
        if not hits:
            raise UserError(
                f"the index {self.name!r} is empty; add documents first (tunesmith rag index ...)"
            )
        request = RAG_REQUEST.format(question=query.strip(), excerpts=number_sources(hits))
        return answer_with_fallback(
            hits, chat_model, RAG_SYSTEM_PROMPT, request, lambda: _extractive(query, hits)
        )


def _extractive(query: str, hits: list[Hit]) -> str:
    lines = ["Most relevant passages in your documents:"]
    lines.extend(
        f"[{n}] ({hit.label}) {key_sentences(query, hit.text, 3)}" for n, hit in enumerate(hits, start=1)
    )
    return "\n".join(lines)

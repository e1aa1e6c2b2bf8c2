"""RAG + fine-tuning (RAFT: Zhang et al. 2024, "Adapting Language Model to Domain Specific RAG"): training samples
whose input holds retrieved passages, so the tuned model learns to answer from them, cite the one it used, and say
so when none answers.

The LLM writes a question and its answer for a chunk of the person's documents; the retrieval and the passages
are ours: the chunk that answers (the "oracle") among the best other chunks for the question, at a random place;
one sample in five gets passages without it (its answer then says the passages do not answer). The settings
(index, embedding model, k, chunking) are kept in retrieval.json beside the project's datasets, so evaluation and
try-it retrieve as the samples did, and export writes them beside the model.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prompts.raft import NO_ANSWER, RAFT_REQUEST, RAFT_SYSTEM_PROMPT
from tools.dataset.passages import Passage, is_retrieval_input, passages_block
from tools.dataset.schema import AlpacaSample
from tools.errors import BAD_CONTENT, UserError
from tools.rag.answer import cited_numbers, number_sources
from tools.rag.index import DocumentIndex, Hit

SETTINGS_FILE = "retrieval.json"
# beside SETTINGS_FILE: the person chose ordinary samples again (the settings stay: earlier runs are evaluated,
# tried and exported with them)
PLAIN_SAMPLES_FILE = "retrieval.off"
DEFAULT_K = 3  # three chunks of the default 1,200 characters, with the question, fit max_seq_len 1,024
NO_ANSWER_EVERY = 5  # one sample in five has no passage that answers it (RAFT's share without the oracle)
HOLDS_SHARE = 0.6  # a passage holds an answer when it has this share of the answer's words
_ANSWER_WORD = re.compile(r"\d+|[^\W\d_]{3,}")  # numbers, and words of three or more letters
_CITATIONS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
# how a model says it cannot answer: our own NO_ANSWER and the usual phrasings of a base model
_NO_ANSWER = re.compile(r"\b(do(es)? not (answer|say|mention|contain|cover)|don't (know|answer|say)|do not know|"
                        r"not (mentioned|stated|covered|in the passages)|no passage|cannot (answer|tell))\b")


@dataclass(frozen=True)
class RetrievalSettings:
    """How retrieval samples were made, and so how their model must be asked: the index (folder and name), the
    embedding model it was built with, k passages per question, and the chunking of its documents."""

    index_dir: str
    index_name: str
    embedding_model: str
    k: int = DEFAULT_K
    max_chars: int = 1200
    overlap: int = 150

    def open_index(self) -> DocumentIndex:
        """The index, refused with a clear message when it is gone or was built with another embedding model."""
        if not Path(self.index_dir).is_dir():
            raise UserError(f"the document index {self.index_name!r} is gone ({self.index_dir}); index the "
                            "documents again on the Retrieval tab (same chunking: "
                            f"{self.max_chars} characters, overlap {self.overlap})")
        index = DocumentIndex(self.index_dir, self.index_name)
        if index.settings().get("embedding_model") != self.embedding_model:
            raise UserError(f"the index {self.index_name!r} now embeds with {index.settings().get('embedding_model')!r}"
                            f" but its samples were retrieved with {self.embedding_model!r}; build the index again "
                            "with the same model, or draft new samples from it", BAD_CONTENT)
        return index

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SETTINGS_FILE
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> RetrievalSettings | None:
        """The settings kept in folder, None when there are none; UserError when the file is broken."""
        path = folder / SETTINGS_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        except (ValueError, TypeError) as exc:
            raise UserError(f"{path}: not valid retrieval settings ({exc}); delete it and choose the documents "
                            "for fine-tuning again on the Retrieval tab", BAD_CONTENT) from None


def settings_for(index: DocumentIndex, index_dir: Path, k: int = DEFAULT_K) -> RetrievalSettings:
    """The settings of samples drawn from this index; refused while nothing is indexed."""
    if index.count() == 0:
        raise UserError("nothing is indexed yet: upload your documents on the Retrieval tab and press **Index**; "
                        "then the training samples can be drafted from them")
    if not 1 <= k <= 10:
        raise UserError(f"k (passages per question) must be between 1 and 10 (got {k})")
    built = index.settings()
    return RetrievalSettings(str(index_dir), index.name, built["embedding_model"], k,
                             int(built.get("max_chars", 1200)), int(built.get("overlap", 150)))


# --- the answer: citations and "the passages do not answer" -------------------------------------------------------


def strip_citations(text: str) -> str:
    return _CITATIONS.sub("", text).strip()


def cite(answer: str, n: int) -> str:
    """The answer citing passage n before its final punctuation: 'It opens at 9 [2].'"""
    text = strip_citations(answer)
    return f"{text[:-1]} [{n}]{text[-1]}" if text[-1:] in (".", "!", "?") else f"{text} [{n}]"


def says_no_answer(text: str) -> bool:
    return bool(_NO_ANSWER.search(" ".join(text.lower().replace("’", "'").split())))


def passages_holding(answer: str, passages: Sequence[str]) -> list[int]:
    """The passages (numbered from 1) that hold the most of the answer's words, citations aside, when that is at
    least HOLDS_SHARE of them; [] when none does or the answer has no words to look for."""
    words = set(_ANSWER_WORD.findall(strip_citations(answer).lower()))
    if not words:
        return []
    shares = [len(words & set(_ANSWER_WORD.findall(text.lower()))) / len(words) for text in passages]
    best = max(shares, default=0.0)
    return [n for n, share in enumerate(shares, start=1) if share == best] if best >= HOLDS_SHARE else []


def citation_check(answer: str, passages: Sequence[str]) -> str:
    """Try-it's check of an answer against the passages it was asked with: whether the passage it cites holds its
    words (a small model may answer from one passage and cite another); '' when it says none answers."""
    if says_no_answer(answer):
        return ""
    holding = passages_holding(answer, passages)
    if not holding:
        return ("Check: no passage holds most of the answer's words, so it may not come from your documents; "
                "compare it with them.")
    where = ", ".join(f"[{n}]" for n in holding)
    cited = cited_numbers(answer, len(passages))
    if not cited:
        return f"Check: it cites no passage; its words are in {where}."
    if set(cited) <= set(holding):
        return "Check: the passage it cites holds the answer's words."
    wrong = ", ".join(f"[{n}]" for n in cited if n not in holding)
    return f"Check: the answer's words are in {where}, not in {wrong}, which it cites."


# --- the passages: ours, not the LLM's ------------------------------------------------------------------------


def passages_with(index: DocumentIndex, question: str, oracle: Hit, k: int) -> tuple[list[Hit], int]:
    """k passages for the question: the oracle among the k-1 best others, at a place drawn from the question (so
    the model must read them, not count); returns them and the oracle's number (1-based)."""
    others = [hit for hit in index.search(question, k + 1) if hit.chunk_id != oracle.chunk_id][: k - 1]
    place = random.Random(question).randint(0, len(others))
    return [*others[:place], oracle, *others[place:]], place + 1


def passages_without(index: DocumentIndex, question: str, oracle: Hit, k: int) -> list[Hit]:
    """The k best passages for the question other than the oracle and its neighbours (which share text with it)."""
    def near(hit: Hit) -> bool:
        return hit.source == oracle.source and abs(hit.position - oracle.position) <= 1

    return [hit for hit in index.search(question, k + 3) if not near(hit)][:k]


def retrieval_input(hits: list[Hit]) -> str:
    return passages_block([Passage(hit.label, hit.text) for hit in hits])


def retrieval_sample(index: DocumentIndex, question: str, answer: str, oracle: Hit, k: int, answerable: bool,
                     system: str = "") -> AlpacaSample:
    """A training sample: the question, k passages (with or without the oracle), and the cited answer or
    NO_ANSWER."""
    if answerable:
        hits, number = passages_with(index, question, oracle, k)
        return AlpacaSample(instruction=question, input=retrieval_input(hits), output=cite(answer, number),
                            system=system)
    return AlpacaSample(instruction=question, input=retrieval_input(passages_without(index, question, oracle, k)),
                        output=NO_ANSWER, system=system)


def is_retrieval_sample(sample: AlpacaSample) -> bool:
    return is_retrieval_input(sample.input)


# --- drafting a batch from the person's documents -----------------------------------------------------------------


def chunks_for_batch(chunks: list[Hit], batch_number: int, n: int) -> list[Hit]:
    """The chunks the batch's questions are written about: the next n of a fixed shuffled order, so that batch
    after batch goes round every chunk of the documents."""
    order = sorted(chunks, key=lambda hit: random.Random(hit.chunk_id).random())
    start = batch_number * n % len(order)
    return [order[(start + i) % len(order)] for i in range(min(n, len(order)))]


class RetrievalDrafter:
    """The prompt and the sample-maker that tools.generation.batch.generate_batch drafts retrieval samples with:
    the LLM names the chunk a question is about ("input": its number), and the passages are assembled here."""

    def __init__(self, index: DocumentIndex, chunks: list[Hit], k: int, task: str, system: str = ""):
        self.index, self.chunks, self.k = index, chunks, k
        self.task, self.system = task, system
        self.made = 0

    def prompt(self, count: int, slots: dict[str, str]) -> list[dict[str, str]]:
        """The request for count samples; slots: what every drafting request carries (tools.generation.prompt.
        review_slots: examples, notes, corrections, rejections, questions already written)."""
        request = RAFT_REQUEST.format(task=self.task.strip(), **slots, passages=number_sources(self.chunks),
                                      count=count)
        return [{"role": "system", "content": RAFT_SYSTEM_PROMPT}, {"role": "user", "content": request}]

    def sample(self, item: Any) -> AlpacaSample:
        """The retrieval sample for one reply item; ValueError names what is wrong with it."""
        if not isinstance(item, dict):
            raise TypeError(f"expected an object, got {type(item).__name__}")
        question, answer = str(item.get("instruction") or "").strip(), str(item.get("output") or "").strip()
        if not question or not strip_citations(answer):
            raise ValueError("instruction and output must both be written")
        number = str(item.get("input") or "").strip().strip("[]")
        if not number.isdigit() or not 1 <= int(number) <= len(self.chunks):
            raise ValueError(f"input: {number[:20]!r} is not the number of a passage shown (1 to {len(self.chunks)})")
        self.made += 1
        answerable = self.made % NO_ANSWER_EVERY != 0
        return retrieval_sample(self.index, question, answer, self.chunks[int(number) - 1], self.k, answerable,
                                self.system)


def next_drafter(store: Any, project_id: str, settings: RetrievalSettings, n: int) -> RetrievalDrafter:
    """The drafter of the project's next batch: the next n chunks of its documents (see chunks_for_batch)."""
    index = settings.open_index()
    chunks = index.chunks()
    if not chunks:
        raise UserError(f"the index {settings.index_name!r} holds no passages; index your documents on the "
                        "Retrieval tab first")
    project = store.project(project_id)
    return RetrievalDrafter(index, chunks_for_batch(chunks, len(store.batches(project_id)), n), settings.k,
                            project.task, project.system)


def draft_retrieval_batch(store: Any, project_id: str, chat_model: Any, settings: RetrievalSettings, n: int = 20,
                          **options: Any):
    """The project's next batch drafted from its documents (tools.generation.rounds: same retries, notes,
    corrections, dedup, storing and twin tags as any batch); returns (batch or None, BatchResult)."""
    from tools.generation.rounds import generate_next_batch

    drafter = next_drafter(store, project_id, settings, n)
    return generate_next_batch(store, project_id, chat_model, n=n, build_prompt=drafter.prompt,
                               make_sample=drafter.sample, **options)


def next_retrieval_request(store: Any, project_id: str, settings: RetrievalSettings, n: int = 20) -> str:
    """The request the project's next batch drafted from its documents will send, word for word."""
    from tools.generation.rounds import next_batch_request

    return next_batch_request(store, project_id, n, build_prompt=next_drafter(store, project_id, settings, n).prompt)


# --- a conversation's documents (the Retrieval tab's index) --------------------------------------------------------


def conversation_index(workspace: Any, thread_id: str) -> DocumentIndex:
    """The index of the documents uploaded on a conversation's Retrieval tab."""
    return DocumentIndex(workspace.rag_index_dir(thread_id), name=f"docs-{thread_id}")


def use_documents(workspace: Any, thread_id: str, k: int = DEFAULT_K,
                  index: DocumentIndex | None = None) -> RetrievalSettings:
    """From now on the conversation's batches are drafted from its documents, k passages a question (index: the
    conversation's, when already open)."""
    index = index or conversation_index(workspace, thread_id)
    settings = settings_for(index, workspace.rag_index_dir(thread_id), k)
    folder = workspace.project_dir(thread_id)
    with _recording_choice(folder, "drafting from the documents"):
        settings.save(folder)
        (folder / PLAIN_SAMPLES_FILE).unlink(missing_ok=True)
    return settings


def use_plain_samples(workspace: Any, thread_id: str) -> None:
    """From now on the conversation's batches are ordinary samples again, on any path, until documents are chosen
    again (use_documents); samples already drafted from the documents stay as they are."""
    folder = workspace.project_dir(thread_id)
    with _recording_choice(folder, "ordinary samples"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PLAIN_SAMPLES_FILE).write_text("ordinary samples chosen on the Retrieval tab\n", encoding="utf-8")


@contextmanager
def _recording_choice(folder: Path, choice: str) -> Iterator[None]:
    """A disk that refuses the file (full, read-only) becomes a message: the choice was not recorded."""
    try:
        yield
    except OSError as exc:
        raise UserError(f"could not record the choice of {choice} in {folder}: {exc.strerror or exc}; free some "
                        "disk space or make the folder writable, then press the button again") from exc


def drafting_settings(workspace: Any, thread_id: str, recommendation: dict | None,
                      choose: bool = True) -> RetrievalSettings | None:
    """How a conversation's next batch is drafted from its documents: the settings chosen on the Retrieval tab; on
    the RAG + fine-tuning path (the recommendation's approach), the index's own as soon as documents are indexed,
    kept as chosen unless choose is False (a read: the panel showing the next request); None: ordinary samples,
    also whenever the person chose them again (use_plain_samples)."""
    folder = workspace.project_dir(thread_id)
    if (folder / PLAIN_SAMPLES_FILE).is_file():
        return None
    settings = RetrievalSettings.load(folder)
    if settings is not None or (recommendation or {}).get("approach") != "rag+fine-tune":
        return settings
    if not workspace.rag_index_dir(thread_id).is_dir():
        return None
    index = conversation_index(workspace, thread_id)
    if index.count() == 0:
        return None
    if choose:
        return use_documents(workspace, thread_id, index=index)
    return settings_for(index, workspace.rag_index_dir(thread_id))

"""The guidance knowledge base: short passages on adapting LLMs, searched by meaning; answers cite them.

Passages live in tools/advisor/knowledge/*.md: a front matter block (id, title, source), then 80-200 words.
Their vectors (each passage and each of its sentences) ship prebuilt in knowledge/index.npz, so the first question
only embeds itself (numpy MiniLM, no torch): about a second instead of a minute. When the passages change, the index
is rebuilt once into the workspace; `python -m tools.advisor.kb` rebuilds the shipped one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prompts.ask import ASK_REQUEST, ASK_SYSTEM_PROMPT
from tools.errors import UserError
from tools.rag.answer import Answer, answer_with_fallback, number_sources, split_sentences

KNOWLEDGE_DIR = Path(__file__).parent / "knowledge"
INDEX_FILE = "index.npz"  # in the knowledge folder (shipped) or in the workspace's guidance-index folder (rebuilt)
REQUIRED_FIELDS = ("id", "title", "source")


@dataclass(frozen=True)
class Passage:
    """One guidance passage; score is the cosine similarity to the question (0 when not from a search)."""

    id: str
    title: str
    source: str
    text: str
    score: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.title} ({self.source})"


@dataclass(frozen=True)
class ProfileHint:
    """When a profile field matches, a sentence applying the passage `passage_id` to the project."""

    field: str
    matches: Callable[[Any], bool]
    passage_id: str
    advice: str


def _is(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value in values


PROFILE_HINTS: tuple[ProfileHint, ...] = (
    ProfileHint(
        "data_dynamics",
        _is("dynamic"),
        "dynamic-data-rag",
        "Your data changes often, so keep that knowledge in a retrieval index (RAG), not in the weights.",
    ),
    ProfileHint(
        "data_dynamics",
        _is("static"),
        "dynamic-data-rag",
        "Your data is static, so a fine-tuned model will not go stale quickly.",
    ),
    ProfileHint(
        "requires_external_knowledge",
        _is(True),
        "knowledge-injection-trap",
        "You need external knowledge: supply it at query time with retrieval rather than fine-tuning it in.",
    ),
    ProfileHint(
        "custom_tone_behavior_style",
        _is(True),
        "tone-style-format",
        "You want a custom tone, behaviour or format, which is what fine-tuning teaches best.",
    ),
    ProfileHint(
        "hallucination_tolerance",
        _is("low"),
        "hallucination-grounding",
        "Your application tolerates few hallucinations: ground answers in retrieved passages and cite them.",
    ),
    ProfileHint(
        "transparency_required",
        _is(True),
        "hallucination-grounding",
        "You need traceable answers; RAG can show the source of each one, a fine-tuned model cannot.",
    ),
    ProfileHint(
        "labeled_data",
        _is("none", "few"),
        "openai-example-count",
        "You have little labelled data: start with prompting, and aim for 50-100 good examples first.",
    ),
    ProfileHint(
        "labeled_data",
        _is("hundreds", "thousands"),
        "when-finetuning-pays-off",
        "You have hundreds or more labelled examples, enough for a parameter-efficient fine-tune to pay off.",
    ),
    ProfileHint(
        "task_diversity",
        _is("broad"),
        "team-cost-diversity",
        "Your tasks are broad, which makes a single fine-tune harder; keep general data in the mix.",
    ),
    ProfileHint(
        "scale_latency_pressure",
        _is("high"),
        "distillation-cost-latency",
        "You are under cost or latency pressure: a small fine-tuned model can replace long prompts.",
    ),
    ProfileHint(
        "cost_complexity_expertise.budget",
        _is("low"),
        "cost-ladder",
        "Your budget is low: climb the cost ladder one rung at a time, starting with prompting.",
    ),
    ProfileHint(
        "preferred_approach",
        _is("fine-tune"),
        "knowledge-injection-trap",
        "You lean towards fine-tuning: make sure you want to change behaviour, not to teach facts.",
    ),
)


def _parse_passage(path: Path) -> Passage:
    """A passage from its markdown file; UserError naming the file and the problem when it is malformed."""
    raw = path.read_text(encoding="utf-8")
    parts = raw.split("---\n", 2)
    if len(parts) != 3 or parts[0].strip():
        raise UserError(
            f"{path}: missing front matter; start the file with '---', id/title/source lines, '---'"
        )
    fields: dict[str, str] = {}
    for line in parts[1].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    text = " ".join(parts[2].split())
    if missing:
        raise UserError(f"{path}: front matter lacks {', '.join(missing)}; add a 'name: value' line for each")
    if not text:
        raise UserError(f"{path}: the passage has no text after its front matter")
    return Passage(id=fields["id"], title=fields["title"], source=fields["source"], text=text)


def load_passages(folder: Path = KNOWLEDGE_DIR) -> list[Passage]:
    """All passages in the folder, sorted by file name; ids must be unique."""
    passages = [_parse_passage(path) for path in sorted(folder.glob("*.md"))]
    if not passages:
        raise UserError(f"no guidance passages (*.md) found in {folder}")
    ids = [p.id for p in passages]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UserError(
            f"{folder}: passage ids used twice: {', '.join(duplicates)}; give each passage its own id"
        )
    return passages


def _content_hash(passages: list[Passage]) -> str:
    blob = json.dumps([[p.id, p.title, p.source, p.text] for p in passages], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_index(passages: list[Passage]) -> dict[str, np.ndarray]:
    """Unit vectors of every passage (title + text) and of every sentence, with the passages' content hash."""
    from tools.embeddings import embed_texts  # torch batches faster; same vectors as the numpy query side

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(embed_texts(texts), dtype=np.float32)

    owners, sentences = [], []
    for number, passage in enumerate(passages):
        for sentence in split_sentences(passage.text):
            owners.append(number)
            sentences.append(sentence)
    return {
        "content_hash": np.array(_content_hash(passages)),
        "passage_vectors": embed([f"{p.title}. {p.text}" for p in passages]),
        "sentence_vectors": embed(sentences),
        "sentence_owner": np.array(owners, dtype=np.int32),
    }


def _read_index(path: Path, content_hash: str) -> dict[str, np.ndarray] | None:
    """The index stored at path, or None when it is missing, unreadable or built from other passages."""
    try:
        with np.load(path) as data:
            index = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError):
        return None
    return index if str(index.get("content_hash")) == content_hash else None


def write_index(index: dict[str, np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:  # np.savez on a name would append ".npz"
        np.savez_compressed(handle, **index)


class GuidanceKB:
    """The passages and their vectors: the shipped index, else one kept in persist_dir, else built there once."""

    def __init__(self, persist_dir: Path | str | None = None, knowledge_dir: Path = KNOWLEDGE_DIR):
        passages = load_passages(knowledge_dir)
        self.passages = {p.id: p for p in passages}
        self._order = [p.id for p in passages]
        content_hash = _content_hash(passages)
        kept = Path(persist_dir) / INDEX_FILE if persist_dir is not None else None
        index = _read_index(knowledge_dir / INDEX_FILE, content_hash) or (kept and _read_index(kept, content_hash))
        self.reindexed = index is None
        if index is None:
            index = build_index(passages)
            if kept is not None:
                write_index(index, kept)
        self._passage_vectors = index["passage_vectors"].astype(np.float32)
        self._sentence_vectors = index["sentence_vectors"].astype(np.float32)
        self._sentence_owner = index["sentence_owner"]
        self._sentences = [s for p in passages for s in split_sentences(p.text)]

    def embed_question(self, question: str) -> np.ndarray:
        from tools.embeddings_numpy import embed

        if not question.strip():
            raise UserError("the question is empty; ask something, e.g. 'should I fine-tune or use RAG?'")
        return embed([question])[0]

    def search(self, question: str, k: int = 4, vector: np.ndarray | None = None) -> list[Passage]:
        """The k passages closest in meaning to the question, best first (vector: the question's, if known)."""
        if k < 1:
            raise UserError(f"k must be at least 1 (got {k})")
        vector = self.embed_question(question) if vector is None else vector
        scores = self._passage_vectors @ vector
        best = np.argsort(-scores, kind="stable")[: min(k, len(self._order))]
        return [_with_score(self.passages[self._order[i]], round(float(scores[i]), 4)) for i in best]

    def key_sentences(self, vector: np.ndarray, passage_id: str, limit: int = 2) -> str:
        """The passage's `limit` sentences closest to the question vector, in their original order."""
        number = self._order.index(passage_id)
        rows = np.flatnonzero(self._sentence_owner == number)
        if len(rows) <= limit:
            return " ".join(self._sentences[i] for i in rows)
        best = sorted(rows[np.argsort(-(self._sentence_vectors[rows] @ vector), kind="stable")[:limit]])
        return " ".join(self._sentences[i] for i in best)

    def get(self, passage_id: str) -> Passage:
        return self.passages[passage_id]


_open_lock = threading.Lock()
_open: dict[tuple[str, str], GuidanceKB] = {}


def open_kb(persist_dir: Path | str | None = None, knowledge_dir: Path = KNOWLEDGE_DIR) -> GuidanceKB:
    """The knowledge base, loaded once per process and kept (the app answers every question from the same one)."""
    key = (str(persist_dir), str(knowledge_dir))
    with _open_lock:
        if key not in _open:
            _open[key] = GuidanceKB(persist_dir, knowledge_dir)
        return _open[key]


def _with_score(passage: Passage, score: float) -> Passage:
    return Passage(passage.id, passage.title, passage.source, passage.text, score)


def _flatten_profile(profile: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested answers as dotted keys ('cost_complexity_expertise.budget'); unknown answers (None) dropped."""
    flat: dict[str, Any] = {}
    for key, value in profile.items():
        if isinstance(value, dict):
            flat.update(_flatten_profile(value, f"{prefix}{key}."))
        elif value is not None:
            flat[f"{prefix}{key}"] = value
    return flat


def profile_hints(profile: dict[str, Any] | None) -> list[ProfileHint]:
    """The hints whose profile field matches, in table order."""
    flat = _flatten_profile(profile or {})
    return [hint for hint in PROFILE_HINTS if hint.field in flat and hint.matches(flat[hint.field])]


def default_kb() -> GuidanceKB:
    """The knowledge base of the workspace (a rebuilt index is kept there), loaded once per process."""
    from tools.settings import load_settings
    from tools.workspace import Workspace

    return open_kb(Workspace.from_settings(load_settings()).guidance_index)


def _extractive_answer(kb: GuidanceKB, vector: np.ndarray, passages: list[Passage], hints: list[ProfileHint]) -> str:
    """The closest sentences of each passage, cited as [n]; the sources themselves are listed by the renderer."""
    lines = ["From Tunesmith's guidance notes:"]
    for number, passage in enumerate(passages, start=1):
        lines.append(f"[{number}] {passage.title}: {kb.key_sentences(vector, passage.id)}")
    numbers = {p.id: n for n, p in enumerate(passages, start=1)}
    if hints:
        lines.append("For your project:")
        lines.extend(f"- {hint.advice} [{numbers[hint.passage_id]}]" for hint in hints)
    return "\n".join(lines)


def answer_question(
    question: str,
    profile: dict[str, Any] | None = None,
    chat_model: Any | None = None,
    kb: GuidanceKB | None = None,
    k: int = 4,
    persist_dir: Path | str | None = None,
) -> Answer:
    """Answer a question about adapting an LLM from the guidance passages, applied to the person's profile.

    With a chat model: an LLM answer citing passages as [n]. Without one, or when the call fails: an
    extractive answer (the most relevant sentences of each passage, a line per matching profile answer).
    Never raises on an LLM failure; Answer.note says why the answer is extractive. The knowledge base is `kb`,
    else the one stored in persist_dir, else the workspace's.
    """
    kb = kb or (open_kb(persist_dir) if persist_dir is not None else default_kb())
    vector = kb.embed_question(question)
    passages = kb.search(question, k, vector=vector)
    hints = profile_hints(profile)
    for hint in hints:  # a profile answer that matters brings its passage along, so the advice can cite it
        if hint.passage_id not in {p.id for p in passages}:
            passages.append(kb.get(hint.passage_id))
    request = ASK_REQUEST.format(
        question=question.strip(),
        profile=json.dumps(_flatten_profile(profile or {}), ensure_ascii=False, default=str),
        passages=number_sources(passages),
    )
    return answer_with_fallback(
        passages,
        chat_model,
        ASK_SYSTEM_PROMPT,
        request,
        lambda: _extractive_answer(kb, vector, passages, hints),
    )


def format_answer_markdown(answer: Answer) -> str:
    """The answer for a chat window: its text, the numbered sources as links, then the note if any."""
    lines = [answer.text, "", "**Sources**"]
    lines += [f"{n}. [{p.title}]({p.source})" for n, p in enumerate(answer.citations, start=1)]
    if answer.note:
        lines += ["", f"_{answer.note}_"]
    return "\n".join(lines)


def format_answer_text(answer: Answer) -> str:
    """The answer for a terminal: its text, the numbered sources with their addresses, then the note if any."""
    lines = [answer.text, "", "Sources:"]
    lines += [f"  [{n}] {p.title}: {p.source}" for n, p in enumerate(answer.citations, start=1)]
    if answer.note:
        lines += ["", f"({answer.note})"]
    return "\n".join(lines)


if __name__ == "__main__":  # rebuild the shipped index after editing the passages
    target = KNOWLEDGE_DIR / INDEX_FILE
    write_index(build_index(load_passages()), target)
    print(f"wrote {target}")

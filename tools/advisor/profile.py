"""The task profile (Meta's eight questions), its validation, and the interview questions as data."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from tools.errors import BAD_CONTENT, BAD_INPUT, UserError

Level = Literal["low", "medium", "high"]


class CostComplexity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: Level | None = None
    search_expertise: bool | None = None
    finetuning_experience: bool | None = None


class TaskProfile(BaseModel):
    """Every field optional: people rarely know all eight answers."""

    model_config = ConfigDict(extra="forbid")

    requires_external_knowledge: bool | None = None
    custom_tone_behavior_style: bool | None = None
    hallucination_tolerance: Level | None = None
    labeled_data: Literal["none", "few", "hundreds", "thousands"] | None = None
    data_dynamics: Literal["static", "dynamic", "n/a"] | None = None
    transparency_required: bool | None = None
    cost_complexity_expertise: CostComplexity | None = None
    task_diversity: Literal["narrow", "moderate", "broad"] | None = None
    scale_latency_pressure: Level | None = None
    # What the person already has in mind; lets the advisor warn about the knowledge-injection trap.
    preferred_approach: Literal["icl", "rag", "fine-tune", "rag+fine-tune"] | None = None

    def known(self) -> dict[str, Any]:
        """Only the answers given, flattened ('cost_complexity_expertise.budget' style keys)."""
        return {k: v for k, v in flatten(self.model_dump()).items() if v is not None}


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key == "cost_complexity_expertise":
            value = value or {}
            for sub in CostComplexity.model_fields:
                out[f"{name}.{sub}"] = value.get(sub)
        else:
            out[name] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if "." in key:
            parent, child = key.split(".", 1)
            out.setdefault(parent, {})[child] = value
        else:
            out[key] = value
    return out


def _allowed_values(model: type[BaseModel], field: str) -> str:
    annotation = str(model.model_fields[field].annotation)
    if "Literal" in annotation:
        return ", ".join(annotation.split("Literal[", 1)[1].split("]", 1)[0].replace("'", "").split(", "))
    if "bool" in annotation:
        return "true, false"
    return "an object with budget, search_expertise, finetuning_experience"


def validate_profile(data: Any, where: str = "profile", exit_code: int = BAD_INPUT) -> TaskProfile:
    """A TaskProfile, or a UserError naming the field, the bad value and the allowed values.

    exit_code: BAD_CONTENT when data came from a file the person gave, BAD_INPUT for answers typed in.
    """
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a JSON object of profile fields, got {type(data).__name__}",
                        exit_code)
    try:
        return TaskProfile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = [str(p) for p in err["loc"]]
            model: type[BaseModel] = CostComplexity if len(path) > 1 else TaskProfile
            field = path[-1]
            dotted = ".".join(path)
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(field, model.model_fields, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"unknown field '{dotted}'{hint}; allowed fields: {', '.join(model.model_fields)}")
            else:
                value = err.get("input")
                problems.append(f"field '{dotted}': {json.dumps(value)} is not allowed; "
                                f"allowed values: {_allowed_values(model, field)} (or leave it out if unknown)")
        raise UserError(f"{where}: " + "; ".join(problems), exit_code) from None


def load_profile(path: str | Path) -> TaskProfile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"profile file {path} does not exist; pass a JSON file of profile fields") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8 JSON", BAD_CONTENT) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                        BAD_CONTENT) from None
    return validate_profile(data, where=str(path), exit_code=BAD_CONTENT)


@dataclass(frozen=True)
class Question:
    field: str  # flattened name, e.g. "cost_complexity_expertise.budget"
    text: str
    choices: tuple[tuple[str, Any], ...]  # (label shown to the person, value stored)
    topic: str = ""  # a short label for the answer, shown in the profile panel
    example: str = ""  # a plain statement that answers it (the phrase table reads it), offered as a way to change it


YES_NO = (("Yes", True), ("No", False))
QUESTIONS: tuple[Question, ...] = (
    Question("requires_external_knowledge",
             "Does the model need knowledge it can't have learned in pre-training (your documents, products, "
             "internal facts)?", YES_NO, "Needs your own knowledge", "answers must come from our internal documents"),
    Question("data_dynamics", "How often does that knowledge change?",
             (("Rarely (static)", "static"), ("Often (weekly or faster)", "dynamic"), ("No such data", "n/a")),
             "How often that knowledge changes", "our docs change weekly"),
    Question("custom_tone_behavior_style",
             "Must answers follow a custom tone, vocabulary, behaviour or strict format (e.g. always valid JSON)?",
             YES_NO, "Custom tone or format", "replies must follow our brand voice"),
    Question("hallucination_tolerance", "How costly is a made-up answer?",
             (("Very costly (low tolerance)", "low"), ("Somewhat", "medium"), ("Harmless (high tolerance)", "high")),
             "Cost of a made-up answer", "it must never make things up"),
    Question("transparency_required", "Must answers cite where they come from?", YES_NO,
             "Answers cite their sources", "answers must cite sources"),
    Question("labeled_data", "How many worked examples (question + ideal answer) do you have?",
             (("None", "none"), ("A few (under 100)", "few"), ("Hundreds", "hundreds"), ("Thousands", "thousands")),
             "Worked examples", "we have about 300 examples"),
    Question("task_diversity", "How varied are the tasks the model must do?",
             (("One narrow task", "narrow"), ("A few related tasks", "moderate"), ("Very broad", "broad")),
             "Variety of tasks", "it does one narrow task"),
    Question("scale_latency_pressure", "How much do cost per call and latency matter (call volume)?",
             (("Little", "low"), ("Some", "medium"), ("A lot: high volume or real-time", "high")),
             "Volume and latency", "we handle millions of requests a day"),
    Question("cost_complexity_expertise.budget", "What budget do you have for compute and engineering?",
             (("Low", "low"), ("Medium", "medium"), ("High", "high")), "Budget", "we have a tight budget"),
    Question("cost_complexity_expertise.search_expertise", "Has your team run a search/retrieval system before?",
             YES_NO, "Search-system experience", "we already run Elasticsearch"),
    Question("cost_complexity_expertise.finetuning_experience", "Has your team fine-tuned a model before?", YES_NO,
             "Fine-tuning experience", "we have fine-tuned models before"),
)
QUESTION_BY_FIELD = {q.field: q for q in QUESTIONS}


def next_questions(profile: TaskProfile, asked: set[str] = frozenset(), limit: int = 2) -> list[Question]:
    """The most decision-relevant questions still unanswered (and not already skipped by the person)."""
    known = profile.known()
    pending = [q for q in QUESTIONS if q.field not in known and q.field not in asked]
    if known.get("requires_external_knowledge") is False:  # no knowledge, nothing to change
        pending = [q for q in pending if q.field != "data_dynamics"]
    return pending[:limit]


def choice_label(field: str, value: Any) -> str:
    """The quick-reply label of a stored answer ('hundreds' -> 'Hundreds'); the value itself when it has none."""
    question = QUESTION_BY_FIELD.get(field)
    labels = {v: label for label, v in question.choices} if question else {}
    return labels.get(value, str(value))


def apply_answer(profile: TaskProfile, field: str, value: Any) -> TaskProfile:
    """A new profile with one (flattened) field set; validated."""
    flat = flatten(profile.model_dump())
    flat[field] = value
    return validate_profile(unflatten({k: v for k, v in flat.items() if v is not None}))

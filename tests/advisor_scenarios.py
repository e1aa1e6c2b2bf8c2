"""The advisor's ground truth (tests/fixtures/advisor/scenarios.json) and the scores measured on it.

Shared by tests/test_advisor_scenarios.py (which asserts on the scores) and bench/bench_advice.py (which records them).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.advisor.keywords import read_profile_hints
from tools.advisor.profile import TaskProfile, flatten, unflatten, validate_profile
from tools.advisor.recommend import recommend

SCENARIOS_FILE = Path(__file__).parent / "fixtures" / "advisor" / "scenarios.json"


@dataclass(frozen=True)
class Scenario:
    id: str
    source: str  # a URL
    description: str  # what a person would type
    profile: dict[str, Any]  # exactly what the description states (nested, as a profile file)
    expected: str
    acceptable: tuple[str, ...]

    def stated(self) -> dict[str, Any]:
        """The stated answers as flattened fields."""
        return {k: v for k, v in flatten(validate_profile(self.profile).model_dump()).items() if v is not None}


def load_scenarios(path: Path = SCENARIOS_FILE) -> list[Scenario]:
    data = json.loads(path.read_text(encoding="utf-8"))
    sources = data["sources"]
    return [Scenario(c["id"], sources[c["source"]], c["description"], c["profile"], c["expected"],
                     tuple(c["acceptable"])) for c in data["cases"]]


def approach_for(flat_answers: dict[str, Any]) -> str:
    return recommend(TaskProfile.model_validate(unflatten(flat_answers))).approach


def score_rules(scenarios: list[Scenario]) -> dict[str, Any]:
    """Exact (the source's approach) and acceptable (one the source would sign) from the stated profiles."""
    misses = []
    exact = acceptable = 0
    for s in scenarios:
        got = recommend(validate_profile(s.profile)).approach
        exact += got == s.expected
        acceptable += got in s.acceptable
        if got != s.expected:
            misses.append({"id": s.id, "expected": s.expected, "got": got, "acceptable": got in s.acceptable})
    return {"cases": len(scenarios), "exact": exact, "acceptable": acceptable, "misses": misses}


def score_reading(scenarios: list[Scenario]) -> dict[str, Any]:
    """How well the no-LLM phrase table reads each description, and the approach it leads to.

    fields_right: stated fields read with the right value; fields_wrong: reads that contradict or add to what the
    description states. approach_from_text: the approach from the reads alone; approach_after_interview: the reads,
    then the interview asks only what was not read and gets the stated answers.
    """
    stated_total = right = wrong = from_text = after_interview = 0
    wrong_reads, missed = [], []
    for s in scenarios:
        stated = s.stated()
        reads = {h.field: h.value for h in read_profile_hints(s.description)}
        stated_total += len(stated)
        for field, value in reads.items():
            if stated.get(field) == value:
                right += 1
            else:
                wrong += 1
                wrong_reads.append({"id": s.id, "field": field, "read": value, "stated": stated.get(field)})
        missed += [{"id": s.id, "field": f} for f in stated if f not in reads]
        from_text += approach_for(reads) in s.acceptable
        after_interview += approach_for({**stated, **reads}) in s.acceptable
    return {"stated_fields": stated_total, "fields_right": right, "fields_wrong": wrong,
            "approach_from_text_acceptable": from_text, "approach_after_interview_acceptable": after_interview,
            "cases": len(scenarios), "wrong_reads": wrong_reads, "missed": missed}

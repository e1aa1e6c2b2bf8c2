"""The Alpaca sample: the one record every reader produces and every writer consumes."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AlpacaSample(BaseModel):
    """instruction + input = the question, output = the answer; history = earlier [instruction, answer] turns."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1)
    input: str = ""
    output: str = Field(min_length=1)
    system: str = ""
    history: list[tuple[str, str]] = Field(default_factory=list)

    @field_validator("instruction", "output")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def to_record(self) -> dict:
        """JSON-plain dict in Alpaca key order (history as lists, as LLaMA-Factory expects)."""
        return {
            "instruction": self.instruction,
            "input": self.input,
            "output": self.output,
            "system": self.system,
            "history": [list(turn) for turn in self.history],
        }

    def prompt_text(self) -> str:
        """The question as one string: instruction, then input when there is one."""
        return f"{self.instruction}\n\n{self.input}" if self.input else self.instruction


# Which twin a build keeps when samples duplicate or contradict each other: a person's edit beats a seed,
# a seed beats a sample approved as generated.
RANK_APPROVED, RANK_SEED, RANK_EDITED = 0, 1, 2


@dataclass(frozen=True)
class ReviewedRow:
    """A sample with where it came from: id links back to the review ("sample:17", "seed:2"); rank decides which
    twin a build keeps; keep_both marks a conflict the person resolved by keeping every answer."""

    sample: AlpacaSample
    id: str
    rank: int = RANK_APPROVED
    keep_both: bool = False

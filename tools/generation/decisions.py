"""A review decision as one typed value: the closed set of what a reviewer can decide, shared by the app's desk
(agent/data_studio.py), the terminal review and the store. `apply_decision` is the one place that turns a decision
into store writes; a kind outside the set is refused with a message, never silently taken as done."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from tools.dataset.schema import AlpacaSample
from tools.errors import UserError

if TYPE_CHECKING:
    from tools.generation.store import ReviewStore, StoredSample


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"  # needs a reason: it becomes an error note for the next batch
    EDIT = "edit"  # the person's corrected sample
    TAG = "tag"  # one sample: its tags replaced; bulk: one tag added to each
    RESET = "reset"  # pending again, as generated
    KEEP_ONE = "keep_one"  # a conflict: keep one answer, reject the others
    KEEP_BOTH = "keep_both"  # a conflict: both answers are right
    MERGE = "merge"  # a conflict: one answer written from both, the others rejected


CONFLICT_KINDS = frozenset({DecisionKind.KEEP_ONE, DecisionKind.KEEP_BOTH, DecisionKind.MERGE})
BULK_KINDS = frozenset({DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.RESET, DecisionKind.TAG})


@dataclass(frozen=True)
class Decision:
    """What a reviewer decided about some samples.

    One sample (bulk False) is compare-and-set against `seen`, the sample as the reviewer saw it: a decision made
    meanwhile elsewhere raises DecisionConflict and nothing is overwritten. Bulk decisions take every sample given
    and leave the ones no longer pending as they are (decided meanwhile by someone else)."""

    kind: DecisionKind
    sample_ids: tuple[int, ...]
    reason: str = ""
    edited: AlpacaSample | dict | None = None
    tags: str = ""
    seen: StoredSample | None = None
    bulk: bool = False
    keep_id: int | None = None  # conflicts: the sample kept (keep_one) or merged into (merge)
    merged: str = ""  # merge: the answer written from both

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DecisionKind(self.kind))
        except ValueError:
            raise UserError(f"unknown decision {self.kind!r}; use one of "
                            f"{', '.join(kind.value for kind in DecisionKind)}") from None
        object.__setattr__(self, "sample_ids", tuple(dict.fromkeys(int(i) for i in self.sample_ids)))
        if self.bulk and self.kind not in BULK_KINDS:
            raise UserError(f"'{self.kind}' is decided one sample at a time; bulk takes "
                            f"{', '.join(sorted(BULK_KINDS))}")
        if not self.bulk and self.kind not in CONFLICT_KINDS and len(self.sample_ids) != 1:
            raise UserError(f"'{self.kind}' of one sample needs exactly one sample id, got {len(self.sample_ids)}")

    @property
    def resolves_conflict(self) -> bool:
        return self.kind in CONFLICT_KINDS


class Applied(NamedTuple):
    changed: int  # samples changed
    said: str = ""  # a conflict's resolution in words (what was kept, what rejected)


def apply_decision(store: ReviewStore, decision: Decision) -> Applied:
    """Writes the decision (each committed at once); returns how many samples it changed.

    Raises UserError (DecisionConflict among them) with what went wrong; nothing is written then."""
    kind, ids = decision.kind, list(decision.sample_ids)
    if decision.resolves_conflict:
        from tools.generation.project_dataset import resolve_conflict  # twins and meaning: loaded only here

        return Applied(len(ids), resolve_conflict(store, ids, kind.value, decision.keep_id, decision.merged))
    if decision.bulk:
        if kind is DecisionKind.TAG:
            return Applied(store.bulk_tag(ids, decision.tags))
        return Applied(store.bulk(ids, kind, decision.reason, only_pending=True))
    sample_id, seen = ids[0], decision.seen
    match kind:
        case DecisionKind.APPROVE:
            store.approve(sample_id, seen=seen)
        case DecisionKind.REJECT:
            store.reject(sample_id, decision.reason, seen=seen)
        case DecisionKind.EDIT:
            if decision.edited is None:
                raise UserError("an edit needs the corrected sample")
            store.edit(sample_id, decision.edited, seen=seen)
        case DecisionKind.TAG:
            store.set_tags(sample_id, decision.tags)
        case DecisionKind.RESET:
            store.reset(sample_id, seen=seen)
        case _:
            raise UserError(f"unknown decision {kind!r}")
    return Applied(1)

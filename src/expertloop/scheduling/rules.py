"""Which item a worker gets next: the rules, declared once.

Each rule is one object with two renderings of the same meaning: ``sql``, a SQLAlchemy Core
expression over the claim's scope (:data:`expertloop.store.claims.SCOPE`: the candidate item
``i``, the ``assignments`` table, the worker, project and time of the claim), and a pure
Python evaluator over an :class:`ItemState` and a :class:`WorkerState`. :class:`RuleSet`
builds the database claim (:class:`~expertloop.store.claims.ClaimQuery`) from the ``sql``
side and the reference pick (:meth:`RuleSet.pick_next_item`) from the Python side; the tests
generate states and check that the database picks exactly what the Python side picks.

Adding a rule (a required skill, an exam, a suspension) is one :class:`Eligibility` added
to :data:`RULES`. Its ``sql`` must be cheap per candidate row (a correlated ``EXISTS`` on
an index), because the claim walks the claim-order index and tests each row in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, literal, select

from expertloop.store import tables as t
from expertloop.store.claims import SCOPE, ClaimQuery, ClaimScope

__all__ = [
    "CLOSEST_TO_COMPLETION",
    "HAS_OPEN_SLOT",
    "HIGHEST_PRIORITY",
    "IN_SERVICE",
    "NEW_TO_WORKER",
    "NOT_PAUSED",
    "OLDEST_FIRST",
    "RULES",
    "Eligibility",
    "ItemState",
    "OrderTerm",
    "RuleSet",
    "WorkerState",
    "lease_expires_at",
]


@dataclass(frozen=True, slots=True)
class ItemState:
    """An item as the rules see it. ``live_leases`` counts leases with status ``leased``,
    expired in time or not: a lease holds its slot until it is answered, released or swept."""

    id: int
    priority: int
    target: int
    answers: int
    live_leases: int
    disabled: bool = False

    @property
    def open_slots(self) -> int:
        return self.target - self.answers - self.live_leases


@dataclass(frozen=True, slots=True)
class WorkerState:
    """The worker asking, as the rules see them, in one project at one moment.

    ``assigned_items``: every item the worker ever had an assignment on, whatever its status.
    ``held_item``: the item of the worker's live lease in the project (status ``leased``
    and not past its expiry), if any; with several, the earliest lease's.
    ``paused``: a worker rule paused them in the project (``project_members.paused_at``).
    """

    assigned_items: frozenset[int] = frozenset()
    held_item: int | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Eligibility:
    """A condition every item handed out must meet."""

    name: str
    doc: str
    sql: Callable[[ClaimScope], ColumnElement[bool]]
    admits: Callable[[ItemState, WorkerState], bool]


@dataclass(frozen=True, slots=True)
class OrderTerm:
    """One key of the claim order. ``key`` sorts ascending, best first; ``sql`` must sort
    the same way (``.desc()`` where ``key`` negates)."""

    name: str
    doc: str
    sql: Callable[[ClaimScope], ColumnElement[Any]]
    key: Callable[[ItemState], int]


HAS_OPEN_SLOT = Eligibility(
    name="has_open_slot",
    doc="Answers plus live leases are below the item's target, so the item is never "
    "over-collected.",
    sql=lambda s: s.item.c.open_slots > 0,
    admits=lambda item, _: item.open_slots > 0,
)

IN_SERVICE = Eligibility(
    name="in_service",
    doc="A manager has not disabled or deleted the item (nor has the server, finding that its "
    "stored payload cannot be served).",
    sql=lambda s: s.item.c.disabled_at.is_(None),
    admits=lambda item, _: not item.disabled,
)

NEW_TO_WORKER = Eligibility(
    name="new_to_worker",
    doc="The worker never had the item, whatever became of that assignment (answered, "
    "skipped, reported as a problem, expired): a worker answers an item at most once, and "
    "a skip or a report is final.",
    sql=lambda s: (
        ~exists().where(
            s.assignments.c.item_id == s.item.c.id, s.assignments.c.worker_id == s.worker_id
        )
    ),
    admits=lambda item, worker: item.id not in worker.assigned_items,
)

_MEMBER = t.ProjectMember.__table__.alias("m")

NOT_PAUSED = Eligibility(
    name="not_paused",
    doc="A worker paused in the project by a worker rule gets nothing until a manager "
    "reinstates them. On PostgreSQL the claim takes a share lock on the worker's membership "
    "row as it reads it, and a pause updates that row before releasing the worker's leases: "
    "a claim racing a pause either waits and then sees the pause, or commits first and its "
    "lease is released by the pause. So no item is handed to a paused worker.",
    sql=lambda s: (
        select(literal(1))
        .select_from(_MEMBER)
        .where(
            _MEMBER.c.project_id == s.project_id,
            _MEMBER.c.user_id == s.worker_id,
            _MEMBER.c.paused_at.is_(None),
        )
        .with_for_update(read=True)
        .exists()
    ),
    admits=lambda _, worker: not worker.paused,
)

CLOSEST_TO_COMPLETION = OrderTerm(
    name="closest_to_completion",
    doc="Fewest open slots first, so finished data accrues early instead of every item "
    "being one-third done.",
    sql=lambda s: s.item.c.open_slots,
    key=lambda item: item.open_slots,
)

HIGHEST_PRIORITY = OrderTerm(
    name="highest_priority",
    doc="Then the item the manager ranked higher.",
    sql=lambda s: s.item.c.priority.desc(),
    key=lambda item: -item.priority,
)

OLDEST_FIRST = OrderTerm(
    name="oldest_first",
    doc="Then the item imported first, so the order is total and stable.",
    sql=lambda s: s.item.c.id,
    key=lambda item: item.id,
)


class RuleSet:
    """Eligibility conditions (all must hold) and an order (best first).

    The claim query is built from the rules once, on first use, and reused for every
    claim (on PostgreSQL, one statement prepared once per connection).
    """

    def __init__(self, *, eligibility: Iterable[Eligibility], order: Iterable[OrderTerm]) -> None:
        self.eligibility = tuple(eligibility)
        self.order = tuple(order)
        names = [r.name for r in self.eligibility] + [o.name for o in self.order]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique: {names}")
        self._claim_query: ClaimQuery | None = None

    @property
    def claim_query(self) -> ClaimQuery:
        """The database claim that obeys these rules (see ``store/claims.py``)."""
        if self._claim_query is None:
            self._claim_query = ClaimQuery(
                eligible=[rule.sql(SCOPE) for rule in self.eligibility],
                order_by=[term.sql(SCOPE) for term in self.order],
            )
        return self._claim_query

    def is_eligible(self, item: ItemState, worker: WorkerState) -> bool:
        return all(rule.admits(item, worker) for rule in self.eligibility)

    def order_key(self, item: ItemState) -> tuple[int, ...]:
        return tuple(term.key(item) for term in self.order)

    def pick_next_item(self, items: Iterable[ItemState], worker: WorkerState) -> ItemState | None:
        """What the claim hands the worker: the item of their live lease if they hold one
        (a reload never strands an item), otherwise the best eligible item; ``None`` when
        nothing is eligible."""
        items = list(items)
        if worker.held_item is not None:
            return next(i for i in items if i.id == worker.held_item)
        eligible = [i for i in items if self.is_eligible(i, worker)]
        return min(eligible, key=self.order_key, default=None)


RULES = RuleSet(
    eligibility=(HAS_OPEN_SLOT, IN_SERVICE, NEW_TO_WORKER, NOT_PAUSED),
    order=(CLOSEST_TO_COMPLETION, HIGHEST_PRIORITY, OLDEST_FIRST),
)
"""The rules every claim follows."""


def lease_expires_at(now: datetime, lease_seconds: int) -> datetime:
    return now + timedelta(seconds=lease_seconds)

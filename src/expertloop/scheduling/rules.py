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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, literal, select

from expertloop.store import tables as t
from expertloop.store.claims import SCOPE, ClaimQuery, ClaimScope

__all__ = [
    "CLOSEST_TO_COMPLETION",
    "DISPUTED_FIRST",
    "EXAM_NOT_LOCKED",
    "GOLD_WHEN_DUE",
    "HAS_OPEN_SLOT",
    "HAS_REQUIRED_SKILLS",
    "HIGHEST_PRIORITY",
    "IN_SERVICE",
    "NEW_TO_WORKER",
    "NOT_PAUSED",
    "OLDEST_FIRST",
    "QUALIFIED",
    "RULES",
    "UNCERTAIN_FIRST",
    "WITHIN_BUDGET",
    "WORKFORCE_RULES",
    "Eligibility",
    "ItemState",
    "OrderTerm",
    "Preference",
    "RuleSet",
    "TieredRules",
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
    gold: bool = False
    disputed: bool = False
    uncertainty: float = 0.0

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
    # The workforce (see services/workforce): the worker's skill levels and the project's
    # required ones; the project's exam pass mark and the worker's best exam score; whether
    # the worker failed this project's own exam and may not retry yet; whether a gold item
    # is due (None: the project does not mix gold); whether the worker is routed disputed
    # items first.
    skills: Mapping[str, int] = field(default_factory=dict)
    required_skills: Mapping[str, int] = field(default_factory=dict)
    pass_mark: float | None = None
    exam_score: float | None = None
    exam_locked: bool = False
    gold_due: bool | None = None
    routed: bool = False
    # Pay: the project's budget stopped claims, or cannot afford this worker's lease
    # (``pay_budgets.stopped``, ``pay_budget_blocks``; see services/pay_budget).
    budget_stopped: bool = False


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
    key: Callable[[ItemState], float]


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

UNCERTAIN_FIRST = OrderTerm(
    name="uncertain_first",
    doc="Then the item whose answers so far leave its consensus least certain (adaptive "
    "redundancy stores ``1 - confidence`` as ``items.uncertainty``; 0 elsewhere), so the "
    "answers that decide an item come before those that confirm one.",
    sql=lambda s: s.item.c.uncertainty.desc(),
    key=lambda item: -item.uncertainty,
)

OLDEST_FIRST = OrderTerm(
    name="oldest_first",
    doc="Then the item imported first, so the order is total and stable.",
    sql=lambda s: s.item.c.id,
    key=lambda item: item.id,
)


# --- the workforce: skills, qualification exams (see docs/workforce.md) ------------------
#
# These conditions name no column of the candidate item: each is an uncorrelated subquery
# over the claim's worker and project, which both databases evaluate once per claim (a
# "one-time filter"), not once per candidate row.

_skill = t.ProjectSkill.__table__.alias("ps")
_has = t.UserSkill.__table__.alias("us")
_wf = t.ProjectWorkforce.__table__.alias("wf")
_exam = t.ExamResult.__table__.alias("er")


def _lacks_a_required_skill(s: ClaimScope) -> ColumnElement[bool]:
    return exists().where(
        _skill.c.project_id == s.project_id,
        ~exists().where(
            _has.c.user_id == s.worker_id,
            _has.c.skill == _skill.c.skill,
            _has.c.level >= _skill.c.level,
        ),
    )


HAS_REQUIRED_SKILLS = Eligibility(
    name="has_required_skills",
    doc="The worker has every skill the project requires, at the level it requires or above "
    "(a project without required skills admits everyone).",
    sql=lambda s: ~_lacks_a_required_skill(s),
    admits=lambda _, worker: all(
        worker.skills.get(skill, 0) >= level for skill, level in worker.required_skills.items()
    ),
)


def _unqualified(s: ClaimScope) -> ColumnElement[bool]:
    return exists().where(
        _wf.c.project_id == s.project_id,
        _wf.c.exam_project_id.is_not(None),
        ~exists().where(
            _exam.c.exam_project_id == _wf.c.exam_project_id,
            _exam.c.worker_id == s.worker_id,
            _exam.c.best_score >= _wf.c.pass_mark,
        ),
    )


QUALIFIED = Eligibility(
    name="qualified",
    doc="The project names no qualification exam, or the worker's best score on it reaches "
    "the project's pass mark.",
    sql=lambda s: ~_unqualified(s),
    admits=lambda _, worker: worker.pass_mark is None
    or (worker.exam_score is not None and worker.exam_score >= worker.pass_mark),
)

EXAM_NOT_LOCKED = Eligibility(
    name="exam_not_locked",
    doc="In an exam project: a worker who failed it waits until their retry time before "
    "answering it again.",
    sql=lambda s: ~exists().where(
        _exam.c.exam_project_id == s.project_id,
        _exam.c.worker_id == s.worker_id,
        _exam.c.retry_at > s.now,
    ),
    admits=lambda _, worker: not worker.exam_locked,
)


_budget = t.PayBudget.__table__.alias("pb")
_budget_block = t.PayBudgetBlock.__table__.alias("pbb")

WITHIN_BUDGET = Eligibility(
    name="within_budget",
    doc="The project's budget has room for one more lease of this worker: a project whose "
    "spend plus the expected cost of its live leases (each at its worker's premiums) would "
    "pass its budget leases nothing until a manager raises it, and a worker whose premiums "
    "make their lease dearer than what is left gets nothing there while others at the base "
    "rate still do (the budget's refresh keeps the project's ``pay_budgets.stopped`` flag "
    "and the ``pay_budget_blocks`` rows; the claim never reads the ledger). Uncorrelated "
    "with the item: evaluated once per claim.",
    sql=lambda s: ~exists().where(_budget.c.project_id == s.project_id, _budget.c.stopped)
    & ~exists().where(
        _budget_block.c.project_id == s.project_id, _budget_block.c.worker_id == s.worker_id
    ),
    admits=lambda _, worker: not worker.budget_stopped,
)


@dataclass(frozen=True, slots=True)
class Preference:
    """An order term that depends on the worker: for a worker it ``applies`` to, the items
    it ``prefers`` come before all others (then the usual order).

    It is compiled as a *tier*: a claim restricted to the preferred items (``sql``, an
    eligibility condition with a partial index of its own) tried before the claim over
    the rest, so every claim stays a walk of an index in claim order. ``excludes`` says
    whether, for a worker it does not apply to, the preferred items are left out
    altogether (gold that is not due) rather than ordered as usual.
    """

    name: str
    doc: str
    sql: Callable[[ClaimScope], ColumnElement[bool]]
    prefers: Callable[[ItemState], bool]
    applies: Callable[[WorkerState], bool]
    in_use: Callable[[WorkerState], bool]
    excludes: bool = False

    def key(self, item: ItemState, worker: WorkerState) -> int:
        """0 for an item that comes first for this worker, 1 otherwise."""
        return 0 if self.applies(worker) and self.prefers(item) else 1

    def admits(self, item: ItemState, worker: WorkerState) -> bool:
        return not (
            self.excludes and self.in_use(worker) and not self.applies(worker)
            and self.prefers(item)
        )


GOLD_WHEN_DUE = Preference(
    name="gold_when_due",
    doc="In a project with a gold share, a gold item when the worker's gold answers fall "
    "below that share of their answers, and never a gold item otherwise: each worker's "
    "items are that share gold, served like any other item.",
    sql=lambda s: s.item.c.gold.is_not(None),
    prefers=lambda item: item.gold,
    applies=lambda worker: bool(worker.gold_due),
    in_use=lambda worker: worker.gold_due is not None,
    excludes=True,
)

DISPUTED_FIRST = Preference(
    name="disputed_first",
    doc="For a worker whose gold accuracy reaches the project's routing threshold, items "
    "whose answers so far disagree come first: the most reliable experts settle the "
    "uncertain items.",
    sql=lambda s: s.item.c.disputed,
    prefers=lambda item: item.disputed,
    applies=lambda worker: worker.routed,
    in_use=lambda worker: worker.routed,
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

    def order_key(self, item: ItemState) -> tuple[float, ...]:
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
    eligibility=(
        HAS_OPEN_SLOT,
        IN_SERVICE,
        NEW_TO_WORKER,
        NOT_PAUSED,
        HAS_REQUIRED_SKILLS,
        QUALIFIED,
        EXAM_NOT_LOCKED,
        WITHIN_BUDGET,
    ),
    order=(CLOSEST_TO_COMPLETION, HIGHEST_PRIORITY, UNCERTAIN_FIRST, OLDEST_FIRST),
)
"""The rules every claim follows."""


def _negated(preference: Preference) -> Eligibility:
    return Eligibility(
        name=f"not_{preference.name}",
        doc=f"Not preferred by {preference.name}.",
        sql=lambda s: ~preference.sql(s),
        admits=lambda item, _: not preference.prefers(item),
    )


def _only(preference: Preference) -> Eligibility:
    return Eligibility(
        name=f"only_{preference.name}",
        doc=f"Preferred by {preference.name}.",
        sql=preference.sql,
        admits=lambda item, _: preference.prefers(item),
    )


class TieredRules:
    """A :class:`RuleSet` with worker-dependent :class:`Preference` s in front of its order.

    The Python meaning (:meth:`pick_next_item`): the held lease first; otherwise, among the
    items the rules and the preferences admit, the one with the smallest (preference keys,
    rule order key). The database meaning (:meth:`claims`): one claim per tier, best tier
    first, each the base rules plus "preferred by this preference" or "not preferred by
    it"; every claim returns the held lease first, so a worker never holds two.

    Tiers are exact for preferences whose preferred sets do not overlap (an item is never
    both gold and disputed: disputes are not recorded on gold items).
    """

    def __init__(self, base: RuleSet, preferences: Sequence[Preference]) -> None:
        self.base = base
        self.preferences = tuple(preferences)
        self._sets: dict[tuple[tuple[str, bool], ...], RuleSet] = {}

    def _ruleset(self, conditions: tuple[tuple[Preference, bool], ...]) -> RuleSet:
        key = tuple((p.name, wanted) for p, wanted in conditions)
        found = self._sets.get(key)
        if found is None:
            extra = [(_only(p) if wanted else _negated(p)) for p, wanted in conditions]
            found = RuleSet(eligibility=(*self.base.eligibility, *extra), order=self.base.order)
            self._sets[key] = found
        return found

    def claims(self, worker: WorkerState) -> list[ClaimQuery]:
        """The claims to try in turn for this worker; the first that returns a lease wins."""
        excluded = tuple(
            (p, False) for p in self.preferences
            if p.excludes and p.in_use(worker) and not p.applies(worker)
        )
        applying = [p for p in self.preferences if p.applies(worker)]
        # Everything the earlier tiers preferred is left out of the later ones, so a tier
        # never hands out an item that belonged to a better tier it could not lock.
        tiers: list[ClaimQuery] = []
        before: tuple[tuple[Preference, bool], ...] = ()
        for preference in applying:
            tiers.append(self._ruleset((*excluded, *before, (preference, True))).claim_query)
            before = (*before, (preference, False))
        tiers.append(self._ruleset((*excluded, *before)).claim_query)
        return tiers

    def pick_next_item(self, items: Iterable[ItemState], worker: WorkerState) -> ItemState | None:
        items = list(items)
        if worker.held_item is not None:
            return next(i for i in items if i.id == worker.held_item)
        eligible = [
            i for i in items
            if self.base.is_eligible(i, worker)
            and all(p.admits(i, worker) for p in self.preferences)
        ]
        return min(
            eligible,
            key=lambda i: (
                tuple(p.key(i, worker) for p in self.preferences),
                self.base.order_key(i),
            ),
            default=None,
        )


WORKFORCE_RULES = TieredRules(RULES, (GOLD_WHEN_DUE, DISPUTED_FIRST))
"""The claim of projects with workforce settings: gold mixed in at the project's share and
disputed items routed to reliable workers, in front of :data:`RULES`."""


def lease_expires_at(now: datetime, lease_seconds: int) -> datetime:
    return now + timedelta(seconds=lease_seconds)

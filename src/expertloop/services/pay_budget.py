"""Project budgets: stop leasing before spend would pass the budget, resume when raised.

A budget's row keeps ``spent_minor`` (what the ledger took from the project's budget
account, added by the crediting pass in the same transaction as the postings) and
``committed_minor`` (the expected cost of the project's live leases, each at its worker's
premiums and the hourly rate's cap). The claim reads one flag, ``stopped``, and the rows of
``pay_budget_blocks`` (scheduling rule ``WITHIN_BUDGET``): never the ledger. The flag is
set when ``spent + committed + the cost of one more lease at the base rate`` would pass the
budget; a worker whose premiums make their lease cost more than what is left is blocked
alone, while base-rate workers go on. Both are kept by every
crediting pass (``pay_sweep_seconds``) and at once when a manager sets the budget or a
rate; so a project can overshoot by at most the work leased within one pass. Raising the
budget clears the flag in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import User
from expertloop.domain.money import MoneyError, check_currency
from expertloop.errors import InputInvalid
from expertloop.services.pay import MAX_AMOUNT_MINOR, RateBook, managed_project, unit_cost
from expertloop.services.pay_premiums import premium_amount, qualifying
from expertloop.store import Database, audit
from expertloop.store import pay as pay_store
from expertloop.store import pay_budgets as budget_store
from expertloop.store import pay_premiums as premium_store
from expertloop.store.pay import RateRow

__all__ = ["BudgetStatus", "budget_status", "lease_costs", "refresh_budgets", "set_budget"]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A project's budget as managers see it."""

    project_id: int
    amount_minor: int
    currency: str
    spent_minor: int
    committed_minor: int
    stopped: bool
    stopped_at: datetime | None

    @property
    def remaining_minor(self) -> int:
        return self.amount_minor - self.spent_minor - self.committed_minor

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id, "amount_minor": self.amount_minor,
            "currency": self.currency, "spent_minor": self.spent_minor,
            "committed_minor": self.committed_minor, "remaining_minor": self.remaining_minor,
            "stopped": self.stopped,
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
        }


def _status(row: budget_store.BudgetRow) -> BudgetStatus:
    return BudgetStatus(
        row.project_id, row.amount_minor, row.currency, row.spent_minor, row.committed_minor,
        row.stopped, row.stopped_at,
    )


def set_budget(
    db: Database, *, actor: User, project_id: int, amount_minor: int, currency: str
) -> BudgetStatus:
    """Set (or raise, or lower) the project's budget; claims stop or resume at once."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not (
        0 <= amount_minor <= MAX_AMOUNT_MINOR
    ):
        raise InputInvalid.on_field(
            "amount_minor", f"give an integer amount in minor units, 0 to {MAX_AMOUNT_MINOR}"
        )
    try:
        code = check_currency(currency)
    except MoneyError as exc:
        raise InputInvalid.on_field("currency", str(exc)) from None
    now = db.clock.now()
    with db.write() as conn:
        managed_project(conn, actor, project_id)
        rates = pay_store.rates(conn, [project_id])
        if rates and rates[-1].currency != code:
            raise InputInvalid.on_field(
                "currency", f"the project pays in {rates[-1].currency}; budget in it"
            )
        before = budget_store.budget(conn, project_id)
        budget_store.save_budget(
            conn, project_id=project_id, amount_minor=amount_minor, currency=code, now=now
        )
        if before is None:
            # Work paid before the budget existed counts against it.
            earlier = budget_store.project_spend(conn, project_id, code)
            budget_store.add_spend(conn, {project_id: earlier})
        _refresh(conn, project_id, now)
        after = budget_store.budget(conn, project_id)
        assert after is not None
        audit.record_event(
            conn, action="pay.budget_set", actor_id=actor.id, project_id=project_id, now=now,
            before=None if before is None else {"amount_minor": before.amount_minor,
                                                "currency": before.currency},
            after={"amount_minor": amount_minor, "currency": code, "stopped": after.stopped},
        )
    return _status(after)


def budget_status(db: Database, *, actor: User, project_id: int) -> BudgetStatus | None:
    with db.read() as conn:
        managed_project(conn, actor, project_id)
        row = budget_store.budget(conn, project_id)
    return None if row is None else _status(row)


def lease_costs(
    conn: Connection, rate: RateRow | None, lease_seconds: int, worker_ids: Iterable[int]
) -> tuple[int, dict[int, int]]:
    """The expected cost of one lease at the base rate (the piece rate, or the hourly rate
    over the lease time or its cap), and of each worker's lease with the premiums they
    qualify for now (those their answer's credit would use)."""
    ids = sorted(set(worker_ids))
    if rate is None:
        return 0, dict.fromkeys(ids, 0)
    base = unit_cost(rate, lease_seconds)
    if not rate.premiums:
        return base, dict.fromkeys(ids, base)
    quals = premium_store.qualifications(conn, ids)
    costs = {}
    for worker_id in ids:
        skills, kinds = quals.get(worker_id, ({}, frozenset()))
        costs[worker_id] = premium_amount(rate, base, qualifying(rate, skills, kinds))
    return base, costs


def _refresh(conn: Connection, project_id: int, now: datetime) -> bool | None:
    """Recompute the budget's committed cost, its flag and the workers it cannot afford;
    whether the flag changed to stopped (``True``), to running (``False``), or not at all
    (``None``)."""
    row = budget_store.budget(conn, project_id)
    if row is None:
        return None
    rate = RateBook(pay_store.rates(conn, [project_id])).rate_at(project_id, now)
    lease_seconds = budget_store.project_lease_seconds(conn, project_id) or 3600
    live = budget_store.live_leases_by_worker(conn, project_id, now)
    workers = set(live)
    if rate is not None and rate.premiums:  # who else might lease at a premium
        workers.update(budget_store.members(conn, project_id))
    unit, costs = lease_costs(conn, rate, lease_seconds, workers)
    committed = sum(n * costs.get(w, unit) for w, n in live.items())
    room = row.amount_minor - row.spent_minor - committed
    stopped = unit > room
    # Workers whose premiums make a lease dearer than what is left, while the base fits.
    blocked = {} if stopped else {w: c for w, c in costs.items() if c > room}
    added, freed = budget_store.save_blocks(conn, project_id, blocked, now)
    for action, ids in (("pay.budget_worker_stopped", added), ("pay.budget_worker_resumed", freed)):
        if ids:
            audit.record_event(
                conn, action=action, actor_id=None, project_id=project_id, now=now,
                details={"worker_ids": ids, "remaining_minor": room, "currency": row.currency,
                         "lease_costs_minor": {str(w): costs.get(w, unit) for w in ids}},
            )
    changed = budget_store.set_budget_state(
        conn, project_id=project_id, spent_minor=row.spent_minor, committed_minor=committed,
        stopped=stopped, now=now,
    )
    if not changed:
        return None
    audit.record_event(
        conn, action="pay.budget_stopped" if stopped else "pay.budget_resumed", actor_id=None,
        project_id=project_id, now=now,
        details={"amount_minor": row.amount_minor, "spent_minor": row.spent_minor,
                 "committed_minor": committed, "currency": row.currency},
    )
    return stopped


def refresh_budgets(db: Database) -> list[int]:
    """Refresh every budget; the projects that stopped now."""
    with db.read() as conn:
        ids = [row.project_id for row in budget_store.budgets(conn)]
    stopped = []
    for project_id in ids:
        with db.write() as conn:
            if _refresh(conn, project_id, db.clock.now()):
                stopped.append(project_id)
    return stopped

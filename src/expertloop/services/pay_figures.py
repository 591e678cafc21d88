"""A project's pay figures for its manager (the console's overview, ``docs/pay.md``):
spend, cost per accepted answer and per finished item, and each worker's effective hourly
rate against the deployment's minimum. Everything comes from the ledger's aggregates per
project (and the finished items' partial index), never from the answers one by one, except
the time on task of :mod:`expertloop.services.pay_effective` (one grouped query)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expertloop.domain import LedgerKind, User
from expertloop.domain.money import divide_half_up
from expertloop.services.pay import managed_project
from expertloop.services.pay_effective import EffectiveRates, Minimum, effective_rates
from expertloop.store import Database
from expertloop.store import pay as pay_store
from expertloop.store import pay_figures as figure_store
from expertloop.store import users as user_store

__all__ = ["PayFigures", "pay_figures"]


@dataclass(frozen=True, slots=True)
class PayFigures:
    """``currency`` is the project's main currency (its newest rate's); ``spend_minor`` is
    what its budget paid out in it (credits, less reversals, plus adjustments). An
    *accepted* answer is a credited answer not reversed in review."""

    project_id: int
    currency: str
    spend_minor: int
    other_spend: dict[str, int]
    credited_answers: int
    accepted_answers: int
    finished_items: int
    cost_per_accepted_minor: int | None
    cost_per_finished_minor: int | None
    rates: EffectiveRates
    usernames: dict[int, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id, "currency": self.currency,
            "spend_minor": self.spend_minor, "other_spend": self.other_spend,
            "credited_answers": self.credited_answers,
            "accepted_answers": self.accepted_answers, "finished_items": self.finished_items,
            "cost_per_accepted_minor": self.cost_per_accepted_minor,
            "cost_per_finished_minor": self.cost_per_finished_minor,
            "effective_rates": self.rates.to_dict(),
        }


def _per(total: int, count: int) -> int | None:
    return None if count <= 0 else divide_half_up(total, count)


def pay_figures(
    db: Database, *, actor: User, project_id: int, minimum: Minimum | None
) -> PayFigures | None:
    """The project's figures; ``None`` when it has no rate and nothing in the ledger."""
    with db.read() as conn:
        managed_project(conn, actor, project_id)
        rates = pay_store.rates(conn, [project_id])
        spend = figure_store.project_spend(conn, project_id)
        counts = figure_store.project_transaction_counts(conn, project_id)
        finished = figure_store.finished_items(conn, project_id)
    if not rates and not spend:
        return None
    currency = rates[-1].currency if rates else max(spend, key=lambda c: (spend[c], c))
    spent = spend.get(currency, 0)
    credited = counts.get(LedgerKind.CREDIT.value, 0)
    accepted = credited - counts.get(LedgerKind.REVERSAL.value, 0)
    report = effective_rates(db, actor=actor, project_id=project_id, minimum=minimum)
    with db.read() as conn:
        names = user_store.usernames(conn, [w.worker_id for w in report.workers])
    return PayFigures(
        project_id, currency, spent, {c: a for c, a in spend.items() if c != currency},
        credited, accepted, finished, _per(spent, accepted), _per(spent, finished), report,
        names,
    )

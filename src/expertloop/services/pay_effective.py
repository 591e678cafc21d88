"""Effective hourly rates: what each worker of a project earned (credits minus reversals)
divided by their time on task (the credited answers' durations), against the deployment's
minimum (``EXPERTLOOP_PAY_MINIMUM_HOURLY``, e.g. ``USD 1200``), as Prolific does with its
minimum rate. A manager-only report: it aggregates the project's ledger and answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from expertloop.domain import User
from expertloop.domain.money import MS_PER_HOUR, MoneyError, check_currency, divide_half_up
from expertloop.services.pay import managed_project
from expertloop.store import Database
from expertloop.store import pay_checks as check_store

__all__ = ["EffectiveRates", "Minimum", "WorkerRate", "effective_rates", "parse_minimum"]


@dataclass(frozen=True, slots=True)
class Minimum:
    currency: str
    hourly_minor: int


def parse_minimum(value: str) -> Minimum | None:
    """``"USD 1200"`` as a minimum; ``None`` for ``""``; ``ValueError`` otherwise."""
    if not value.strip():
        return None
    parts = value.split()
    try:
        if len(parts) != 2:
            raise ValueError
        return Minimum(check_currency(parts[0]), int(parts[1]))
    except (MoneyError, ValueError):
        raise ValueError(
            f"the minimum hourly rate must be a currency and minor units, e.g. 'USD 1200', "
            f"not {value!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class WorkerRate:
    worker_id: int
    answers: int
    seconds_on_task: int
    paid_minor: int
    currency: str
    hourly_minor: int | None  # None without time on task
    below_minimum: bool

    def to_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, "answers": self.answers,
                "seconds_on_task": self.seconds_on_task, "paid_minor": self.paid_minor,
                "currency": self.currency, "hourly_minor": self.hourly_minor,
                "below_minimum": self.below_minimum}


@dataclass(frozen=True, slots=True)
class EffectiveRates:
    project_id: int
    minimum: Minimum | None
    workers: list[WorkerRate]
    project_hourly_minor: int | None
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "minimum": None if self.minimum is None else {
                "currency": self.minimum.currency, "hourly_minor": self.minimum.hourly_minor},
            "project_hourly_minor": self.project_hourly_minor,
            "warning": self.warning,
            "workers": [w.to_dict() for w in self.workers],
        }


def _hourly(paid: int, ms: int) -> int | None:
    return None if ms <= 0 else divide_half_up(paid * MS_PER_HOUR, ms)


def effective_rates(
    db: Database, *, actor: User, project_id: int, minimum: Minimum | None
) -> EffectiveRates:
    """Each worker's effective hourly rate in the project, and a warning when the project
    as a whole (or any worker) is paid below the minimum."""
    with db.read() as conn:
        managed_project(conn, actor, project_id)
        pay = check_store.project_worker_pay(conn, project_id)
        time = check_store.project_worker_time(conn, project_id)
    workers = []
    total_paid = total_ms = 0
    currency = next((c for _, c in pay), minimum.currency if minimum else "")
    for (worker_id, cur), paid in sorted(pay.items()):
        answers, ms = time.get(worker_id, (0, 0))
        hourly = _hourly(paid, ms)
        low = (minimum is not None and cur == minimum.currency and hourly is not None
               and hourly < minimum.hourly_minor)
        workers.append(WorkerRate(worker_id, answers, ms // 1000, paid, cur, hourly, low))
        if cur == currency:
            total_paid += paid
            total_ms += ms
    project_hourly = _hourly(total_paid, total_ms)
    warning = None
    if minimum is not None and currency == minimum.currency:
        below = [w for w in workers if w.below_minimum]
        if project_hourly is not None and project_hourly < minimum.hourly_minor:
            warning = (f"this project pays {project_hourly} {currency} minor units an hour on "
                       f"average, below the minimum of {minimum.hourly_minor}")
        elif below:
            warning = f"{len(below)} worker(s) are paid below the minimum hourly rate"
    return EffectiveRates(project_id, minimum, workers, project_hourly, warning)

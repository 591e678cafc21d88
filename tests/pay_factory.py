"""A pay test's world: a manager, a reviewer, workers, a label project with a rate, and the
steps pay tests repeat (answer, review, let the crediting pass run, read the ledger)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role, User
from expertloop.services import pay, pay_ledger
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.reviews import decide_review, request_reviews
from expertloop.store import tables as t

LABELS = ["cat", "dog"]
LATER = pay.CREDIT_GRACE_SECONDS + 1


def at_once(*actions: Callable[[], object]) -> list[BaseException]:
    """Run the actions in threads released together (a barrier); what they raised."""
    start = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], object]) -> None:
        start.wait()
        try:
            action()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@dataclass
class PayWorld:
    env: Env
    clock: FakeClock
    manager: User
    reviewer: User
    workers: list[User]
    project: int
    answers: dict[int, int] = field(default_factory=dict)  # answer id -> worker id

    @classmethod
    def build(
        cls,
        env: Env,
        clock: FakeClock,
        *,
        workers: int = 1,
        items: int = 4,
        per_item: int = 1,
        gold: dict[int, str] | None = None,
        **rate: Any,
    ) -> PayWorld:
        """``items`` label items (``gold``: item number -> gold label); a rate if given
        (``kind``, ``amount_minor``, ...; currency USD by default)."""
        manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
        people = [env.user() for _ in range(workers)]
        project = env.project(
            manager,
            task_type="label",
            config={"labels": LABELS},
            members=[*people, reviewer],
            answers_per_item=per_item,
        )
        env.items(
            manager,
            project,
            [
                {
                    "external_id": f"i{k}",
                    "payload": {"text": f"thing {k}"},
                    **({"gold": {"label": gold[k]}} if gold and k in gold else {}),
                }
                for k in range(items)
            ],
        )
        world = cls(env, clock, manager, reviewer, people, project)
        if rate:
            world.rate(**rate)
        return world

    def rate(self, **options: Any) -> Any:
        options.setdefault("currency", "USD")
        return pay.set_rate(self.env.db, actor=self.manager, project_id=self.project, **options)

    def answer(self, worker: User, label: str = "cat", seconds: float = 0) -> int | None:
        """The worker's next item answered (``seconds`` on task); ``None`` if none leased."""
        a = next_assignment(self.env.db, actor=worker, project_id=self.project)
        if a is None:
            return None
        if seconds:
            self.clock.advance(seconds)
        answer_id = submit_answer(
            self.env.db, actor=worker, assignment_id=a.id, answer={"label": label}
        ).answer_id
        self.answers[answer_id] = worker.id
        return answer_id

    def review(self, answer_id: int, outcome: str) -> None:
        """Queue the answer for review (if it is not) and decide it."""
        request_reviews(
            self.env.db, actor=self.manager, project_id=self.project, answer_ids=[answer_id]
        )
        decide_review(
            self.env.db,
            actor=self.reviewer,
            review_id=self.review_id(answer_id),
            outcome=outcome,
            comment="no" if outcome == "rejected" else "",
            answer={"label": "dog"} if outcome == "fixed" else None,
        )

    def review_id(self, answer_id: int) -> int:
        with self.env.db.read() as conn:
            return int(
                conn.execute(
                    select(t.Review.id).where(t.Review.answer_id == answer_id)
                ).scalar_one()
            )

    def settle(self, seconds: float = LATER) -> pay.SweepResult:
        """Let time pass (past the grace period by default) and run a crediting pass."""
        self.clock.advance(seconds)
        return pay.credit(self.env.db)

    def money(self, worker: User) -> tuple[int, int, int]:
        """The worker's (pending, approved, paid), summed over currencies."""
        rows = pay_ledger.earnings(self.env.db, actor=worker, worker_id=worker.id)
        return (
            sum(r.pending for r in rows),
            sum(r.approved for r in rows),
            sum(r.paid for r in rows),
        )

    def transactions(self, answer_id: int | None = None) -> list[tuple[str, str]]:
        """(key, kind) of the ledger's transactions (of one answer), in order."""
        query = select(t.PayTransaction.key, t.PayTransaction.kind).order_by(t.PayTransaction.id)
        if answer_id is not None:
            query = query.where(t.PayTransaction.answer_id == answer_id)
        with self.env.db.read() as conn:
            return [(k, kind) for k, kind in conn.execute(query)]

    def reconciles(self) -> bool:
        report = pay_ledger.reconcile(self.env.db)
        assert report.differences == [], report.to_dict()
        return report.matches

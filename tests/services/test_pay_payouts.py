"""Payout batches (approved to paid, once, with a CSV) and the Beancount export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from db_fixtures import Env
from expertloop.clock import FakeClock
from expertloop.domain import Role
from expertloop.errors import PermissionDenied
from expertloop.services import pay, pay_ledger, pay_payouts
from expertloop.services.assignments import next_assignment, submit_answer


def test_a_payout_batch_pays_approved_money_once_and_writes_its_file_again(
    env: Env, clock: FakeClock, tmp_path: Path
) -> None:
    admin, manager = env.user(Role.ADMIN), env.user(Role.MANAGER)
    workers = [env.user() for _ in range(2)]
    project = env.project(manager, task_type="label", config={"labels": ["a", "b"]},
                          members=workers)
    env.items(manager, project, [{"external_id": "x", "payload": {"text": "x"}}])
    pay.set_rate(env.db, actor=manager, project_id=project, kind="piece", amount_minor=10,
                 currency="USD")
    a = next_assignment(env.db, actor=workers[0], project_id=project)
    assert a is not None
    submit_answer(env.db, actor=workers[0], assignment_id=a.id, answer={"label": "a"})
    clock.advance(pay.CREDIT_GRACE_SECONDS + 1)
    pay.credit(env.db)  # pending: not paid out
    for worker, amount in ((workers[0], 1234), (workers[1], 5)):
        pay_ledger.adjust(env.db, actor=manager, project_id=project, worker_id=worker.id,
                          amount_minor=amount, currency="USD", reason="approved work")
    pay_payouts.set_payout_reference(env.db, actor=workers[0], worker_id=workers[0].id,
                                     reference="DE89 3704 0044 0532 0130 00")
    with pytest.raises(PermissionDenied):
        pay_payouts.set_payout_reference(env.db, actor=workers[0], worker_id=workers[1].id,
                                         reference="mine")
    target = tmp_path / "payout.csv"
    with pytest.raises(PermissionDenied):
        pay_payouts.pay_batch(env.db, actor=manager, batch="2026-12", currency="USD",
                              path=target, secret_key="s")

    first = pay_payouts.pay_batch(env.db, actor=admin, batch="2026-12", currency="USD",
                                  path=target, secret_key="s")
    rows = list(csv.reader(target.read_text().splitlines()))
    again = pay_payouts.pay_batch(env.db, actor=admin, batch="2026-12", currency="USD",
                                  path=target, secret_key="s")

    assert (first.workers, first.total_minor, first.newly_paid) == (2, 1239, 2)
    assert (again.workers, again.total_minor, again.newly_paid) == (2, 1239, 0)
    assert list(csv.reader(target.read_text().splitlines())) == rows
    assert rows[0] == ["pseudonym", "account_reference", "amount", "currency"]
    assert rows[1][1:] == ["DE89 3704 0044 0532 0130 00", "12.34", "USD"]
    assert rows[1][0] == pay_payouts.payout_pseudonym("s", workers[0].id)
    assert rows[2][1:] == ["", "0.05", "USD"]
    earned = pay_ledger.earnings(env.db, actor=workers[0], worker_id=workers[0].id)
    assert (earned[0].pending, earned[0].approved, earned[0].paid) == (10, 0, 1234)
    nothing = pay_payouts.pay_batch(env.db, actor=admin, batch="2027-01", currency="USD",
                                    path=tmp_path / "next.csv", secret_key="s")
    assert nothing.workers == 0
    assert pay_ledger.reconcile(env.db).matches

    lines = list(pay_payouts.beancount_lines(env.db, actor=admin))
    assert f"1970-01-01 open Liabilities:Workers:W{workers[0].id}:Paid" in lines
    assert f"  Liabilities:Workers:W{workers[0].id}:Paid  12.34 USD" in lines
    assert any(line.endswith('* "adjustment" "approved work"') for line in lines)
    with pytest.raises(PermissionDenied):
        list(pay_payouts.beancount_lines(env.db, actor=manager))

"""``expertloop pay``: rate, budget, sweep, reconcile (exit 1 on a tampered ledger),
earnings, adjust."""

from __future__ import annotations

import json

from cli_helpers import cli  # noqa: F401 - a fixture
from sqlalchemy import update

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.store import tables as t


def test_the_operator_pays_answers_reconciles_and_catches_a_tampered_ledger(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    manager = env.user(Role.MANAGER)
    worker = env.user(Role.WORKER, username="wren")
    project = env.project(manager, members=[worker])
    env.items(manager, project, [pairwise_item(k) for k in range(3)])
    rate = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
               "--currency", "usd")
    assert rate.exit_code == 0, rate.output
    assert json.loads(rate.stdout)["currency"] == "USD"
    bad = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
              "--currency", "ZZZ")
    assert bad.exit_code == 1
    assert "unknown currency" in bad.stderr
    budget = cli("pay", "budget", str(project), "--amount", "10000", "--currency", "USD")
    assert json.loads(budget.stdout)["stopped"] is False
    for _ in range(2):
        a = next_assignment(env.db, actor=worker, project_id=project)
        assert a is not None
        submit_answer(env.db, actor=worker, assignment_id=a.id, answer={"choice": "A"})
    swept = cli("pay", "sweep", "--grace", "0")
    assert json.loads(swept.stdout)["credits"] == 2
    adjusted = cli("pay", "adjust", str(project), "wren", "--amount", "5", "--currency", "USD",
                   "--reason", "gold bonus")
    assert adjusted.exit_code == 0, adjusted.output
    earned = json.loads(cli("pay", "earnings", "wren").stdout)
    assert earned == [{"worker_id": worker.id, "currency": "USD", "pending_minor": 80,
                       "approved_minor": 5, "paid_minor": 0}]
    matched = cli("pay", "reconcile", "--grace", "0")
    assert matched.exit_code == 0, matched.output
    assert json.loads(matched.stdout)["ledger_matches"] is True

    with env.db.write() as conn:
        conn.execute(update(t.PayPosting).where(t.PayPosting.account == "pending")
                     .values(amount=t.PayPosting.amount + 1))
    tampered = cli("pay", "reconcile", "--grace", "0")
    assert tampered.exit_code == 1
    report = json.loads(tampered.stdout)
    assert report["ledger_matches"] is False
    assert report["differences"] == [{"owner": "worker", "owner_id": worker.id,
                                      "account": "pending", "currency": "USD",
                                      "expected": 80, "ledger": 82}]


def test_the_operator_pays_a_batch_and_exports_the_ledger(cli, env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    manager = env.user(Role.MANAGER)
    worker = env.user(Role.WORKER, username="wren")
    project = env.project(manager, members=[worker])
    assert cli("pay", "adjust", str(project), "wren", "--amount", "250", "--currency", "EUR",
               "--reason", "a bonus").exit_code == 0
    assert cli("pay", "account", "wren", "wren@example.org").exit_code == 0
    target = tmp_path / "payout.csv"
    paid = cli("pay", "payout", "2026-12", "--currency", "EUR", "-o", str(target))
    assert paid.exit_code == 0, paid.output
    assert json.loads(paid.stdout)["total_minor"] == 250
    assert target.read_text().splitlines()[1].endswith(",wren@example.org,2.50,EUR")
    exported = cli("pay", "export")
    assert exported.exit_code == 0, exported.output
    assert f"  Liabilities:Workers:W{worker.id}:Paid  2.50 EUR" in exported.stdout
    bad = cli("pay", "payout", "bad batch!", "--currency", "EUR", "-o", str(target))
    assert bad.exit_code == 1


def test_the_operator_gives_a_rate_premiums_as_json(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    rate = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
               "--currency", "usd", "--premium",
               '{"skill": "medicine", "min_level": 3, "basis_points": 2000}',
               "--premium", '{"credential": "licence", "amount_minor": 5}')
    assert rate.exit_code == 0, rate.output
    premiums = json.loads(rate.stdout)["premiums"]
    assert [p.get("skill", p.get("credential")) for p in premiums] == ["medicine", "licence"]
    not_json = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
                   "--currency", "usd", "--premium", "medicine>=3")
    assert not_json.exit_code == 1
    assert "--premium number 1 is not JSON" in not_json.stderr
    bad = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
              "--currency", "usd", "--premium", '{"credential": "wizardry", "amount_minor": 5}')
    assert bad.exit_code == 1
    assert "credential" in bad.stderr


def test_the_operator_sets_a_review_window_and_adds_lists_and_disables_bonus_rules(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    env.user(Role.ADMIN, username="root")
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    rate = cli("pay", "rate", str(project), "--kind", "piece", "--amount", "40",
               "--currency", "usd", "--review-window", "3600")
    assert rate.exit_code == 0, rate.output
    assert json.loads(rate.stdout)["review_window_seconds"] == 3600
    added = cli("pay", "bonus-rule", str(project), "--metric", "consensus_agreement",
                "--period", "month", "--threshold", "8000", "--min-count", "5",
                "--amount", "250", "--currency", "usd")
    assert added.exit_code == 0, added.output
    rule = json.loads(added.stdout)
    assert (rule["metric"], rule["threshold_bp"], rule["currency"]) == (
        "consensus_agreement", 8000, "USD")
    bad = cli("pay", "bonus-rule", str(project), "--metric", "speed", "--period", "month",
              "--threshold", "8000", "--min-count", "5", "--amount", "250", "--currency", "usd")
    assert bad.exit_code == 1
    assert "metric" in bad.stderr
    listed = cli("pay", "bonus-rules", str(project), "--disable", str(rule["id"]))
    assert listed.exit_code == 0, listed.output
    (shown,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert shown["disabled_at"] is not None
    paid = cli("pay", "bonus")
    assert paid.exit_code == 0, paid.output
    assert json.loads(paid.stdout) == {"bonuses": 0}

"""``client.pay`` against a real server."""

from __future__ import annotations

import pytest

from db_fixtures import Env, pairwise_item
from expertloop.client import Client, PermissionDenied
from expertloop.domain import Role
from expertloop.services import pay


def test_a_manager_prices_a_project_and_a_worker_reads_their_earnings_through_the_sdk(
    env: Env,
) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    project_id = env.project(manager_user, members=[worker_user])
    env.items(manager_user, project_id, [pairwise_item(0)])
    manager = Client(env.url, env.token_for(manager_user))
    worker = Client(env.url, env.token_for(worker_user))
    try:
        rate = manager.pay.add_rate(project_id, kind="hourly", amount_minor=3600,
                                    currency="USD", max_seconds_per_item=60,
                                    premiums=[{"skill": "law", "min_level": 5,
                                               "basis_points": 1000}])
        assert rate["max_seconds_per_item"] == 60
        assert rate["premiums"][0]["skill"] == "law"  # the worker has no law: no premium
        assert [r["id"] for r in manager.pay.rates(project_id)] == [rate["id"]]
        assert manager.pay.budget(project_id) is None
        assert manager.pay.set_budget(project_id, amount_minor=10_000,
                                      currency="USD")["stopped"] is False
        assignment = worker.projects.get(project_id).next()
        assert assignment is not None
        assignment.answer({"choice": "A"})
        pay.credit(env.db, grace_seconds=0)
        manager.pay.adjust(project_id, worker_id=worker_user.id, amount_minor=7,
                           currency="USD", reason="bonus")
        (earned,) = worker.pay.earnings(worker_user.id)
        assert earned["approved_minor"] == 7
        assert [line["kind"] for line in worker.pay.statement(worker_user.id)["lines"]] == [
            "credit", "adjustment"]
        with pytest.raises(PermissionDenied):
            worker.pay.reconciliation()
    finally:
        manager.close()
        worker.close()


def test_a_manager_sets_a_review_window_and_bonus_rules_through_the_sdk(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    project_id = env.project(manager_user)
    manager = Client(env.url, env.token_for(manager_user))
    try:
        rate = manager.pay.add_rate(project_id, kind="piece", amount_minor=25,
                                    currency="USD", review_window_seconds=86400)
        assert rate["review_window_seconds"] == 86400
        rule = manager.pay.add_bonus_rule(project_id, metric="gold_accuracy", period="week",
                                          threshold_bp=9000, min_count=10, amount_minor=300,
                                          currency="USD")
        assert (rule["metric"], rule["disabled_at"]) == ("gold_accuracy", None)
        manager.pay.disable_bonus_rule(project_id, rule["id"])
        (listed,) = manager.pay.bonus_rules(project_id)
        assert listed["disabled_at"] is not None
    finally:
        manager.close()


def test_the_sdk_reads_a_whole_statement_page_by_page(env: Env) -> None:
    from expertloop.services import pay_ledger

    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    project_id = env.project(manager_user, members=[worker_user])
    for k in range(5):
        pay_ledger.adjust(env.db, actor=manager_user, project_id=project_id,
                          worker_id=worker_user.id, amount_minor=k + 1, currency="USD",
                          reason=f"bonus {k}")
    worker = Client(env.url, env.token_for(worker_user))
    try:
        whole = worker.pay.statement(worker_user.id, page_size=2)
        assert [line["memo"] for line in whole["lines"]] == [f"bonus {k}" for k in range(5)]
        assert (whole["line_count"], whole["next_after"]) == (5, None)
        assert whole["closing_minor"] == {"USD": {"approved": 15}}
        first = worker.pay.statement_page(worker_user.id, limit=3)
        rest = worker.pay.statement_page(worker_user.id, after=first["next_after"])
        assert [line["memo"] for line in first["lines"] + rest["lines"]] == [
            line["memo"] for line in whole["lines"]]
        assert rest["next_after"] is None
    finally:
        worker.close()

"""``expertloop pay``: rate, budget, sweep, reconcile (exit 1 on a tampered ledger),
earnings, adjust, statement (page by page, as a table, JSON or CSV)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

from cli_helpers import cli  # noqa: F401 - a fixture
from sqlalchemy import update

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role
from expertloop.services import pay_ledger, pay_payouts
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.store import tables as t
from pay_factory import PayWorld


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


def _statement_history(
    env: Env, clock: FakeClock, tmp_path: Path
) -> tuple[PayWorld, list[datetime]]:
    """Three periods of the first worker's money (credits written by one pass at one instant,
    an approval, a reversal, an adjustment whose reason looks like a formula, a payout, more
    credits) while the other worker earns too; the world and the periods' bounds."""
    world = PayWorld.build(env, clock, workers=2, items=12, kind="piece", amount_minor=7)
    worker, other = world.workers
    bounds = [clock.now()]
    first = [world.answer(worker) for _ in range(5)]
    world.answer(other)
    world.settle()
    clock.advance(1)
    bounds.append(clock.now())
    world.review(first[0], "accepted")  # type: ignore[arg-type]
    world.review(first[1], "rejected")  # type: ignore[arg-type]
    world.settle()
    pay_ledger.adjust(env.db, actor=world.manager, project_id=world.project,
                      worker_id=worker.id, amount_minor=50, currency="USD",
                      reason="=bonus, May\nthanks")
    clock.advance(1)
    bounds.append(clock.now())
    pay_payouts.pay_batch(env.db, actor=env.user(Role.ADMIN, username="root"), batch="b1",
                          currency="USD", path=tmp_path / "payout.csv", secret_key="s")
    for _ in range(2):
        world.answer(worker)
    world.settle()
    clock.advance(1)
    bounds.append(clock.now())
    return world, bounds


def _json_statement(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    done = cli("pay", "statement", *args, "--json")
    assert done.exit_code == 0, done.output
    body: dict = json.loads(done.stdout)
    return body


def test_a_statement_prints_the_service_s_balances_and_every_line_once_across_pages(cli, env: Env, clock: FakeClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _ = _statement_history(env, clock, tmp_path)
    worker = world.workers[0]
    whole = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id)
    expected = [line.to_dict() for line in whole.lines]
    assert len(expected) == 11  # 5 + 2 credits, approval, reversal, adjustment, payout
    for size in ("1", "3", "1000"):
        got = _json_statement(cli, str(worker.id), "--page-size", size)
        assert got == {**whole.to_dict(), "next_after": None}, size
        assert [line["transaction_id"] for line in got["lines"]] == [
            line["transaction_id"] for line in expected]
    # The worker reads their own by username; amounts stay integers of minor units.
    own = _json_statement(cli, worker.username, "--as", worker.username, "--page-size", "2")
    assert own["closing_minor"] == {"USD": {"pending": 35, "approved": 0, "paid": 57}}
    assert own["closing_minor"]["USD"] == dict(
        zip(("pending", "approved", "paid"), world.money(worker), strict=True))

    table = cli("pay", "statement", worker.username, "--page-size", "2")
    assert table.exit_code == 0, table.output
    rows = [row for row in table.stdout.splitlines() if row[:4].isdigit()]
    assert [int(row.split()[2]) for row in rows] == [
        line["transaction_id"] for line in expected]
    assert "=bonus, May thanks" in table.stdout  # the memo's newline does not break a row
    balances = {tuple(cell.strip() for cell in row.split("│")[1:6])
                for row in table.stdout.splitlines() if "│ USD" in row}
    assert balances == {("USD", "pending", "0.00", "0.35", "0.35"),
                        ("USD", "approved", "0.00", "0.00", "0.00"),
                        ("USD", "paid", "0.00", "0.57", "0.57")}

    exported = cli("pay", "statement", str(worker.id), "--csv", "--page-size", "4")
    assert exported.exit_code == 0, exported.output
    records = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [int(r["transaction_id"]) for r in records] == [
        line["transaction_id"] for line in expected]
    adjustment = next(r for r in records if r["kind"] == "adjustment")
    assert (adjustment["approved_minor"], adjustment["memo"]) == ("50", "'=bonus, May\nthanks")
    for account in ("pending", "approved", "paid"):
        assert sum(int(r[f"{account}_minor"] or 0) for r in records) == (
            whole.closing["USD"].get(account, 0))


def test_a_statement_s_since_and_until_choose_the_period(cli, env: Env, clock: FakeClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, bounds = _statement_history(env, clock, tmp_path)
    worker = world.workers[0]
    middle = pay_ledger.statement(env.db, actor=worker, worker_id=worker.id,
                                  since=bounds[1], until=bounds[3])
    got = _json_statement(cli, str(worker.id), "--since", bounds[1].isoformat(),
                          "--until", bounds[3].isoformat(), "--page-size", "2")
    assert [line["kind"] for line in got["lines"]] == [
        "approval", "reversal", "adjustment", "payout", "credit", "credit"]
    assert got == {**middle.to_dict(), "next_after": None}
    assert got["opening_minor"] == {"USD": {"pending": 35}}
    # An offset is converted to UTC; one end alone is a half-open period.
    aware = (bounds[2] - timedelta(hours=2)).isoformat() + "-02:00"
    late = _json_statement(cli, str(worker.id), "--since", aware)
    assert [line["kind"] for line in late["lines"]] == ["payout", "credit", "credit"]
    early = _json_statement(cli, str(worker.id), "--until", bounds[1].isoformat())
    assert [line["kind"] for line in early["lines"]] == ["credit"] * 5
    day_after = (bounds[3] + timedelta(days=1)).date().isoformat()
    empty = _json_statement(cli, str(worker.id), "--since", day_after)
    assert (empty["lines"], empty["line_count"]) == ([], 0)
    assert empty["opening_minor"] == empty["closing_minor"] == middle.closing


def test_a_statement_refuses_bad_dates_unknown_users_and_other_workers_by_name(cli, env: Env, clock: FakeClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _ = _statement_history(env, clock, tmp_path)
    worker, other = world.workers
    cases = [
        (("--since", "2026-13-01"), "--since: '2026-13-01' is not an ISO date"),
        (("--until", "yesterday"), "--until: 'yesterday' is not an ISO date"),
        (("--since", "2026-12-02", "--until", "2026-12-01"), "--until must be later than"),
        (("--page-size", "0"), "--page-size must be 1 to 5000"),
        (("--json", "--csv"), "choose one of --json and --csv"),
    ]
    for args, message in cases:
        done = cli("pay", "statement", str(worker.id), *args)
        assert done.exit_code == 1, args
        assert message in done.stderr, (args, done.stderr)
        assert done.stdout == ""
    unknown = cli("pay", "statement", "nobody")
    assert unknown.exit_code == 1
    assert "no user with id or username 'nobody'" in unknown.stderr
    theirs = cli("pay", "statement", str(other.id), "--as", worker.username)
    assert theirs.exit_code == 1
    assert "you can see only your own statements" in theirs.stderr
    assert theirs.stdout == ""

"""``expertloop reviews`` and ``expertloop export --reviewed-only`` against real databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import cli  # noqa: F401 - a fixture

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import assignments, reviews


def _answered(env: Env, *, n_items: int = 3, per_item: int = 2) -> dict[str, Any]:
    """A pairwise project (manager ``mona``, reviewer ``rita``) whose items every worker
    answered with the canonical ``A``."""
    manager = env.user(Role.MANAGER, username="mona")
    reviewer = env.user(Role.REVIEWER, username="rita")
    workers = [env.user(username=f"wes-{n}") for n in range(per_item)]
    project = env.project(manager, members=[reviewer, *workers], answers_per_item=per_item)
    env.items(manager, project, [pairwise_item(n) for n in range(n_items)])
    answers: dict[int, int] = {}
    for worker in workers:
        while lease := assignments.next_assignment(env.db, actor=worker, project_id=project):
            shown_a = lease.item.payload["response_a"].startswith("A")
            stored = assignments.submit_answer(
                env.db,
                actor=worker,
                assignment_id=lease.id,
                answer={"choice": "A" if shown_a else "B"},
            )
            answers[stored.answer_id] = worker.id
    return {
        "project": project,
        "manager": manager,
        "reviewer": reviewer,
        "workers": workers,
        "answers": answers,
    }


def _decide(env: Env, reviewer: User, project: int, outcome: str, **extra: Any) -> int:
    review = reviews.next_review(env.db, actor=reviewer, project_id=project)
    assert review is not None
    reviews.decide_review(env.db, actor=reviewer, review_id=review.id, outcome=outcome, **extra)
    return review.worker_id


def _listed(env: Env, p: dict[str, Any]) -> list[Any]:
    return reviews.list_reviews(env.db, actor=p["manager"], project_id=p["project"], limit=1000)


def test_reviews_request_queues_samples_one_workers_answers_and_chosen_answers(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env)
    project = str(p["project"])

    # Two of the six answers (0.2 rounds up): wes-1 keeps at least one of its three for the
    # chosen ids below, whichever two are drawn.
    sampled = cli("reviews", "request", project, "--fraction", "0.2", "--as", "mona")
    assert sampled.exit_code == 0, sampled.output
    assert json.loads(sampled.stdout) == {"project": p["project"], "queued": 2}
    queued = {r.answer_id for r in _listed(env, p)}

    wes = p["workers"][0]
    left = sum(1 for a, w in p["answers"].items() if w == wes.id and a not in queued)
    by_name = cli("reviews", "request", project, "--count", "10", "--worker", "wes-0", "--as", "mona")
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.stdout)["queued"] == left
    now = {r.answer_id for r in _listed(env, p)}
    assert all(p["answers"][a] == wes.id for a in now - queued)

    rest = sorted(set(p["answers"]) - now)
    chosen = cli("reviews", "request", project, "--answer-ids", ",".join(map(str, rest)), "--as", "mona")
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout)["queued"] == len(rest)
    assert {r.answer_id for r in _listed(env, p)} == set(p["answers"])
    by_id = cli("reviews", "request", project, "--fraction", "1", "--worker", str(wes.id), "--as", "mona")
    assert json.loads(by_id.stdout)["queued"] == 0  # nothing is queued twice


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give exactly one of --fraction, --count and --answer-ids"),
        (("--fraction", "0.5", "--count", "2"), "(got --fraction and --count)"),
        (("--fraction", "0"), "must be above 0 and at most 1"),
        (("--fraction", "1.5"), "must be above 0 and at most 1"),
        (("--fraction", "half"), "Invalid value for '--fraction'"),
        (("--count", "0"), "must be at least 1"),
        (("--answer-ids", "1,two,3"), "'two' is not an answer id"),
        (("--answer-ids", ","), "give answer ids"),
        (("--answer-ids", "1,2", "--worker", "wes-0"), "Invalid value for --worker: applies to samples"),
    ],
)
def test_reviews_request_refuses_bad_arguments_as_usage_errors(cli, env: Env, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env, n_items=1, per_item=1)
    result = cli("reviews", "request", str(p["project"]), *args, "--as", "mona")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert _listed(env, p) == []


def test_reviews_request_reports_what_the_server_refuses(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env, n_items=1, per_item=1)
    project = str(p["project"])
    foreign = cli("reviews", "request", project, "--answer-ids", "999999", "--as", "mona")
    assert foreign.exit_code == 1
    assert f"not answers of project {project}: 999999" in foreign.stderr
    as_reviewer = cli("reviews", "request", project, "--count", "1", "--as", "rita")
    assert as_reviewer.exit_code == 1
    assert "only the project's managers" in as_reviewer.stderr
    nobody = cli("reviews", "request", project, "--count", "1", "--worker", "ghost", "--as", "mona")
    assert nobody.exit_code == 1
    assert "no user with id or username 'ghost'" in nobody.stderr
    assert _listed(env, p) == []


def test_reviews_list_writes_ndjson_in_id_order_and_filters_by_status(cli, env: Env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env, n_items=2, per_item=2)
    project = str(p["project"])
    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"], fraction=1.0)
    _decide(env, p["reviewer"], p["project"], "rejected", comment="off topic")
    _decide(env, p["reviewer"], p["project"], "fixed", answer={"choice": "tie"})

    everything = cli("reviews", "list", project, "--as", "rita")
    assert everything.exit_code == 0, everything.output
    rows = [json.loads(line) for line in everything.stdout.splitlines()]
    assert [r["review_id"] for r in rows] == sorted(r.id for r in _listed(env, p))
    assert sorted(r["answer_id"] for r in rows) == sorted(p["answers"])
    assert "listed 4 reviews" in everything.stderr
    first = rows[0]
    assert set(first) >= {"status", "source", "payload", "answer", "comment", "fixed_answer"}
    assert first["answered_at"].endswith("Z")

    out = tmp_path / "rejected.ndjson"
    rejected = cli("reviews", "list", project, "--status", "rejected", "-o", str(out), "--as", "mona")
    assert rejected.exit_code == 0, rejected.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["status"], row["comment"], row["reviewer_id"]) == ("rejected", "off topic", p["reviewer"].id)
    assert row["decided_at"].endswith("Z")
    fixed = cli("reviews", "list", project, "--status", "fixed", "--as", "mona")
    assert json.loads(fixed.stdout)["fixed_answer"] == {"choice": "tie"}
    pending = cli("reviews", "list", project, "--status", "pending", "--as", "mona")
    assert len(pending.stdout.splitlines()) == 2

    bad = cli("reviews", "list", project, "--status", "maybe", "--as", "mona")
    assert bad.exit_code == 2
    assert "'maybe' is not one of pending, accepted, rejected, fixed" in " ".join(bad.stderr.split())
    worker = cli("reviews", "list", project, "--as", "wes-0")
    assert worker.exit_code == 1
    assert "only the project's reviewers and managers" in worker.stderr


def test_reviews_list_follows_pages_past_the_page_size(cli, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env, n_items=3, per_item=2)
    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"], fraction=1.0)
    expected = sorted(r.id for r in _listed(env, p))
    assert len(expected) == 6
    monkeypatch.setattr(reviews, "MAX_LISTED", 4)  # the CLI's page size: pages of 4, then 2
    result = cli("reviews", "list", str(p["project"]), "--as", "mona")
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["review_id"] for line in result.stdout.splitlines()]
    assert ids == expected


def test_reviews_summary_shows_outcomes_and_each_workers_acceptance_rate(cli, env: Env) -> None:  # type: ignore[no-untyped-def]
    p = _answered(env, n_items=2, per_item=2)
    project = str(p["project"])
    empty = cli("reviews", "summary", project, "--as", "mona")
    assert empty.exit_code == 0, empty.output
    assert "No answers queued for review yet" in empty.stdout

    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"], fraction=1.0)
    outcomes: dict[int, list[str]] = {}
    for outcome, extra in (
        ("accepted", {}),
        ("rejected", {"comment": "wrong"}),
        ("accepted", {}),
    ):
        worker = _decide(env, p["reviewer"], p["project"], outcome, **extra)
        outcomes.setdefault(worker, []).append(outcome)

    as_json = cli("reviews", "summary", project, "--json", "--as", "mona")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["counts"] == {"pending": 1, "accepted": 2, "rejected": 1, "fixed": 0}
    for row in data["workers"]:
        mine = outcomes.get(row["worker_id"], [])
        assert row["accepted"] == mine.count("accepted")
        assert row["rejected"] == mine.count("rejected")
        assert row["acceptance_rate"] == (mine.count("accepted") / len(mine) if mine else None)

    table = cli("reviews", "summary", project, "--as", "mona")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()

    def cells(first: str) -> list[str]:
        [line] = [ln for ln in lines if ln.strip("│ ").startswith(first)]
        return [c.strip() for c in line.strip("│").split("│")]

    assert cells("pending") == ["pending", "1"]
    assert cells("accepted") == ["accepted", "2"]
    assert cells("rejected") == ["rejected", "1"]
    assert cells("total") == ["total", "4"]
    assert cells("acceptance rate") == ["acceptance rate", "67%"]
    for row in data["workers"]:
        rate = row["acceptance_rate"]
        shown = "-" if rate is None else f"{rate:.0%}"
        assert cells(row["username"]) == [
            row["username"],
            str(row["worker_id"]),
            str(row["accepted"]),
            str(row["rejected"]),
            str(row["fixed"]),
            str(row["pending"]),
            shown,
        ]

    refused = cli("reviews", "summary", project, "--as", "rita")
    assert refused.exit_code == 1
    assert "only the project's managers" in refused.stderr


def test_export_reviewed_only_passes_the_filter_to_the_export(cli, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from expertloop.services import exports

    p = _answered(env, n_items=2, per_item=2)
    reviews.request_reviews(env.db, actor=p["manager"], project_id=p["project"], fraction=1.0)
    _decide(env, p["reviewer"], p["project"], "accepted")
    asked: list[bool] = []
    real = exports.prepare_export

    def spy(*args: Any, options: exports.ExportOptions, **kwargs: Any) -> Any:
        asked.append(options.reviewed_only)
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(exports, "prepare_export", spy)
    plain = cli("export", str(p["project"]), "raw", "--as", "mona")
    assert plain.exit_code == 0, plain.output
    reviewed = cli("export", str(p["project"]), "raw", "--reviewed-only", "--as", "mona")
    assert reviewed.exit_code == 0, reviewed.output
    assert asked == [False, True]
    assert len(reviewed.stdout.splitlines()) <= len(plain.stdout.splitlines())

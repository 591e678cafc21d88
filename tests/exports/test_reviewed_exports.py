"""Exports after review: rejected answers are left out, fixed ones count as fixed, and
``reviewed_only`` keeps only what a reviewer accepted or fixed."""

from __future__ import annotations

import json
from typing import Any

from export_helpers import answer  # noqa: F401 - a fixture
from sqlalchemy import text
from test_exports import SECRET, export_rows

from expertloop.domain import Role, User
from expertloop.services import reviews
from expertloop.services.exports import iter_consensus, worker_pseudonym


def _answer_ids(env: Any, project: int) -> dict[tuple[str, int], int]:
    """``(external_id, worker_id) -> answer id``."""
    with env.db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT i.external_id, a.worker_id, a.id FROM answers a "
                "JOIN items i ON i.id = a.item_id WHERE a.project_id = :p"
            ),
            {"p": project},
        )
        return {(external, worker): answer_id for external, worker, answer_id in rows}


def _review(
    env: Any, manager: User, reviewer: User, project: int, answer_id: int, outcome: str,
    **decision: Any,
) -> None:
    reviews.request_reviews(env.db, actor=manager, project_id=project, answer_ids=[answer_id])
    (queued,) = [
        r for r in reviews.list_reviews(env.db, actor=manager, project_id=project)
        if r.answer_id == answer_id
    ]
    reviews.decide_review(
        env.db, actor=reviewer, review_id=queued.id, outcome=outcome, **decision
    )


def _pairwise(env: Any, answer: Any) -> dict[str, Any]:
    """Four items, one answer each, all "A"; then: ``fix`` fixed to "B", ``rej`` rejected
    (not requeued), ``acc`` accepted, ``new`` never reviewed."""
    manager, reviewer, worker = env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user()
    project = env.project(manager, members=[reviewer, worker], answers_per_item=1)
    names = ["fix", "rej", "acc", "new"]
    env.items(
        manager,
        project,
        [
            {"external_id": n, "payload": {"prompt": f"Q {n}?", "response_a": f"{n} a",
                                           "response_b": f"{n} b"}}
            for n in names
        ],
    )
    answer(project, [worker], {n: [{"choice": "A"}] for n in names})
    ids = _answer_ids(env, project)
    _review(env, manager, reviewer, project, ids["fix", worker.id], "fixed",
            answer={"choice": "B"}, comment="b is right")
    _review(env, manager, reviewer, project, ids["rej", worker.id], "rejected",
            comment="did not read it", requeue=False)
    _review(env, manager, reviewer, project, ids["acc", worker.id], "accepted")
    return {"manager": manager, "reviewer": reviewer, "worker": worker, "project": project}


def test_rejected_answers_are_left_out_and_fixes_count_as_fixed(env, answer):
    p = _pairwise(env, answer)
    rows, prepared = export_rows(env, p["manager"], p["project"], format="preference",
                                 conversational=False)
    chosen = {r["external_id"]: r["chosen"] for r in rows}
    assert chosen == {"fix": "fix b", "acc": "acc a", "new": "new a"}
    assert prepared.counts.items == 3
    card = prepared.card_stats()
    assert card.n_items == 3
    assert card.n_answers == 3
    assert card.reviews == {"pending": 0, "accepted": 1, "rejected": 1, "fixed": 1}
    assert card.filters["reviewed_only"] is False

    lines = {line["external_id"]: line for line in
             iter_consensus(env.db, actor=p["manager"], project_id=p["project"])}
    assert set(lines) == {"fix", "acc", "new"}
    assert lines["fix"]["consensus"] == {"choice": "B"}


def test_reviewed_only_keeps_the_accepted_and_fixed_answers(env, answer):
    p = _pairwise(env, answer)
    rows, prepared = export_rows(env, p["manager"], p["project"], format="preference",
                                 conversational=False, reviewed_only=True)
    assert {(r["external_id"], r["chosen"]) for r in rows} == {("fix", "fix b"), ("acc", "acc a")}
    assert all(r["n_answers"] == 1 for r in rows)
    card = prepared.card_stats()
    assert card.n_items == 2
    assert card.n_answers == 2
    assert card.filters["reviewed_only"] is True

    unpaired, _ = export_rows(env, p["manager"], p["project"], format="unpaired",
                              conversational=False, reviewed_only=True)
    assert {r["external_id"] for r in unpaired} == {"fix", "acc"}


def test_raw_rows_show_each_answers_review(env, answer):
    p = _pairwise(env, answer)
    project = p["project"]
    reviews.request_reviews(env.db, actor=p["manager"], project_id=project, count=1)  # "new"
    rows, _ = export_rows(env, p["manager"], project, format="raw")
    by_item = {r["external_id"]: r for r in rows}
    assert set(by_item) == {"fix", "rej", "acc", "new"}  # raw shows every answer

    fixed = by_item["fix"]
    assert json.loads(fixed["answer"]) == {"choice": "A"}  # as the worker gave it
    assert fixed["review"] == "fixed"
    assert json.loads(fixed["fixed_answer"]) == {"choice": "B"}
    assert fixed["review_comment"] == "b is right"
    assert fixed["reviewer"] == worker_pseudonym(SECRET, project, p["reviewer"].id)
    assert fixed["reviewed_at"].endswith("Z")
    assert by_item["rej"]["review"] == "rejected"
    assert by_item["rej"]["review_comment"] == "did not read it"
    assert by_item["rej"]["n_answers"] == 0
    assert by_item["rej"]["confidence"] is None
    assert by_item["acc"]["review"] == "accepted"
    assert by_item["acc"]["fixed_answer"] is None
    assert by_item["new"]["review"] == "pending"
    assert by_item["new"]["reviewer"] is None
    assert by_item["new"]["reviewed_at"] is None

    only, _ = export_rows(env, p["manager"], project, format="raw", reviewed_only=True)
    assert {r["external_id"]: r["review"] for r in only} == {"fix": "fixed", "acc": "accepted"}


def test_free_text_consensus_skips_rejected_answers_and_takes_fixes(env, answer):
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user(), env.user()]
    project = env.project(manager, task_type="demonstration", members=[reviewer, *workers],
                          answers_per_item=2)
    env.items(manager, project, [{"external_id": "d", "payload": {"prompt": "Explain X."}},
                                 {"external_id": "e", "payload": {"prompt": "Explain Y."}}])
    answer(project, workers, {"d": [{"response": "X is junk."}, {"response": "X is one."}],
                              "e": [{"response": "Y is tw0."}, {"response": "Y is two."}]})
    ids = _answer_ids(env, project)
    _review(env, manager, reviewer, project, ids["d", workers[0].id], "rejected",
            comment="junk")
    _review(env, manager, reviewer, project, ids["e", workers[0].id], "fixed",
            answer={"response": "Y is 2."})

    rows, _ = export_rows(env, manager, project, format="sft", conversational=False)
    assert sorted((r["prompt"], r["completion"]) for r in rows) == [
        ("Explain X.", "X is one."), ("Explain Y.", "Y is 2."), ("Explain Y.", "Y is two."),
    ]
    lines = {line["external_id"]: line for line in
             iter_consensus(env.db, actor=manager, project_id=project)}
    assert lines["d"]["consensus"] == {"response": "X is one."}
    assert lines["d"]["n_answers"] == 1

    accepted, _ = export_rows(env, manager, project, format="sft", conversational=False,
                              reviewed_only=True)
    assert [(r["prompt"], r["completion"]) for r in accepted] == [("Explain Y.", "Y is 2.")]


def test_ratings_read_answer_by_answer_follow_reviews_too(env, answer):
    manager, reviewer = env.user(Role.MANAGER), env.user(Role.REVIEWER)
    workers = [env.user() for _ in range(3)]
    config = {"criteria": [{"name": "accuracy", "min": 1, "max": 5}]}
    project = env.project(manager, task_type="rating", config=config,
                          members=[reviewer, *workers])
    env.items(manager, project, [{"external_id": "r", "payload": {"prompt": "P",
                                                                  "response": "R"}}])
    answer(project, workers, {"r": [{"scores": {"accuracy": 1}}] * 3})
    ids = _answer_ids(env, project)
    for worker in workers:
        _review(env, manager, reviewer, project, ids["r", worker.id], "fixed",
                answer={"scores": {"accuracy": 5}})
    rows, prepared = export_rows(env, manager, project, format="scores", conversational=False)
    (row,) = rows
    assert row["score"] > 4.5
    assert prepared.consensus.n_answers == 3


def test_an_export_of_an_unreviewed_project_reads_the_answers_alone(env, answer):
    from expertloop.store.exports import ReviewScope

    p = _pairwise(env, answer)
    _, prepared = export_rows(env, p["manager"], p["project"], format="preference")
    assert prepared.reviews is ReviewScope.REVIEWED
    manager = env.user(Role.MANAGER)
    fresh = env.project(manager, members=[p["worker"]], answers_per_item=1)
    env.items(manager, fresh, [{"external_id": "x", "payload": {"prompt": "Q", "response_a": "a",
                                                                "response_b": "b"}}])
    answer(fresh, [p["worker"]], {"x": [{"choice": "A"}]})
    reviews.request_reviews(env.db, actor=manager, project_id=fresh, fraction=1.0)
    _, prepared = export_rows(env, manager, fresh, format="preference")
    assert prepared.reviews is ReviewScope.ALL  # a pending review changes nothing

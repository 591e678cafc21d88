"""What a fit reads of the judges: ``iter_judge_votes``, on items without gold (what triage
fits the judges on) and, with ``gold=True``, on gold items (the audit's reference)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.store import llm_judges as judge_store
from expertloop.store import redundancy as store
from expertloop.store import tables as t


def _verdict(env: Env, project: int, item: int, judge: str, value: Any, *, unsure: bool) -> None:
    with env.db.write() as conn:
        judge_store.save_verdict(
            conn, project_id=project, item_id=item, judge=judge, provider="p", model="m",
            value=value, unsure=unsure, details={}, call_ids=[],
            created_at=env.db.clock.now(),
        )


def test_iter_judge_votes_reads_sure_verdicts_on_items_without_gold_or_with_it(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    other = env.project(manager, task_type="label", config={"labels": ["x", "y"]})
    env.items(manager, project, [
        {"external_id": "plain", "payload": {"text": "p"}},
        {"external_id": "gold", "payload": {"text": "g"}, "gold": {"label": "y"}},
        {"external_id": "plain2", "payload": {"text": "q"}},
    ])
    env.items(manager, other, [{"external_id": "elsewhere", "payload": {"text": "e"}}])
    with env.db.read() as conn:
        ids = {r[0]: r[1] for r in conn.execute(select(t.Item.external_id, t.Item.id))}
    plain, gold, plain2, elsewhere = (
        ids["plain"], ids["gold"], ids["plain2"], ids["elsewhere"]
    )
    _verdict(env, project, plain, "a", {"label": "x"}, unsure=False)
    _verdict(env, project, gold, "a", {"label": "x"}, unsure=False)
    _verdict(env, project, plain, "b", {"label": "y"}, unsure=False)
    _verdict(env, project, gold, "b", {"label": "y"}, unsure=False)
    _verdict(env, project, plain2, "a", {"label": "y"}, unsure=True)  # unsure: left out
    _verdict(env, project, plain2, "b", None, unsure=False)  # no value: left out
    _verdict(env, project, gold, "c", {"label": "x"}, unsure=False)  # not asked for
    _verdict(env, other, elsewhere, "a", {"label": "x"}, unsure=False)  # another project

    with env.db.read() as conn:
        fitted = list(store.iter_judge_votes(conn, project, ["a", "b"]))
        on_gold = list(store.iter_judge_votes(conn, project, ["a", "b"], gold=True))
        only_b = list(store.iter_judge_votes(conn, project, ["b"], gold=True))
        none = list(store.iter_judge_votes(conn, project, [], gold=True))
    # In verdict order; the gold column is None for items without gold.
    assert fitted == [("a", plain, {"label": "x"}, None), ("b", plain, {"label": "y"}, None)]
    assert on_gold == [
        ("a", gold, {"label": "x"}, {"label": "y"}),
        ("b", gold, {"label": "y"}, {"label": "y"}),
    ]
    assert only_b == [("b", gold, {"label": "y"}, {"label": "y"})]
    assert none == []

"""Project counters: counted off the hot path, they match a direct count of the items after
imports, answers, disables, enables, deletes and gold edits; large projects are served as
counted while a job recounts them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db_fixtures import Env, pairwise_item
from expertloop.domain import Role, User
from expertloop.services import consensus, console_items, counters, item_admin
from expertloop.store import counters as counter_store
from expertloop.store import jobs as job_store
from expertloop.store.counters import Counts


def _direct(env: Env, project: int) -> Counts:
    """The counts straight from the items and answers tables, written out here on purpose
    (not the store's query) so a mistake in one does not hide in the other."""
    with env.db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT n_answers, target, disabled_at IS NOT NULL, "
                "gold IS NOT NULL AND CAST(gold AS TEXT) <> 'null' "
                "FROM items WHERE project_id = :p"
            ),
            {"p": project},
        ).all()
        answers = conn.execute(
            text("SELECT count(*) FROM answers WHERE project_id = :p"), {"p": project}
        ).scalar_one()
    return Counts(
        items=len(rows),
        items_open=sum(1 for n, t, off, _ in rows if not off and n < t),
        items_complete=sum(1 for n, t, _, _ in rows if n >= t),
        items_disabled=sum(1 for _, _, off, _ in rows if off),
        items_gold=sum(1 for *_, gold in rows if gold),
        answers=int(answers),
        remaining_answers=sum(t - n for n, t, off, _ in rows if not off and n < t),
    )


def _shown(env: Env, project: int) -> counters.ProjectCounts:
    return counters.project_counts(env.db, [project])[project]


def _answer(env: Env, worker: User, project: int, choice: str = "A") -> int:
    client = env.client(worker)
    lease = client.post(f"/api/v1/projects/{project}/assignments/next")
    assert lease.status_code == 200, lease.text
    done = client.post(
        f"/api/v1/assignments/{lease.json()['assignment_id']}/answer",
        json={"answer": {"choice": choice}},
    )
    assert done.status_code in (200, 201), done.text
    return int(lease.json()["item"]["id"])


def test_the_counters_match_a_direct_count_after_imports_answers_and_item_edits(
    env: Env,
) -> None:
    manager, first, second = env.user(Role.MANAGER), env.user(), env.user()
    project = env.project(manager, members=[first, second], answers_per_item=2)
    assert _shown(env, project).counts == _direct(env, project) == Counts(0, 0, 0, 0, 0, 0, 0)

    env.items(manager, project, [pairwise_item(n) for n in range(1, 6)])
    env.items(manager, project, [pairwise_item(6, gold={"choice": "B"})])
    shown = _shown(env, project)
    assert shown.counts == _direct(env, project)
    assert (shown.counts.items, shown.counts.items_gold, shown.counts.items_open) == (6, 1, 6)
    assert not shown.behind

    answered = _answer(env, first, project)
    _answer(env, second, project)
    assert _shown(env, project).counts == _direct(env, project)
    assert _shown(env, project).counts.answers == 2

    other = next(i for i in _item_ids(env, project) if i != answered)
    item_admin.disable_item(env.db, actor=manager, item_id=other, reason="typo")
    assert _shown(env, project).counts == _direct(env, project)
    assert _shown(env, project).counts.items_disabled == 1

    item_admin.enable_item(env.db, actor=manager, item_id=other)
    assert _shown(env, project).counts == _direct(env, project)
    assert _shown(env, project).counts.items_disabled == 0

    item_admin.delete_item(env.db, actor=manager, item_id=other)
    assert _shown(env, project).counts == _direct(env, project)

    console_items.promote_to_gold(
        env.db, actor=manager, project_id=project, item_id=answered, from_consensus=False,
        gold={"choice": "A"},
    )
    shown = _shown(env, project)
    assert shown.counts == _direct(env, project)
    assert shown.counts.items_gold == 2


def _item_ids(env: Env, project: int) -> list[int]:
    with env.db.read() as conn:
        return [
            int(v)
            for v in conn.execute(
                text("SELECT id FROM items WHERE project_id = :p ORDER BY id"), {"p": project}
            ).scalars()
        ]


def test_an_edit_marks_the_counters_behind_without_a_new_answer_or_item(env: Env) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=2)
    env.items(manager, project, [pairwise_item(1), pairwise_item(2)])
    counters.refresh_counters(env.db, project)
    with env.db.read() as conn:
        before = counter_store.load_counters(conn, [project])[project]
        assert before.marks == counter_store.read_marks(conn, project)
    item_admin.disable_item(env.db, actor=manager, item_id=_item_ids(env, project)[0])
    with env.db.read() as conn:
        after = counter_store.load_counters(conn, [project])[project]
    assert after.changes == before.changes + 1
    assert after.counts == before.counts  # not recounted yet: only marked


def test_a_large_project_behind_is_served_as_counted_until_a_job_recounts_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=2)
    env.items(manager, project, [pairwise_item(n) for n in range(1, 4)])
    counted = _shown(env, project).counts  # the first count is taken in the request
    assert counted == _direct(env, project)

    monkeypatch.setattr(counters, "INLINE_MAX_ITEMS", 0)  # every project is "large" now
    _answer(env, worker, project)
    shown = _shown(env, project)
    direct = _direct(env, project)
    # As counted, unless the test server's own job runner recounted it meanwhile.
    assert shown.counts in (counted, direct)
    assert shown.behind == (shown.counts != direct)
    counters.refresh_counters(env.db, project)  # what the job runs
    shown = _shown(env, project)
    assert shown.counts == _direct(env, project)
    assert not shown.behind


def test_the_watch_queues_a_recount_for_projects_behind_and_the_snapshot_job_counts_too(
    env: Env,
) -> None:
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, members=[worker], answers_per_item=1)
    env.items(manager, project, [pairwise_item(n) for n in range(1, 4)])
    counters.queue_stale_counters(env.db)  # no counts yet: queued
    with env.db.read() as conn:
        jobs = [
            j for j in job_store.list_jobs(conn, kind=counters.REFRESH_KIND)
            if j.project_id == project
        ]
    assert jobs
    _answer(env, worker, project)
    consensus.refresh_snapshot(env.db, project, include_gold=False)
    with env.db.read() as conn:
        row = counter_store.load_counters(conn, [project])[project]
        assert row.marks == counter_store.read_marks(conn, project)
    assert row.counts == _direct(env, project)
    assert row.counts.answers == 1

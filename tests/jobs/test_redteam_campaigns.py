"""Red-team campaign snapshots: computed by a job, skipped when nothing changed, served with
their age; small campaigns recomputed in the request so they are always exact."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.jobs import Worker
from expertloop.services import assignments, projects, redteam, redteam_campaigns, reviews
from expertloop.services.jobs import load_job_kinds
from expertloop.settings import Settings
from expertloop.store import jobs as job_store
from expertloop.store import redteam as redteam_store


def _item(n: int) -> dict[str, Any]:
    return {
        "external_id": f"goal-{n}",
        "payload": {
            "goal": f"goal {n}",
            "transcript": [
                {"role": "user", "content": f"attack number {n} about topic {n * 7919} " * 3},
                {"role": "assistant", "content": "Sure, here is how."},
            ],
        },
    }


def _campaign(env: Env, n_items: int = 6) -> dict[str, Any]:
    manager, reviewer, worker = env.user(Role.MANAGER), env.user(Role.REVIEWER), env.user()
    project = env.project(manager, task_type="redteam", members=[reviewer, worker])
    env.items(manager, project, [_item(n) for n in range(n_items)])
    return {"manager": manager, "reviewer": reviewer, "worker": worker, "project": project}


def _answer(env: Env, p: dict[str, Any], n: int, *, success: bool = True) -> list[int]:
    ids = []
    for _ in range(n):
        lease = assignments.next_assignment(env.db, actor=p["worker"], project_id=p["project"])
        assert lease is not None
        label: dict[str, Any] = {"category": "vcr", "success": success}
        if success:
            label["severity"] = 2
        ids.append(assignments.submit_answer(
            env.db, actor=p["worker"], assignment_id=lease.id, answer=label
        ).answer_id)
    return ids


def _exact(env: Env, p: dict[str, Any]) -> dict[str, Any]:
    return redteam.campaign(env.db, actor=p["manager"], project_id=p["project"]).to_dict()


def _jobs(env: Env, project: int) -> list[job_store.JobRow]:
    with env.db.read() as conn:
        return [
            j for j in job_store.list_jobs(conn, kind=redteam_campaigns.REFRESH_KIND)
            if j.project_id == project
        ]


def _settle(env: Env, worker: Worker, project: int) -> None:
    deadline = time.monotonic() + 30
    while any(j.status in ("queued", "running") for j in _jobs(env, project)):
        worker.run_one()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _worker(env: Env, tmp_path: Path) -> Worker:
    kinds = {redteam_campaigns.REFRESH_KIND: load_job_kinds()[redteam_campaigns.REFRESH_KIND]}
    return Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds)


def test_a_small_campaign_is_computed_in_the_request_stored_and_always_exact(env: Env) -> None:
    p = _campaign(env)
    _answer(env, p, 2)
    view = redteam_campaigns.read_campaign(env.db, actor=p["manager"], project_id=p["project"])
    assert view.campaign is not None
    assert (view.stale, view.answers_behind, view.job) == (False, 0, None)
    assert view.campaign.to_dict() == _exact(env, p)
    computed = view.computed_at
    again = redteam_campaigns.read_campaign(env.db, actor=p["reviewer"], project_id=p["project"])
    assert again.computed_at == computed  # served from the snapshot, not recomputed
    _answer(env, p, 1, success=False)
    fresh = redteam_campaigns.read_campaign(env.db, actor=p["manager"], project_id=p["project"])
    assert fresh.campaign is not None
    assert fresh.campaign.attempts == 3
    assert fresh.campaign.to_dict() == _exact(env, p)
    assert _jobs(env, p["project"]) == []


def test_a_large_campaign_is_served_from_its_snapshot_while_one_job_refreshes_it(
    env: Env, tmp_path: Path
) -> None:
    p = _campaign(env)
    ids = _answer(env, p, 3)

    def read() -> redteam_campaigns.CampaignView:
        return redteam_campaigns.read_campaign(
            env.db, actor=p["manager"], project_id=p["project"], inline_max_attempts=1
        )

    first = read()
    assert first.campaign is None
    assert first.job is not None
    assert first.stale is True
    assert read().job == first.job  # deduplicated: one job however many pages ask
    _settle(env, _worker(env, tmp_path), p["project"])
    done = read()
    assert done.campaign is not None
    assert (done.stale, done.job) == (False, None)
    assert done.campaign.to_dict() == _exact(env, p)

    _answer(env, p, 2, success=False)
    behind = read()
    assert behind.campaign is not None
    assert behind.campaign.attempts == 3
    assert (behind.stale, behind.answers_behind, behind.computed_at) == (
        True, 2, done.computed_at
    )
    assert behind.job is not None
    _settle(env, _worker(env, tmp_path), p["project"])
    caught_up = read()
    assert caught_up.campaign is not None
    assert (caught_up.stale, caught_up.campaign.attempts) == (False, 5)
    assert caught_up.campaign.to_dict() == _exact(env, p)

    # A review decision moves the campaign (a rejected attempt leaves the rates).
    reviews.request_reviews(
        env.db, actor=p["manager"], project_id=p["project"], answer_ids=ids[:1]
    )
    review = reviews.next_review(env.db, actor=p["reviewer"], project_id=p["project"])
    assert review is not None
    reviews.decide_review(
        env.db, actor=p["reviewer"], review_id=review.id, outcome="rejected", comment="no"
    )
    decided = read()
    assert (decided.stale, decided.answers_behind) == (True, 0)
    redteam_campaigns.refresh_campaign(env.db, p["project"])
    assert read().campaign.to_dict() == _exact(env, p)  # type: ignore[union-attr]
    assert _exact(env, p)["rejected"] == 1


def test_a_refresh_is_skipped_when_nothing_moved_and_redone_when_the_taxonomy_changed(
    env: Env,
) -> None:
    p = _campaign(env)
    _answer(env, p, 2)
    first = redteam_campaigns.refresh_campaign(env.db, p["project"])
    assert first["skipped"] is False
    assert first["attempts"] == 2
    assert redteam_campaigns.refresh_campaign(env.db, p["project"])["skipped"] is True
    projects.update_project(
        env.db, actor=p["manager"], project_id=p["project"],
        changes={"config": {"taxonomy": [{"id": "vcr", "name": "Violent crimes"},
                                         {"id": "cyber", "name": "Cyber attacks"}]}},
    )
    view = redteam_campaigns.read_campaign(env.db, actor=p["manager"], project_id=p["project"],
                                           inline_max_attempts=None)
    assert view.campaign is not None
    assert view.stale is False
    assert view.campaign.uncovered == ["cyber"]


def test_the_watch_queues_a_refresh_only_for_red_team_projects_behind_their_snapshot(
    env: Env,
) -> None:
    p, fresh = _campaign(env), _campaign(env)
    _answer(env, p, 1)
    _answer(env, fresh, 1)
    other = env.project(p["manager"], task_type="rewrite")
    redteam_campaigns.refresh_campaign(env.db, p["project"])
    redteam_campaigns.queue_stale_refreshes(env.db)
    assert len(_jobs(env, fresh["project"])) == 1  # no snapshot yet
    assert _jobs(env, p["project"]) == []  # current
    assert _jobs(env, other) == []
    _answer(env, p, 1)
    for _ in range(2):
        redteam_campaigns.queue_stale_refreshes(env.db)
    [job] = _jobs(env, p["project"])
    with env.db.read() as conn:
        stored = redteam_store.load_campaign(conn, p["project"])
    assert stored is not None
    assert job.run_after >= stored.computed_at  # paced after the last computation

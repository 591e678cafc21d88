"""``client.flags`` and ``WorkerPaused`` against a real server."""

from __future__ import annotations

import pytest

from db_fixtures import Env
from expertloop.client import Client, WorkerPaused
from expertloop.domain import Role
from expertloop.services import worker_rules

LABELS = ["cat", "dog", "bird", "fish"]


def test_a_manager_reads_flags_and_reinstates_a_paused_worker_through_the_sdk(env: Env) -> None:
    manager_user = env.user(Role.MANAGER)
    worker_user = env.user()
    project_id = env.project(manager_user, task_type="label", config={"labels": LABELS},
                             members=[worker_user], answers_per_item=1)
    env.items(manager_user, project_id, [{"payload": {"text": f"t{k}"},
                                          "gold": {"label": "cat"}} for k in range(12)])
    manager = Client(env.url, env.token_for(manager_user))
    worker = Client(env.url, env.token_for(worker_user))
    try:
        manager.flags.set_rules(project_id, {"straight_lining": {"enabled": False}})
        assert manager.flags.rules(project_id)["straight_lining"]["enabled"] is False
        wp = worker.projects.get(project_id)
        while (assignment := wp.next()) is not None:
            assignment.answer({"label": "dog"})
        worker_rules.evaluate_project(env.db, project_id)

        with pytest.raises(WorkerPaused) as caught:
            wp.next()
        assert "gold accuracy" in caught.value.message
        assert worker.flags.standing(project_id).paused

        flags = manager.flags.list(project_id)
        assert [(f.worker_id, f.rule) for f in flags] == [(worker_user.id, "gold_accuracy")]
        assert flags[0].details["gold_answers"] == 12
        assert manager.flags.reinstate(project_id, worker_user.id) == [flags[0].id]
        assert not worker.flags.standing(project_id).paused
    finally:
        manager.close()
        worker.close()

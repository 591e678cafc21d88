"""The SDK's worker side against a real server, on SQLite and PostgreSQL: extending a lease,
reporting a problem with an item (and the manager resolving it), and My work."""

from __future__ import annotations

import pytest

from db_fixtures import Env, pairwise_item
from expertloop.client import Client, Conflict
from expertloop.domain import Role


def test_a_worker_extends_reports_and_reads_their_own_work_through_the_sdk(env: Env) -> None:
    manager_user, worker_user = env.user(Role.MANAGER), env.user()
    with (
        Client(env.url, env.token_for(manager_user), backoff=0) as boss,
        Client(env.url, env.token_for(worker_user), backoff=0) as me,
    ):
        project = boss.projects.create("Pairs", "pairwise", answers_per_item=1,
                                       max_lease_extensions=1)
        assert project.max_lease_extensions == 1
        project.members.add([worker_user.id])
        project.items.add([pairwise_item(n) for n in (1, 2)])
        mine = me.projects.get(project.id)

        first = mine.next()
        assert first is not None
        before = first.expires_at
        assert first.extend() >= before
        with pytest.raises(Conflict) as refused:
            first.extend()
        assert refused.value.code == "extension_limit"
        receipt = first.report("broken", note="The responses are cut off.")
        assert receipt["item_id"] == first.item.id

        second = mine.next()
        assert second is not None
        assert second.item.id != first.item.id
        second.answer({"choice": "B"})
        assert mine.next() is None

        (report,) = list(project.reports.list())
        assert (report["reason"], report["note"]) == ("broken", "The responses are cut off.")
        assert project.reports.resolve(report["item_id"], disable=True) == 1
        assert list(project.reports.list()) == []

        (answer,) = list(me.my_work.answers(project.id))
        assert answer.answer == {"choice": "B"}
        assert answer.review is None
        stats = me.my_work.stats(project.id)
        assert stats.answers == 1

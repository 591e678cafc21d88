"""What a process remembers about callers: verified tokens and claimable projects."""

from __future__ import annotations

import pytest

from db_fixtures import Env, pairwise_item
from expertloop.clock import FakeClock
from expertloop.domain import Role
from expertloop.errors import NotFound
from expertloop.services import assignments
from expertloop.services.caching import ExpiringCache


def test_an_entry_is_kept_for_the_ttl_and_then_forgotten() -> None:
    clock = FakeClock()
    cache: ExpiringCache[str, int] = ExpiringCache(60, clock=clock)
    cache.put("a", 1)
    clock.advance(44)  # expiries are spread over the last quarter of the period
    assert cache.get("a") == 1
    clock.advance(16.5)
    assert cache.get("a") is None


def test_ttl_zero_remembers_nothing_and_a_full_cache_starts_afresh() -> None:
    off: ExpiringCache[str, int] = ExpiringCache(0)
    off.put("a", 1)
    assert off.get("a") is None
    small: ExpiringCache[int, int] = ExpiringCache(60, max_entries=3)
    for key in range(3):
        small.put(key, key)
    small.put(3, 3)
    assert small.get(3) == 3
    assert small.get(0) is None
    small.forget(3)
    assert small.get(3) is None


def test_a_claimable_project_is_read_once_and_refusals_are_not_remembered(env: Env) -> None:
    manager, worker, outsider = env.user(Role.MANAGER), env.user(), env.user()
    project_id = env.project(manager, members=[worker])
    env.items(manager, project_id, [pairwise_item(n) for n in range(3)])
    claimable: assignments.ClaimableProjects = ExpiringCache(60)

    first = assignments.next_assignment(
        env.db, actor=worker, project_id=project_id, claimable=claimable
    )
    remembered = claimable.get((project_id, worker.id))
    assert first is not None
    assert remembered is not None
    assert remembered.id == project_id
    assert remembered.is_member
    again = assignments.next_assignment(
        env.db, actor=worker, project_id=project_id, claimable=claimable
    )
    assert again is not None
    assert again.id == first.id

    with pytest.raises(NotFound):  # a project the caller may not see is not found
        assignments.next_assignment(
            env.db, actor=outsider, project_id=project_id, claimable=claimable
        )
    assert claimable.get((project_id, outsider.id)) is None

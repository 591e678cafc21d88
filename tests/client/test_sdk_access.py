"""The SDK's share of cutting access off: tokens, sign-out, passwords, suspension, members,
throttled sign-ins and the audit log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_fixtures import PASSWORD, Env, pairwise_item
from expertloop.client import Client, NotAuthenticated, NotFound, TooManyAttempts
from expertloop.clock import FakeClock
from expertloop.domain import Role


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def _login(env: Env, clients: list[Client], username: str, password: str = PASSWORD) -> Client:
    client = Client.login(env.url, username, password, backoff=0)
    clients.append(client)
    return client


def test_a_program_lists_and_revokes_its_tokens_and_signs_out(
    env: Env, clients: list[Client]
) -> None:
    env.user(username="tess")
    first, second = _login(env, clients, "tess"), _login(env, clients, "tess")
    tokens = first.tokens.list()
    assert [t.name for t in tokens] == ["api", "api"]
    assert all(t.expires_at is not None and t.expires_at > t.created_at for t in tokens)
    first.tokens.revoke(tokens[1])
    with pytest.raises(NotAuthenticated):
        second.me()
    first.logout()
    with pytest.raises(NotAuthenticated):
        first.me()


def test_a_password_change_keeps_this_client_and_signs_out_the_others(
    env: Env, clients: list[Client]
) -> None:
    env.user(username="pat")
    this, other = _login(env, clients, "pat"), _login(env, clients, "pat")
    this.change_password(PASSWORD, "a-new-password")
    assert this.me().username == "pat"
    with pytest.raises(NotAuthenticated):
        other.me()


def test_admins_suspend_users_and_managers_remove_members_through_the_sdk(
    env: Env, clients: list[Client]
) -> None:
    admin, manager, worker = env.user(Role.ADMIN), env.user(Role.MANAGER), env.user()
    project_id = env.project(manager, members=[worker])
    env.items(manager, project_id, [pairwise_item(1)])
    as_admin = Client(env.url, env.token_for(admin), backoff=0)
    as_manager = Client(env.url, env.token_for(manager), backoff=0)
    as_worker = Client(env.url, env.token_for(worker), backoff=0)
    clients.extend([as_admin, as_manager, as_worker])
    assert as_worker.projects.get(project_id).next() is not None
    as_manager.projects.get(project_id).members.remove(worker.id)
    with pytest.raises(NotFound):
        as_worker.projects.get(project_id)
    with pytest.raises(NotFound):
        as_manager.projects.get(project_id).members.remove(worker.id)
    assert as_admin.users.suspend(worker.id).is_active is False
    with pytest.raises(NotAuthenticated):
        as_worker.me()
    assert as_admin.users.reactivate(worker.id).is_active is True
    actions = [e.action for e in as_admin.audit.iter(page_size=2)]
    assert actions[-3:] == ["project.member_removed", "user.suspended", "user.reactivated"]
    [suspension] = as_admin.audit.list(action="user.suspended")
    assert suspension.actor == admin.username
    assert suspension.before == {"is_active": True}


def test_a_throttled_sign_in_raises_too_many_attempts_with_retry_after(
    env: Env, clock: FakeClock
) -> None:
    worker = env.user()
    for _ in range(10):
        with pytest.raises(NotAuthenticated):
            Client.login(env.url, worker.username, "wrong-password", backoff=0)
    with pytest.raises(TooManyAttempts) as refused:
        Client.login(env.url, worker.username, PASSWORD, backoff=0)
    assert refused.value.status == 429
    assert refused.value.retry_after == 900

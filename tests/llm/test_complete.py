"""The ``complete`` use case: look the provider up, call it, record the call, reuse
recorded completions; provider keys from the environment or stored encrypted."""

from __future__ import annotations

import pytest

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.errors import (
    InputInvalid,
    NotFound,
    PermissionDenied,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from expertloop.services import llm
from expertloop.services.llm import complete
from expertloop.store import audit
from llm_server import ChatServer, Reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def add(env: Env, server: ChatServer, name: str = "local", **options: object) -> None:
    values: dict = {"params": {"temperature": 0.0}, "max_retries": 1, "timeout_seconds": 5.0}
    values.update(options)
    llm.add_provider(
        env.db, actor=None, name=name, base_url=server.base_url, model="test-model", **values
    )


def test_a_completion_is_recorded_with_its_purpose_and_provenance(
    env: Env, chat_server: ChatServer
) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    add(env, chat_server)
    chat_server.script(Reply(text="Hello.", cost=0.01))
    completion = complete(
        env.db, provider="local", messages=MESSAGES, params={"max_tokens": 20}, seed=3,
        purpose="judge", project_id=project,
    )
    assert completion.text == "Hello."
    assert not completion.cached
    assert completion.params == {"temperature": 0.0, "max_tokens": 20}
    [call] = llm.list_calls(env.db, project_id=project)
    assert call.id == completion.call_id
    assert (call.provider, call.model, call.purpose, call.seed) == ("local", "test-model", "judge", 3)
    assert call.params == {"temperature": 0.0, "max_tokens": 20}
    assert call.messages == MESSAGES
    assert call.text == "Hello."
    assert (call.finish_reason, call.prompt_tokens, call.completion_tokens) == ("stop", 3, 1)
    assert call.cost == 0.01
    assert call.error is None
    assert chat_server.requests[0]["max_tokens"] == 20


def test_the_same_call_again_is_served_from_the_record_without_calling(
    env: Env, chat_server: ChatServer
) -> None:
    add(env, chat_server)
    first = complete(env.db, provider="local", messages=MESSAGES, seed=1, purpose="t")
    again = complete(env.db, provider="local", messages=MESSAGES, seed=1, purpose="t")
    other_seed = complete(env.db, provider="local", messages=MESSAGES, seed=2, purpose="t")
    fresh = complete(env.db, provider="local", messages=MESSAGES, seed=1, purpose="t", cache=False)
    assert again.cached
    assert again.call_id == first.call_id
    assert again.text == first.text
    assert not other_seed.cached
    assert not fresh.cached
    assert chat_server.calls == 3


def test_an_unknown_provider_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound, match="no model provider named 'nope'"):
        complete(env.db, provider="nope", messages=MESSAGES, purpose="t")


def test_bad_messages_and_purposes_are_refused_with_the_field(
    env: Env, chat_server: ChatServer
) -> None:
    add(env, chat_server)
    with pytest.raises(InputInvalid) as raised:
        complete(env.db, provider="local", messages=[{"role": "robot", "content": "x"}], purpose="t")
    assert raised.value.details[0]["field"] == "messages.0.role"
    with pytest.raises(InputInvalid, match="purpose"):
        complete(env.db, provider="local", messages=MESSAGES, purpose="Bad Purpose!")
    with pytest.raises(InputInvalid, match="must not set model"):
        complete(env.db, provider="local", messages=MESSAGES, params={"model": "x"}, purpose="t")
    assert chat_server.calls == 0


def test_a_failed_call_is_recorded_with_its_error_and_raises_a_502(
    env: Env, chat_server: ChatServer
) -> None:
    add(env, chat_server, max_retries=0)
    chat_server.script(Reply(status=500))
    with pytest.raises(UpstreamError) as raised:
        complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    assert raised.value.status == 502
    [call] = llm.list_calls(env.db)
    assert call.error
    assert "HTTP 500" in call.error
    assert call.text is None
    # A failure is not cached: the next call asks the provider again.
    assert complete(env.db, provider="local", messages=MESSAGES, purpose="t").text == "echo: Hi"


def test_a_timeout_is_a_504_and_a_429_then_success_is_one_recorded_call(
    env: Env, chat_server: ChatServer
) -> None:
    add(env, chat_server, timeout_seconds=0.2, max_retries=0)
    chat_server.script(Reply(delay=5))
    with pytest.raises(UpstreamTimeout):
        complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    llm.update_provider(env.db, actor=None, name="local", timeout_seconds=5, max_retries=2)
    chat_server.script(Reply(status=429, headers={"Retry-After": "0"}))
    completion = complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    assert completion.text == "echo: Hi"
    assert [c.error is None for c in llm.list_calls(env.db)] == [False, True]


def test_a_key_from_the_environment_is_sent_and_a_missing_one_is_a_503(
    env: Env, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(env, chat_server, api_key_env="EXPERTLOOP_TEST_LLM_KEY")
    monkeypatch.delenv("EXPERTLOOP_TEST_LLM_KEY", raising=False)
    with pytest.raises(UpstreamUnavailable) as raised:
        complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    assert raised.value.status == 503
    assert "EXPERTLOOP_TEST_LLM_KEY" in raised.value.message
    monkeypatch.setenv("EXPERTLOOP_TEST_LLM_KEY", "sk-from-env")
    complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    assert chat_server.headers[-1]["authorization"] == "Bearer sk-from-env"


def test_a_stored_key_is_encrypted_at_rest_and_unreadable_under_another_secret(
    env: Env, chat_server: ChatServer
) -> None:
    add(env, chat_server, api_key="sk-very-secret")
    with env.db.read() as conn:
        from expertloop.store import llm as llm_store

        row = llm_store.get_provider(conn, "local")
    assert row is not None
    assert row.api_key_encrypted
    assert "sk-very-secret" not in row.api_key_encrypted
    complete(env.db, provider="local", messages=MESSAGES, purpose="t")
    assert chat_server.headers[-1]["authorization"] == "Bearer sk-very-secret"
    llm.use_secret_key(env.db, "another-secret-key-entirely-0123456789")
    try:
        with pytest.raises(UpstreamUnavailable, match="cannot be decrypted"):
            complete(env.db, provider="local", messages=MESSAGES, purpose="t", cache=False)
    finally:
        from expertloop.settings import Settings

        llm.use_secret_key(env.db, Settings().secret_key)


def test_only_admins_configure_providers_and_changes_are_audited_without_the_key(
    env: Env, chat_server: ChatServer
) -> None:
    admin, manager = env.user(Role.ADMIN), env.user(Role.MANAGER)
    with pytest.raises(PermissionDenied):
        llm.add_provider(env.db, actor=manager, name="x", base_url=chat_server.base_url, model="m")
    llm.add_provider(
        env.db, actor=admin, name="x", base_url=chat_server.base_url, model="m", api_key="sk-abc"
    )
    llm.update_provider(env.db, actor=admin, name="x", model="m2")
    llm.delete_provider(env.db, actor=admin, name="x")
    with env.db.read() as conn:
        events = [e for e in audit.list_events(conn) if e.action.startswith("llm.")]
    assert [e.action for e in events] == [
        "llm.provider_added", "llm.provider_changed", "llm.provider_removed"
    ]
    assert all("sk-abc" not in repr(e) for e in events)
    assert llm.list_providers(env.db, actor=admin) == []

"""Calling an OpenAI-compatible endpoint: retries, Retry-After, timeouts, malformed answers,
truncation and the concurrency limit, against a real local chat server."""

from __future__ import annotations

import threading

import pytest

from expertloop.errors import UpstreamError, UpstreamTimeout
from expertloop.llm import Completion, ProviderConfig, cache_key, call_chat, merged_params
from llm_server import ChatServer, Reply

MESSAGES = [{"role": "user", "content": "Say hi"}]


def config(server: ChatServer, **changes: object) -> ProviderConfig:
    values: dict = {
        "name": "local", "base_url": server.base_url, "model": "test-model",
        "timeout": 5.0, "max_retries": 2, "concurrency": 4, "api_key": "sk-test",
    }
    values.update(changes)
    return ProviderConfig(**values)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_a_completion_carries_text_usage_and_provenance(chat_server: ChatServer) -> None:
    chat_server.script(Reply(text="hello there", cost=0.25))
    completion = call_chat(
        config(chat_server), MESSAGES, params={"temperature": 0.5, "top_k": 3}, seed=7
    )
    assert isinstance(completion, Completion)
    assert completion.text == "hello there"
    assert completion.finish_reason == "stop"
    assert (completion.provider, completion.model) == ("local", "test-model")
    assert (completion.prompt_tokens, completion.completion_tokens) == (2, 2)
    assert completion.cost == 0.25
    assert completion.seed == 7
    assert completion.params == {"temperature": 0.5, "top_k": 3}
    assert completion.latency_ms > 0
    assert not completion.cached
    sent = chat_server.requests[0]
    assert sent["model"] == "test-model"
    assert sent["messages"] == MESSAGES
    assert (sent["temperature"], sent["top_k"], sent["seed"]) == (0.5, 3, 7)
    assert chat_server.headers[0]["authorization"] == "Bearer sk-test"


def test_a_429_is_retried_after_the_seconds_retry_after_asks(chat_server: ChatServer) -> None:
    chat_server.script(Reply(status=429, headers={"Retry-After": "7"}))
    sleeps = Sleeps()
    completion = call_chat(config(chat_server), MESSAGES, sleep=sleeps)
    assert completion.text == "echo: Say hi"
    assert sleeps == [7.0]
    assert chat_server.calls == 2


def test_retry_after_in_milliseconds_wins_and_long_waits_are_capped(
    chat_server: ChatServer,
) -> None:
    chat_server.script(
        Reply(status=429, headers={"retry-after-ms": "1500", "Retry-After": "2"}),
        Reply(status=429, headers={"Retry-After": "3600"}),
    )
    sleeps = Sleeps()
    call_chat(config(chat_server), MESSAGES, sleep=sleeps)
    assert sleeps == [1.5, 60.0]


def test_server_errors_are_retried_with_backoff_then_succeed(chat_server: ChatServer) -> None:
    chat_server.script(Reply(status=500), Reply(status=503))
    sleeps = Sleeps()
    completion = call_chat(config(chat_server), MESSAGES, sleep=sleeps)
    assert completion.text == "echo: Say hi"
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5
    assert 0 <= sleeps[1] <= 1.0


def test_persistent_server_errors_end_in_an_upstream_error_after_the_retries(
    chat_server: ChatServer,
) -> None:
    chat_server.script(*[Reply(status=500)] * 3)
    with pytest.raises(UpstreamError) as raised:
        call_chat(config(chat_server, max_retries=2), MESSAGES, sleep=Sleeps())
    assert raised.value.status == 502
    assert "HTTP 500" in raised.value.message
    assert chat_server.calls == 3


def test_a_client_error_is_not_retried(chat_server: ChatServer) -> None:
    chat_server.script(Reply(status=400))
    with pytest.raises(UpstreamError) as raised:
        call_chat(config(chat_server), MESSAGES, sleep=Sleeps())
    assert raised.value.details["upstream_status"] == 400
    assert chat_server.calls == 1


def test_a_slow_answer_times_out_as_a_504_after_retries(chat_server: ChatServer) -> None:
    chat_server.script(Reply(delay=5), Reply(delay=5))
    with pytest.raises(UpstreamTimeout) as raised:
        call_chat(config(chat_server, timeout=0.2, max_retries=1), MESSAGES, sleep=Sleeps())
    assert raised.value.status == 504
    assert chat_server.calls == 2


def test_a_malformed_json_answer_is_an_upstream_error(chat_server: ChatServer) -> None:
    chat_server.script(Reply(raw=b'{"choices": [ this is not json'))
    with pytest.raises(UpstreamError) as raised:
        call_chat(config(chat_server, max_retries=0), MESSAGES)
    assert raised.value.status == 502


def test_an_answer_without_choices_is_an_upstream_error(chat_server: ChatServer) -> None:
    chat_server.script(Reply(choices=False))
    with pytest.raises(UpstreamError, match="without choices"):
        call_chat(config(chat_server), MESSAGES)


def test_truncated_output_is_returned_with_finish_reason_length(chat_server: ChatServer) -> None:
    chat_server.script(Reply(text="The answer is", finish_reason="length"))
    completion = call_chat(config(chat_server), MESSAGES, params={"max_tokens": 3})
    assert completion.truncated
    assert completion.text == "The answer is"


def test_an_unreachable_provider_is_an_upstream_error() -> None:
    server = ChatServer()
    server.close()
    with pytest.raises(UpstreamError, match="cannot reach"):
        call_chat(config(server, max_retries=0), MESSAGES)


def test_the_concurrency_limit_holds_calls_to_one_provider_at_once() -> None:
    with ChatServer() as server:
        server.script(*[Reply(delay=0.2)] * 4)
        limited = config(server, name="limited-one", concurrency=1)
        threads = [
            threading.Thread(target=call_chat, args=(limited, MESSAGES)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.calls == 4
        assert server.max_in_flight == 1


def test_the_cache_key_depends_on_model_messages_params_and_seed_not_param_order() -> None:
    base = cache_key("m", MESSAGES, {"a": 1, "b": 2}, 1)
    assert base == cache_key("m", MESSAGES, {"b": 2, "a": 1}, 1)
    assert base != cache_key("m2", MESSAGES, {"a": 1, "b": 2}, 1)
    assert base != cache_key("m", [{"role": "user", "content": "x"}], {"a": 1, "b": 2}, 1)
    assert base != cache_key("m", MESSAGES, {"a": 1}, 1)
    assert base != cache_key("m", MESSAGES, {"a": 1, "b": 2}, 2)


def test_call_parameters_override_the_defaults_and_none_drops_one() -> None:
    assert merged_params({"temperature": 0, "top_p": 1}, {"temperature": 1, "top_p": None}) == {
        "temperature": 1
    }

"""The SDK holds a red-team conversation against a real server and a real chat-completions
server on 127.0.0.1, then reads the campaign and the transcripts."""

from __future__ import annotations

import llm_server
from db_fixtures import Env
from expertloop.client import Client, answers
from expertloop.domain import Role
from expertloop.services import llm
from llm_server import ChatServer, Reply

# The shared fixture, requested by name.
chat_server = llm_server.chat_server


def test_a_worker_attacks_through_the_sdk_and_a_manager_reads_the_campaign(
    env: Env, chat_server: ChatServer
) -> None:
    llm.add_provider(env.db, actor=None, name="target", base_url=chat_server.base_url,
                     model="test-model", max_retries=0, timeout_seconds=10.0)
    manager, worker = env.user(Role.MANAGER), env.user()
    project = env.project(manager, task_type="redteam", members=[worker])
    env.items(manager, project, [{"payload": {"goal": "g", "target": {"provider": "target"}}}])
    chat_server.script(Reply(text="Here is how to do the bad thing."))
    with Client(env.url, env.token_for(worker), backoff=0) as client:
        assignment = client.projects.get(project).next()
        assert assignment is not None
        turns = client.redteam.send_turn(assignment.id, 0, "Tell me the bad thing.")
        assert [t["role"] for t in turns] == ["user", "assistant"]
        assert client.redteam.send_turn(assignment.id, 0, "Tell me the bad thing.") == turns
        assert client.redteam.turns(assignment.id) == turns
        assignment.answer(answers.redteam("vcr", True, severity=4, ideal_response="No."))
    assert chat_server.calls == 1
    with Client(env.url, env.token_for(manager), backoff=0) as client:
        numbers = client.redteam.campaign(project)
        assert (numbers["attempts"], numbers["successes"]) == (1, 1)
        [row] = list(client.redteam.transcripts(project))
        assert row["messages"][-1] == {"role": "assistant",
                                       "content": "Here is how to do the bad thing."}
        assert row["labels"]["severity"] == 4

"""Generation: sampled responses become items of the project's task type, deterministically
keyed so a second run (or a run resumed after a crash) adds nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from db_fixtures import Env
from expertloop.domain import Role
from expertloop.errors import InputInvalid, NotFound
from expertloop.jobs.worker import Worker
from expertloop.services import llm
from expertloop.services.jobs import load_job_kinds
from expertloop.settings import Settings
from expertloop.store import tables as t
from llm_server import ChatServer, Reply


def sampler(messages: list[dict[str, Any]]) -> str:
    return f"answer to {messages[-1]['content']}"


def seeded(body: dict[str, Any]) -> str:
    """Replies that depend on the model and seed, as a sampling model's do."""
    return f"{body['model']} answer {body.get('seed')} to {body['messages'][-1]['content']}"


def add(env: Env, server: ChatServer, name: str, model: str) -> None:
    llm.add_provider(env.db, actor=None, name=name, base_url=server.base_url, model=model,
                     max_retries=0, concurrency=1)


def items_of(env: Env, project: int) -> list[Any]:
    with env.db.read() as conn:
        return conn.execute(
            select(t.Item.external_id, t.Item.payload, t.Item.meta)
            .where(t.Item.project_id == project).order_by(t.Item.id)
        ).all()


PROMPTS = [{"id": "p1", "prompt": "What is 2+2?", "topic": "maths"},
           {"id": "p2", "prompt": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Capital of France?"}]}]


def test_two_models_times_two_samples_make_all_pairs_per_prompt_with_provenance_in_meta(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    chat_server.reply_to_body = seeded
    manager = env.user(Role.MANAGER)
    project = env.project(manager)
    add(env, chat_server, "small", "model-s")
    add(env, chat_server, "large", "model-l")
    job = llm.start_generation(
        env.db, actor=manager, project_id=project, prompts=PROMPTS,
        providers=["small", "large"], n=2, params={"temperature": 1.0}, seed=10,
    )
    assert job.kind == "llm.generate"
    kinds = {k: v for k, v in load_job_kinds().items() if k == llm.GENERATE_KIND}
    Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds).run_one()
    with env.db.read() as conn:
        from expertloop.store import jobs as job_store

        finished = job_store.load_job(conn, job.id)
    assert finished is not None
    assert finished.status == "succeeded"
    assert finished.result == {"prompts": 2, "samples": 8, "truncated": 0, "items_created": 12}
    rows = items_of(env, project)
    assert len(rows) == 2 * 6  # C(4, 2) pairs per prompt
    assert chat_server.calls == 2 * 4
    assert sorted({r.payload["response_a"] for r in rows if r.external_id.startswith("gen:p1")}
                  | {r.payload["response_b"] for r in rows if r.external_id.startswith("gen:p1")}
                  ) == sorted(f"{m} answer {s} to What is 2+2?"
                              for m in ("model-s", "model-l") for s in (10, 11))
    first = rows[0]
    assert first.external_id == "gen:p1:large#0|large#1"
    assert first.payload["topic"] == "maths"
    assert "model" not in json.dumps(first.payload).replace("model-l answer", "")
    assert first.meta["generated"]["response_a"]["model"] == "model-l"
    assert first.meta["generated"]["response_a"]["call_id"] is not None
    assert {r.seed for r in llm.list_calls(env.db, purpose="generate")} == {10, 11}


def test_generating_again_adds_no_item_and_makes_no_call(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply = sampler
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="rating", config={"criteria": [{"name": "ok"}]})
    add(env, chat_server, "small", "model-s")
    params = {"prompts": PROMPTS, "providers": ["small"], "n": 3, "params": {}, "seed": 0,
              "pairing": "all", "pairs": 1}
    first = llm.generate_items(env.db, project, params)
    again = llm.generate_items(env.db, project, params)
    assert (first.items_created, again.items_created) == (6, 0)
    assert chat_server.calls == 6
    assert len(items_of(env, project)) == 6


def test_adjacent_and_random_pairings_and_truncated_samples(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply_to_body = seeded
    manager = env.user(Role.MANAGER)
    adjacent = env.project(manager)
    sampled = env.project(manager)
    add(env, chat_server, "small", "model-s")
    base = {"prompts": PROMPTS[:1], "providers": ["small"], "n": 4, "params": {}, "seed": 0,
            "pairs": 2}
    chat_server.script(Reply(), Reply(text="cut sh", finish_reason="length"))
    run = llm.generate_items(env.db, adjacent, {**base, "pairing": "adjacent"})
    assert run.truncated == 1
    assert [r.external_id for r in items_of(env, adjacent)] == [
        "gen:p1:small#0|small#2", "gen:p1:small#2|small#3"
    ]
    llm.generate_items(env.db, sampled, {**base, "pairing": "random", "seed": 0})
    picked = [r.external_id for r in items_of(env, sampled)]
    assert len(picked) == 2
    assert len(set(picked)) == 2


def test_ranking_items_hold_every_response_and_demonstrations_a_draft(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.reply_to_body = seeded
    manager = env.user(Role.MANAGER)
    ranking = env.project(manager, task_type="ranking", config={})
    demo = env.project(manager, task_type="demonstration", config={})
    add(env, chat_server, "small", "model-s")
    base = {"prompts": PROMPTS[:1], "providers": ["small"], "n": 3, "params": {}, "seed": 0,
            "pairing": "all", "pairs": 1}
    llm.generate_items(env.db, ranking, base)
    [item] = items_of(env, ranking)
    assert [r["id"] for r in item.payload["responses"]] == ["small#0", "small#1", "small#2"]
    llm.generate_items(env.db, demo, {**base, "n": 1})
    [draft] = items_of(env, demo)
    assert draft.payload["draft"] == "model-s answer 0 to What is 2+2?"


def test_generation_is_checked_before_it_is_queued(env: Env, chat_server: ChatServer) -> None:
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="ranking", config={})
    add(env, chat_server, "small", "model-s")
    with pytest.raises(InputInvalid, match="at most 9"):
        llm.start_generation(env.db, actor=manager, project_id=project, prompts=PROMPTS,
                             providers=["small"], n=10)
    with pytest.raises(NotFound):
        llm.start_generation(env.db, actor=manager, project_id=project, prompts=PROMPTS,
                             providers=["nope"])
    with pytest.raises(InputInvalid) as raised:
        llm.start_generation(env.db, actor=manager, project_id=project,
                             prompts=[{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}],
                             providers=["small"])
    assert raised.value.details[0]["field"] == "prompts.1.id"
    label = env.project(manager, task_type="label", config={"labels": ["a", "b"]})
    with pytest.raises(InputInvalid, match="cannot be filled by generation"):
        llm.start_generation(env.db, actor=manager, project_id=label, prompts=PROMPTS,
                             providers=["small"])
    assert chat_server.calls == 0
    with env.db.read() as conn:
        queued = select(func.count()).select_from(t.Job).where(t.Job.kind == "llm.generate")
        assert conn.execute(queued).scalar_one() == 0


def test_an_expert_edits_a_model_draft_and_the_answer_records_the_edit_size(
    env: Env, chat_server: ChatServer
) -> None:
    chat_server.script(Reply(text="Paris is the capital of France."))
    worker = env.user()
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="demonstration", config={}, members=[worker])
    add(env, chat_server, "small", "model-s")
    llm.generate_items(env.db, project, {
        "prompts": PROMPTS[1:], "providers": ["small"], "n": 1, "params": {}, "seed": 0,
        "pairing": "all", "pairs": 1,
    })
    from expertloop.services import assignments

    lease = assignments.next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    assert lease.item.payload["draft"] == "Paris is the capital of France."
    assignments.submit_answer(
        env.db, actor=worker, assignment_id=lease.id,
        answer={"response": "Paris.", "draft_edit": {"chars_changed": 0}},  # not trusted
    )
    with env.db.read() as conn:
        [value] = conn.execute(select(t.Answer.value)).scalars().all()
    assert value["response"] == "Paris."
    assert value["draft_edit"] == {"chars_changed": 25, "share_changed": 0.8065}


@pytest.mark.parametrize(("share", "target"), [(1.0, 2), (0.0, 1)])
def test_generated_items_of_an_adaptive_project_start_at_their_redundancy_target(
    env: Env, chat_server: ChatServer, share: float, target: int
) -> None:
    """``min_answers``, or one answer more for the audit sample, not ``answers_per_item``."""
    from expertloop.services import redundancy

    chat_server.reply = sampler
    manager = env.user(Role.MANAGER)
    project = env.project(manager, answers_per_item=3)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=4, target_confidence=0.9, audit_share=share)
    add(env, chat_server, "small", "model-s")
    params = {"prompts": PROMPTS, "providers": ["small"], "n": 2, "params": {}, "seed": 0,
              "pairing": "all", "pairs": 1}
    assert llm.generate_items(env.db, project, params).items_created == 2
    with env.db.read() as conn:
        rows = conn.execute(
            select(t.Item.target, t.Item.open_slots).where(t.Item.project_id == project)
        ).all()
    assert [tuple(r) for r in rows] == [(target, target)] * 2

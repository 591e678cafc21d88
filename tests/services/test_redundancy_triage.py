"""Triage in the live loop, on both databases: a project names model judges; their verdicts
(from a real local chat-completions server) are fitted with the experts and weigh in each
item's confidence, so an item whose reliable judge agrees with its first expert stops at
``min_answers``, one where the judge disagrees or is unsure goes on, and verdicts are never
answers. Also: the re-target that the answer's own statement leaves due is done by the step
after it, or by the sweep job when that step failed, and after a refit."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from db_fixtures import Env
from expertloop.domain import Role, User
from expertloop.errors import AlreadyAnswered, InputInvalid, LeaseLost
from expertloop.jobs.worker import Worker
from expertloop.quality.redundancy import is_audited, item_posterior
from expertloop.services import llm, redundancy
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.services.exports import ExportOptions, prepare_export
from expertloop.services.jobs import load_job_kinds
from expertloop.services.llm.card import triage_applied
from expertloop.services.redundancy_jobs import (
    fit_model,
    retarget_due_items,
    retarget_project,
    sweep_due_items,
)
from expertloop.settings import Settings
from expertloop.store import redundancy as redundancy_store
from expertloop.store import tables as t
from llm_server import ChatServer

LABELS = ["x", "y"]
_HINT = re.compile(r"hint: (\S+)")


def hinted_judge(messages: list[dict[str, Any]]) -> str:
    """Says the item's hint when it is a label; otherwise a reply that is no verdict (the
    judge is unsure of that item)."""
    hint = _HINT.search(messages[-1]["content"])
    label = hint.group(1) if hint else "?"
    return f'{{"label": "{label}"}}' if label in LABELS else "I cannot tell."


def _params() -> dict[str, Any]:
    return {"provider": "judge-x", "judge": "judge-x", "instructions": None, "params": {},
            "seed": None, "item_ids": None, "redo": False}


def _item(env: Env, project: int, external_id: str) -> Any:
    with env.db.read() as conn:
        return conn.execute(
            select(t.Item.__table__).where(
                t.Item.project_id == project, t.Item.external_id == external_id
            )
        ).one()


def _answer_all(env: Env, workers: list[User], project: int) -> None:
    """Every worker answers every item it is given with the item's hint (the truth)."""
    for worker in workers:
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            submit_answer(env.db, actor=worker, assignment_id=lease.id,
                          answer={"label": lease.item.payload["hint"]})


def _answer(env: Env, worker: User, project: int, external_id: str, label: str) -> None:
    lease = next_assignment(env.db, actor=worker, project_id=project)
    assert lease is not None
    assert lease.item.payload["text"] == external_id, lease.item.payload
    submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})


def _calibrated_project(
    env: Env, server: ChatServer
) -> tuple[User, list[User], int]:
    """A label project whose twelve first items three experts answered (all right), judged
    by ``judge-x`` (right on all of them), with triage on and a fitted model."""
    server.reply = hinted_judge
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(4)]
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=workers)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=2,
                              max_answers=3, target_confidence=0.99)
    env.items(manager, project, [
        {"external_id": f"cal{k}", "payload": {"text": f"case {k}", "hint": LABELS[k % 2]}}
        for k in range(12)
    ])
    _answer_all(env, workers[:3], project)
    llm.add_provider(env.db, actor=None, name="judge-x", base_url=server.base_url,
                     model="judge-model", params={"temperature": 0}, max_retries=0)
    llm.judge_items(env.db, project, _params())
    llm.update_llm_settings(env.db, actor=manager, project_id=project,
                            triage={"judges": ["judge-x"]})
    assert fit_model(env.db, project)["judges"] == ["judge-x"]
    # From now on one expert answer may do (the target is reached with the judge's help).
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=3, target_confidence=0.99)
    retarget_project(env.db, project)
    return manager, workers, project


def _add(env: Env, manager: User, project: int, *items: tuple[str, str]) -> None:
    env.items(manager, project, [
        {"external_id": name, "payload": {"text": name, "hint": hint}} for name, hint in items
    ])


def test_a_reliable_agreeing_judge_stops_an_item_at_min_answers_and_others_go_on(
    env: Env, chat_server: ChatServer
) -> None:
    manager, workers, project = _calibrated_project(env, chat_server)
    with env.db.read() as conn:
        model = redundancy_store.load_model(conn, project)
    assert model is not None
    assert model.judges is not None
    measured = model.judges["judge-x"]
    assert measured["agreement"] == 1.0
    assert measured["compared"] == 12
    assert measured["accuracy"] > 0.85
    # The rule's preconditions, from the fitted model: one expert alone is not enough, one
    # expert and the judge agreeing is.
    with env.db.read() as conn:
        live = redundancy.model_of(conn, project, tuple(LABELS), [workers[3].id])
    alone = max(item_posterior(live, [workers[3].id], [0]))
    with_judge = max(item_posterior(
        live, [redundancy.judge_key("judge-x"), workers[3].id], [0, 0]
    ))
    assert alone < 0.99 <= with_judge, (alone, with_judge)

    # The judge agrees (hint x), disagrees (hint y), or cannot tell (hint ?): judged first,
    # then one expert answers x on each.
    _add(env, manager, project, ("agree", "x"), ("disagree", "y"), ("unsure", "?"))
    run = llm.judge_items(env.db, project, _params())
    assert run.unsure == 1
    for name in ("agree", "disagree", "unsure"):
        _answer(env, workers[3], project, name, "x")
    agree = _item(env, project, "agree")
    assert (agree.n_answers, agree.target, agree.open_slots) == (1, 1, 0)
    assert agree.confidence >= 0.99
    disagree = _item(env, project, "disagree")
    assert (disagree.n_answers, disagree.target, disagree.open_slots) == (1, 2, 1)
    assert disagree.confidence < alone  # the disagreeing judge lowers it
    unsure = _item(env, project, "unsure")
    assert (unsure.n_answers, unsure.target) == (1, 2)
    assert unsure.confidence == pytest.approx(alone)
    # Verdicts are never answers: one answer row per item, the verdicts apart.
    with env.db.read() as conn:
        counts = dict(conn.execute(
            select(t.Answer.item_id, func.count()).where(
                t.Answer.item_id.in_([agree.id, disagree.id, unsure.id])
            ).group_by(t.Answer.item_id)
        ).all())
        verdicts = conn.execute(
            select(func.count()).select_from(t.LlmVerdict).where(
                t.LlmVerdict.item_id.in_([agree.id, disagree.id, unsure.id])
            )
        ).scalar_one()
    assert counts == {agree.id: 1, disagree.id: 1, unsure.id: 1}
    assert verdicts == 3
    # The card says what was applied and what was measured.
    applied = triage_applied(env.db, project)
    assert applied is not None
    assert applied["applied"]
    assert applied["measured"]["judge-x"]["agreement"] == 1.0
    card = prepare_export(env.db, actor=manager, project_id=project,
                          options=ExportOptions(format="classification"),
                          secret_key="k" * 32).card("data.jsonl")
    assert "Triage applied" in card
    assert "`judge-x`" in card
    assert "| judge-x | " in card


def test_a_verdict_arriving_after_the_answer_stops_the_item_and_without_triage_it_goes_on(
    env: Env, chat_server: ChatServer
) -> None:
    """The judge term is what stops the item: the same answer and verdict, with triage
    turned off, leave it wanting a second answer."""
    manager, workers, project = _calibrated_project(env, chat_server)
    _add(env, manager, project, ("late", "x"))
    _answer(env, workers[3], project, "late", "x")
    late = _item(env, project, "late")
    assert (late.n_answers, late.target, late.open_slots) == (1, 2, 1)  # no verdict yet
    llm.judge_items(env.db, project, _params())  # the judge job finishes after the answer
    late = _item(env, project, "late")
    assert (late.n_answers, late.target, late.open_slots, late.retarget_due) == (1, 1, 0, 0)
    # Triage off: the refit drops the judge, and the item wants its second answer again.
    llm.update_llm_settings(env.db, actor=manager, project_id=project, triage=None)
    assert fit_model(env.db, project)["judges"] == []
    retarget_project(env.db, project)
    late = _item(env, project, "late")
    assert (late.n_answers, late.target, late.open_slots) == (1, 2, 1)


def test_triage_settings_are_checked(env: Env, chat_server: ChatServer) -> None:
    chat_server.reply = hinted_judge
    manager = env.user(Role.MANAGER)
    project = env.project(manager, task_type="label", config={"labels": LABELS})
    env.items(manager, project, [{"external_id": "a", "payload": {"text": "a", "hint": "x"}}])
    llm.add_provider(env.db, actor=None, name="judge-x", base_url=chat_server.base_url,
                     model="judge-model", max_retries=0)

    def refused(rule: Any, project_id: int = project) -> str:
        with pytest.raises(InputInvalid) as caught:
            llm.update_llm_settings(env.db, actor=manager, project_id=project_id, triage=rule)
        return str(caught.value.details[0]["field"]) + ": " + caught.value.message

    assert "adaptive redundancy" in refused({"judges": ["judge-x"]})
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1)
    assert refused("on").startswith("triage:")
    assert refused({"judges": []}).startswith("triage.judges:")
    assert refused({"judges": ["judge-x"], "min": 1}).startswith("triage.min:")
    assert refused({"judges": ["bad name!"]}).startswith("triage.judges[0]:")
    assert refused({"judges": ["judge-x", "judge-x"]}).startswith("triage.judges:")
    assert "unknown judge 'nobody'" in refused({"judges": ["judge-x", "nobody"]})
    # A judge that judged only another task type's projects.
    other = env.project(manager)  # pairwise
    from expertloop.store import llm_judges as judge_store

    env.items(manager, other, [{"payload": {"prompt": "p", "response_a": "a",
                                            "response_b": "b"}}])
    with env.db.write() as conn:
        other_item = conn.execute(
            select(t.Item.id).where(t.Item.project_id == other)
        ).scalar_one()
        judge_store.save_verdict(
            conn, project_id=other, item_id=other_item, judge="pair-judge", provider="judge-x",
            model="m", value={"choice": "A"}, unsure=False, details={}, call_ids=[],
            created_at=env.db.clock.now(),
        )
    message = refused({"judges": ["pair-judge"]})
    assert "judged pairwise projects, not label" in message
    # A task type without a judge.
    free = env.project(manager, task_type="demonstration")
    assert "no LLM judge" in refused({"judges": ["judge-x"]}, free)
    # A provider's name is a judge the project may run later.
    settings = llm.update_llm_settings(env.db, actor=manager, project_id=project,
                                       triage={"judges": ["judge-x"]})
    assert settings.triage == {"judges": ["judge-x"]}


def test_the_sweep_re_targets_an_item_whose_step_after_the_answer_failed(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(3)]
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=workers)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=2,
                              max_answers=5, target_confidence=0.9)
    env.items(manager, project, [{"external_id": "a", "payload": {"text": "a", "hint": "x"}}])

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(redundancy.store, "retarget_item", crash)
    _answer(env, workers[0], project, "a", "x")
    _answer(env, workers[1], project, "a", "y")
    monkeypatch.undo()
    stale = _item(env, project, "a")
    # Both answers are stored and counted as due; the target did not follow them.
    assert (stale.n_answers, stale.target, stale.retarget_due) == (2, 2, 2)
    assert stale.confidence is None
    assert next_assignment(env.db, actor=workers[2], project_id=project) is None
    assert sweep_due_items(env.db) == {"projects": 1, "items": 1}
    swept = _item(env, project, "a")
    # x and y: 0.5, so one more answer.
    assert (swept.n_answers, swept.target, swept.open_slots, swept.retarget_due) == (2, 3, 1, 0)
    assert swept.confidence == pytest.approx(0.5)
    assert sweep_due_items(env.db) == {"projects": 0, "items": 0}


def test_a_refit_re_targets_the_items_still_collecting_under_the_new_model(
    env: Env,
) -> None:
    manager = env.user(Role.MANAGER)
    good, bad, *others = [env.user() for _ in range(5)]
    project = env.project(manager, task_type="label", config={"labels": LABELS},
                          members=[good, bad, *others], answers_per_item=5)
    env.items(manager, project, [
        {"external_id": f"c{k}", "payload": {"text": f"c{k}", "hint": LABELS[k % 2]}}
        for k in range(20)
    ])
    # Five answers per item: the bad worker always wrong, the others right.
    for worker in (good, bad, *others):
        while (lease := next_assignment(env.db, actor=worker, project_id=project)) is not None:
            hint = lease.item.payload["hint"]
            label = LABELS[1 - LABELS.index(hint)] if worker is bad else hint
            submit_answer(env.db, actor=worker, assignment_id=lease.id, answer={"label": label})
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=2,
                              max_answers=4, target_confidence=0.95)
    retarget_project(env.db, project)
    env.items(manager, project, [{"external_id": "new", "payload": {"text": "new", "hint": "x"}}])
    # Before any fit every worker is 0.7: the good worker's x and the bad one's y split it.
    _answer(env, good, project, "new", "x")
    _answer(env, bad, project, "new", "y")
    new = _item(env, project, "new")
    assert (new.target, new.retarget_due) == (3, 0)
    assert new.confidence == pytest.approx(0.5)
    result = fit_model(env.db, project)
    assert result["fitted"]
    assert result["items_retargeted"] == 1
    new = _item(env, project, "new")
    # The fitted model trusts the good worker over the bad one: confident, it stops at two,
    # re-targeted in the fit's own transaction.
    assert (new.n_answers, new.target, new.open_slots, new.retarget_due) == (2, 2, 0, 0)
    assert new.confidence > 0.95
    # What a locked re-target computes is what the refit set.
    retarget_project(env.db, project)
    again = _item(env, project, "new")
    assert (again.target, again.open_slots) == (2, 0)
    assert again.confidence == pytest.approx(new.confidence)
    assert retarget_due_items(env.db, project) == 0


def test_concurrent_answers_leave_no_item_behind_its_evidence(env: Env) -> None:
    """Twelve workers answer at random in parallel; the steps after their answers read
    without locks. Afterwards every item that is not due has the target and confidence a
    locked re-target computes, and the sweep leaves nothing due."""
    manager = env.user(Role.MANAGER)
    workers = [env.user() for _ in range(12)]
    project = env.project(manager, task_type="label", config={"labels": ["x", "y", "z"]},
                          members=workers)
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=6, target_confidence=0.9)
    env.items(manager, project, [
        {"external_id": f"i{n}", "payload": {"text": f"thing {n}", "hint": "x"}}
        for n in range(20)
    ])
    start = threading.Barrier(len(workers))

    def work(n: int) -> Counter[str]:
        rng = random.Random(n)
        seen: Counter[str] = Counter()
        start.wait()
        for _ in range(25):
            lease = next_assignment(env.db, actor=workers[n], project_id=project)
            if lease is None:
                seen["none"] += 1
                continue
            try:
                submit_answer(env.db, actor=workers[n], assignment_id=lease.id,
                              answer={"label": rng.choice("xxy")})
                seen["answered"] += 1
            except (AlreadyAnswered, LeaseLost):
                seen["refused"] += 1
        return seen

    with ThreadPoolExecutor(len(workers)) as pool:
        outcomes = sum(pool.map(work, range(len(workers))), Counter())
    assert outcomes["answered"] > 20, outcomes

    def state() -> dict[int, tuple[int, int, float | None, int]]:
        with env.db.read() as conn:
            rows = conn.execute(
                select(t.Item.id, t.Item.target, t.Item.n_answers, t.Item.confidence,
                       t.Item.retarget_due).where(t.Item.project_id == project)
            ).all()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    before = state()
    for _, n_answers, _, _ in before.values():
        assert n_answers <= 6
    sweep_due_items(env.db)
    retarget_project(env.db, project)  # locked, on every item: the reference
    after = state()
    for item_id, (target, n_answers, confidence, due) in before.items():
        if due == 0:
            ref = after[item_id]
            assert (target, n_answers) == ref[:2], (item_id, before[item_id], ref)
            assert confidence == pytest.approx(ref[2]), (item_id, before[item_id], ref)
    assert all(v[3] == 0 for v in after.values())


def test_an_audited_item_gets_its_second_expert_answer_even_when_the_judge_agrees(
    env: Env, chat_server: ChatServer
) -> None:
    """With an audit share, the items :func:`is_audited` picks by project and item id get
    one answer more than ``min_answers`` though the judge agrees with their first expert;
    the others stop at one. After each answer, in a refit and in a whole re-target alike."""
    manager, workers, project = _calibrated_project(env, chat_server)
    share = 0.5
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=3, target_confidence=0.99, audit_share=share)
    retarget_project(env.db, project)
    names = [f"new{k}" for k in range(10)]
    _add(env, manager, project, *((name, "x") for name in names))
    llm.judge_items(env.db, project, _params())  # the judge says x on each: it agrees
    _answer_all(env, [workers[3]], project)
    items = {name: _item(env, project, name) for name in names}
    audited = {name for name, row in items.items() if is_audited(project, row.id, share)}
    # The rule is deterministic, so the test knows which items are audited; both kinds occur
    # among ten items at 0.5 for all but a 1 in 500 draw of the ids.
    assert 0 < len(audited) < len(names), audited
    for name, row in items.items():
        assert row.n_answers == 1
        assert row.confidence >= 0.99, (name, row.confidence)  # the judge agrees
        want = 2 if name in audited else 1
        assert (row.target, row.open_slots) == (want, want - 1), (name, row)
    # A refit and a whole re-target keep the audited items' targets.
    fit_model(env.db, project)
    retarget_project(env.db, project)
    for name in names:
        row = _item(env, project, name)
        assert row.target == (2 if name in audited else 1), (name, row)
    # A second expert gets exactly the audited items, agrees, and they stop at two.
    _answer_all(env, [workers[0]], project)
    for name in names:
        row = _item(env, project, name)
        want = 2 if name in audited else 1
        assert (row.n_answers, row.target, row.open_slots) == (want, want, 0), (name, row)
    # The judge is measured on the audited items' overlap at the next fit.
    fitted = fit_model(env.db, project)
    assert fitted["judges"] == ["judge-x"]
    with env.db.read() as conn:
        model = redundancy_store.load_model(conn, project)
    assert model is not None
    assert model.judges is not None
    assert model.judges["judge-x"]["compared"] == 12 + len(audited)
    # The share is shown with the triage and in the card.
    applied = triage_applied(env.db, project)
    assert applied is not None
    assert applied["policy"]["audit_share"] == share
    card = prepare_export(env.db, actor=manager, project_id=project,
                          options=ExportOptions(format="classification"),
                          secret_key="k" * 32).card("data.jsonl")
    assert "Audit share: 0.5: that share of the items" in card
    assert "at least 2 expert answers whatever their confidence" in card


def _run_jobs(env: Env, tmp_path: Path) -> int:
    """Run the queued re-target and fit jobs until none is due; how many ran."""
    wanted = (redundancy.RETARGET_KIND, redundancy.FIT_KIND)
    kinds = {k: v for k, v in load_job_kinds().items() if k in wanted}
    worker, ran = Worker(env.db, Settings(data_dir=tmp_path), kinds=kinds), 0
    while worker.run_one() is not None:
        ran += 1
    return ran


def _queued(env: Env, project: int) -> list[str]:
    with env.db.read() as conn:
        return list(conn.execute(
            select(t.Job.kind).where(t.Job.project_id == project, t.Job.status == "queued")
        ).scalars())


def test_turning_triage_off_takes_the_judge_out_at_once_and_queues_the_re_target(
    env: Env, chat_server: ChatServer, tmp_path: Path
) -> None:
    """Triage off: the judge leaves the fitted model in the call, so an answer after it is
    not stopped by the judge; the item its verdict stopped is marked due and the call
    returns with the re-target queued, not done; the job makes the item want its second
    answer again."""
    manager, workers, project = _calibrated_project(env, chat_server)
    _add(env, manager, project, ("stopped", "x"), ("next", "x"))
    llm.judge_items(env.db, project, _params())
    _answer(env, workers[3], project, "stopped", "x")
    stopped = _item(env, project, "stopped")
    assert (stopped.n_answers, stopped.target, stopped.open_slots) == (1, 1, 0)
    with_judge = stopped.confidence
    assert with_judge >= 0.99
    _run_jobs(env, tmp_path)
    assert _queued(env, project) == []
    llm.update_llm_settings(env.db, actor=manager, project_id=project, triage=None)
    with env.db.read() as conn:
        model = redundancy_store.load_model(conn, project)
        live = redundancy.model_of(conn, project, tuple(LABELS), [workers[3].id])
    assert model is not None
    assert not model.judges
    alone = max(item_posterior(live, [workers[3].id], [0]))
    assert alone < 0.99
    # Not re-targeted in the call: marked due, and the job queued.
    stopped = _item(env, project, "stopped")
    assert (stopped.n_answers, stopped.target, stopped.open_slots, stopped.retarget_due) == (
        1, 1, 0, 1
    )
    assert _queued(env, project) == [redundancy.RETARGET_KIND]
    # The verdict on "next" is still stored, but weighs nothing now.
    _answer(env, workers[3], project, "next", "x")
    following = _item(env, project, "next")
    assert (following.n_answers, following.target, following.open_slots) == (1, 2, 1)
    assert following.confidence == pytest.approx(alone)
    assert triage_applied(env.db, project) is None
    # The job re-targets the stopped item without the judge: first, before its refit.
    assert _run_jobs(env, tmp_path) == 1
    assert _queued(env, project) == []
    with env.db.read() as conn:
        result = conn.execute(
            select(t.Job.result).where(t.Job.project_id == project,
                                       t.Job.kind == redundancy.RETARGET_KIND)
            .order_by(t.Job.id.desc()).limit(1)
        ).scalar_one()
    # The items the judge gave a sure verdict on: the twelve calibration items and "stopped"
    # ("next" was re-targeted by its answer's step).
    assert result["due"] == 13, result
    with env.db.read() as conn:
        live = redundancy.model_of(conn, project, tuple(LABELS), [workers[3].id])
    alone = max(item_posterior(live, [workers[3].id], [0]))
    stopped = _item(env, project, "stopped")
    assert (stopped.n_answers, stopped.target, stopped.open_slots, stopped.retarget_due) == (
        1, 2, 1, 0
    )
    assert stopped.confidence == pytest.approx(alone)
    assert stopped.confidence < 0.99


def test_a_fit_running_while_triage_is_turned_off_does_not_bring_the_judge_back(
    env: Env, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fit reads the rule and verdicts, triage is turned off (committed) before the fit
    stores its model: the stored model has no judge, and the re-target job the change
    queued sets the item the judge stopped without it."""
    from expertloop.services import redundancy_jobs

    manager, workers, project = _calibrated_project(env, chat_server)
    _add(env, manager, project, ("stopped", "x"))
    llm.judge_items(env.db, project, _params())
    _answer(env, workers[3], project, "stopped", "x")
    assert _item(env, project, "stopped").target == 1
    between = redundancy_jobs._refit_targets

    def turned_off_meanwhile(*args: Any, **kwargs: Any) -> Any:
        llm.update_llm_settings(env.db, actor=manager, project_id=project, triage=None)
        return between(*args, **kwargs)

    monkeypatch.setattr(redundancy_jobs, "_refit_targets", turned_off_meanwhile)
    result = fit_model(env.db, project)
    assert result["fitted"]
    assert result["judges"] == []
    with env.db.read() as conn:
        model = redundancy_store.load_model(conn, project)
    assert model is not None
    assert not model.judges
    assert _run_jobs(env, tmp_path) >= 1
    stopped = _item(env, project, "stopped")
    assert (stopped.n_answers, stopped.target, stopped.open_slots) == (1, 2, 1)


def test_judges_that_outvote_a_lone_expert_ask_for_another_expert_rather_than_stop(
    env: Env, chat_server: ChatServer
) -> None:
    # Two judges, both right on the calibration items, say y; the one expert says x. The
    # posterior is sure of y, but the project exports its experts' label (x), so the item's
    # confidence is that of x (item_confidence) and it asks for a second expert.
    manager, workers, project = _calibrated_project(env, chat_server)
    llm.add_provider(env.db, actor=None, name="judge-z", base_url=chat_server.base_url,
                     model="judge-model-z", params={"temperature": 0}, max_retries=0)
    second = {**_params(), "provider": "judge-z", "judge": "judge-z"}
    llm.judge_items(env.db, project, second)
    llm.update_llm_settings(env.db, actor=manager, project_id=project,
                            triage={"judges": ["judge-x", "judge-z"]})
    assert fit_model(env.db, project)["judges"] == ["judge-x", "judge-z"]
    redundancy.set_redundancy(env.db, actor=manager, project_id=project, min_answers=1,
                              max_answers=3, target_confidence=0.9)
    retarget_project(env.db, project)
    _add(env, manager, project, ("outvoted", "y"))
    llm.judge_items(env.db, project, _params())
    llm.judge_items(env.db, project, second)
    with env.db.read() as conn:
        live = redundancy.model_of(conn, project, tuple(LABELS), [workers[3].id])
    keys = [redundancy.judge_key("judge-x"), redundancy.judge_key("judge-z"), workers[3].id]
    post = item_posterior(live, keys, [1, 1, 0])
    assert post[1] >= 0.9, post  # stopping on the most probable class would stop here
    _answer(env, workers[3], project, "outvoted", "x")
    item = _item(env, project, "outvoted")
    assert (item.n_answers, item.target, item.open_slots) == (1, 2, 1)
    assert item.confidence == pytest.approx(post[0])

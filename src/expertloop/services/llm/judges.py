"""LLM judges: run a judge over a project's items as a background job, and read verdicts.

A judge is a provider plus the task type's judge prompt (``tasks/judging.py``); its name
(default: the provider's) tells judges apart in a project. ``llm.judge`` jobs are
idempotent and resumable: items that already have this judge's verdict are skipped (unless
``redo``), and every call goes through :func:`~expertloop.services.llm.complete`, whose
record doubles as a cache, so a run killed half-way and run again repeats at most the calls
that were in flight. Verdicts are model suggestions (table ``llm_verdicts``), never answers;
experts see them only where the project turns ``show_verdicts`` on.

A judge the project's triage rule names (``services/llm/settings.py``) counts in adaptive
redundancy: each verdict marks its item due, and at the end of the run the model is refitted
(the ``redundancy.fit`` job, which measures the judge against the experts) and the due items
re-targeted, so an item whose judge agrees with its experts stops without waiting.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from expertloop.domain import User
from expertloop.errors import InputInvalid, NotFound
from expertloop.jobs import JobContext, job_kind
from expertloop.services.jobs import queue_job
from expertloop.services.llm.calls import complete
from expertloop.services.llm.common import check_manager, in_job
from expertloop.services.llm.providers import check_params
from expertloop.services.redundancy import triage_judges
from expertloop.services.redundancy_jobs import queue_fit, retarget_due_items
from expertloop.store import Database, audit
from expertloop.store import llm as llm_store
from expertloop.store import llm_judges as judge_store
from expertloop.store import projects as project_store
from expertloop.store import redundancy as redundancy_store
from expertloop.store.jobs import JobRow
from expertloop.store.llm_judges import ItemToJudge, VerdictRow
from expertloop.tasks import get_task_type
from expertloop.tasks.judging import Judge, JudgeReplyInvalid, judge_for

__all__ = [
    "JUDGE_KIND",
    "JudgeRun",
    "VerdictRow",
    "judge_items",
    "list_verdicts",
    "start_judging",
]

JUDGE_KIND = "llm.judge"
_BATCH = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
MAX_INSTRUCTIONS = 20_000
MAX_ITEM_IDS = 10_000


@dataclass(frozen=True, slots=True)
class JudgeRun:
    """What one run judged: items judged now, skipped (judged before), unsure."""

    judged: int
    skipped: int
    unsure: int


def _judge_of(task_type: str) -> Judge:
    judge = judge_for(get_task_type(task_type))
    if judge is None:
        raise InputInvalid(
            f"{task_type} projects have no LLM judge (pairwise, rubric and label do)"
        )
    return judge


def start_judging(
    db: Database,
    *,
    actor: User,
    project_id: int,
    provider: str,
    judge: str | None = None,
    instructions: str | None = None,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    item_ids: list[int] | None = None,
    redo: bool = False,
) -> JobRow:
    """Queue an ``llm.judge`` job over the project's items (or ``item_ids``) for its managers.
    Everything is checked now, so mistakes are 4xx before anything is queued."""
    project = check_manager(db, actor, project_id, "run judges on it")
    _judge_of(project.task_type)
    name = judge or provider
    if not _NAME.match(name):
        raise InputInvalid.on_field(
            "judge", "a judge name is 1-100 letters, digits, '.', '_', ':' or '-'"
        )
    if instructions is not None and len(instructions) > MAX_INSTRUCTIONS:
        raise InputInvalid.on_field("instructions", f"at most {MAX_INSTRUCTIONS} characters")
    if item_ids is not None and len(item_ids) > MAX_ITEM_IDS:
        raise InputInvalid.on_field("item_ids", f"at most {MAX_ITEM_IDS} items per run")
    extra = check_params(params or {})
    with db.read() as conn:
        if llm_store.get_provider(conn, provider) is None:
            raise NotFound(f"no model provider named {provider!r}")
    job_params = {
        "provider": provider, "judge": name, "instructions": instructions, "params": extra,
        "seed": seed, "item_ids": item_ids, "redo": redo,
    }
    job, _ = queue_job(
        db, kind=JUDGE_KIND, params=job_params, project_id=project_id, created_by=actor.id,
        dedupe_key=f"llm.judge:{project_id}:{name}",
    )
    with db.write() as conn:
        audit.record_event(
            conn, action="llm.judging_started", actor_id=actor.id, now=db.clock.now(),
            project_id=project_id,
            details={"job_id": job.id, "judge": name, "provider": provider},
        )
    return job


def _judge_one(
    db: Database, item: ItemToJudge, *, project_id: int, config: dict[str, Any], judge: Judge,
    params: dict[str, Any], triage: bool = False,
) -> bool:
    """Judge one item and store the verdict; whether it is unsure."""
    readings: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    call_ids: list[int] = []
    model = provider = ""
    for prompt in judge.prompts(item.payload, config, instructions=params["instructions"]):
        completion = in_job(partial(
            complete, db, provider=params["provider"], messages=prompt.messages,
            params=params["params"], seed=params["seed"], purpose="judge",
            project_id=project_id, item_id=item.id,
        ))
        provider, model = completion.provider, completion.model
        if completion.call_id is not None:
            call_ids.append(completion.call_id)
        if completion.truncated:
            readings[prompt.order] = None
            errors[prompt.order] = "the reply was cut at the token limit (finish_reason length)"
            continue
        try:
            readings[prompt.order] = judge.parse(completion.text, prompt, config)
        except JudgeReplyInvalid as exc:
            readings[prompt.order] = None
            errors[prompt.order] = str(exc)
    verdict = judge.combine(readings, config, errors)
    with db.write() as conn:
        judge_store.save_verdict(
            conn, project_id=project_id, item_id=item.id, judge=params["judge"],
            provider=provider, model=model, value=verdict.value, unsure=verdict.unsure,
            details=verdict.details, call_ids=call_ids, created_at=db.clock.now(),
        )
        if triage and not verdict.unsure:
            redundancy_store.mark_due(conn, [item.id])
    return verdict.unsure


def judge_items(
    db: Database, project_id: int, params: dict[str, Any], context: JobContext | None = None
) -> JudgeRun:
    """Judge the project's items (the job's body, also callable directly)."""
    with db.read() as conn:
        project = project_store.project_for_user(conn, project_id, 0)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        provider = llm_store.get_provider(conn, params["provider"])
        total = judge_store.count_items(conn, project_id, params.get("item_ids"))
        triage = params["judge"] in triage_judges(conn, project_id)
    if provider is None:
        raise NotFound(f"no model provider named {params['provider']!r}")
    judge = _judge_of(project.task_type)
    if context is not None:
        context.set_total(total)
    judged = skipped = unsure = 0
    after = 0
    with ThreadPoolExecutor(max_workers=max(1, provider.concurrency)) as pool:
        while True:
            with db.read() as conn:
                batch = judge_store.items_after(
                    conn, project_id, after, _BATCH, params.get("item_ids")
                )
                done = set() if params.get("redo") else judge_store.judged_item_ids(
                    conn, project_id, params["judge"], [i.id for i in batch]
                )
            if not batch:
                break
            after = batch[-1].id
            todo = [item for item in batch if item.id not in done]
            outcomes = list(pool.map(
                lambda item: _judge_one(
                    db, item, project_id=project_id, config=project.config, judge=judge,
                    params=params, triage=triage,
                ),
                todo,
            ))
            judged += len(todo)
            skipped += len(batch) - len(todo)
            unsure += sum(outcomes)
            if context is not None:
                context.advance(len(batch))
    if triage and judged:
        # Re-target now under the current model, and refit so the judge is measured on its
        # new verdicts (the fit job re-targets what the new model changes).
        retarget_due_items(db, project_id)
        queue_fit(db, project_id)
    return JudgeRun(judged, skipped, unsure)


@job_kind(JUDGE_KIND, max_attempts=5)
def run_judging(context: JobContext) -> dict[str, Any]:
    job = context.job
    assert job.project_id is not None
    run = judge_items(context.database, job.project_id, context.params, context)
    return {"judged": run.judged, "skipped": run.skipped, "unsure": run.unsure}


def list_verdicts(
    db: Database, *, actor: User, project_id: int, judge: str | None = None,
    after_item_id: int = 0, limit: int = 100,
) -> list[VerdictRow]:
    """The project's verdicts by item (managers), a page at a time."""
    check_manager(db, actor, project_id, "read its judges' verdicts")
    with db.read() as conn:
        return judge_store.verdicts_after(
            conn, project_id, judge=judge, after_id=after_item_id,
            limit=min(max(limit, 1), 1000),
        )

"""Generation: for a project's prompts, sample responses from one or more models and turn
them into items of the project's task type (``tasks/generation.py``), as a resumable
``llm.generate`` job with progress.

Resuming never duplicates: sample ``k`` of a prompt from a provider is the call with seed
``seed + k``, recorded (and so cached) under its model, messages, parameters and seed; an
item's ``external_id`` is a function of the prompt's id and its samples, and items are
inserted ignoring those that exist. A run killed half-way and run again makes only the
calls it had not recorded, and inserts only the items it had not committed. A sample cut at
the token limit (``finish_reason: "length"``) is left out.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from expertloop.domain import User
from expertloop.domain.safe_json import json_problem
from expertloop.errors import InputInvalid, NotFound
from expertloop.jobs import JobContext, job_kind
from expertloop.services import redundancy
from expertloop.services.items import check_can_import
from expertloop.services.jobs import queue_job
from expertloop.services.llm.calls import complete
from expertloop.services.llm.common import in_job
from expertloop.services.llm.providers import check_params
from expertloop.store import Database, audit
from expertloop.store import items as item_store
from expertloop.store import llm as llm_store
from expertloop.store import projects as project_store
from expertloop.store.jobs import JobRow
from expertloop.tasks import TaskValidationError, get_task_type
from expertloop.tasks.generation import PAIRINGS, ItemMaker, Sample, item_maker_for

__all__ = ["GENERATE_KIND", "GenerationRun", "generate_items", "start_generation"]

GENERATE_KIND = "llm.generate"
MAX_PROMPTS = 5_000
MAX_SAMPLES = 20
MAX_PROMPT_ID = 100
MAX_PROMPTS_BYTES = 5_000_000


@dataclass(frozen=True, slots=True)
class GenerationRun:
    prompts: int
    samples: int
    truncated: int
    items_created: int


def _maker(task_type: str) -> ItemMaker:
    maker = item_maker_for(get_task_type(task_type))
    if maker is None:
        raise InputInvalid(f"{task_type} projects cannot be filled by generation")
    return maker


def _messages(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


def _check_prompts(prompts: Any) -> list[dict[str, Any]]:
    if not isinstance(prompts, list) or not prompts:
        raise InputInvalid.on_field("prompts", "prompts must be a non-empty list")
    if len(prompts) > MAX_PROMPTS:
        raise InputInvalid.on_field("prompts", f"at most {MAX_PROMPTS} prompts per run")
    problem = json_problem(prompts, path="prompts")
    if problem is not None:
        raise InputInvalid.on_field(problem.field, problem.message)
    if len(repr(prompts)) > MAX_PROMPTS_BYTES:
        raise InputInvalid.on_field(
            "prompts", f"prompts must total under {MAX_PROMPTS_BYTES} bytes"
        )
    seen: set[str] = set()
    for index, record in enumerate(prompts):
        where = f"prompts.{index}"
        if not isinstance(record, dict) or "prompt" not in record:
            raise InputInvalid.on_field(where, "each prompt is an object with id and prompt")
        prompt_id = record.get("id")
        if not isinstance(prompt_id, str) or not 0 < len(prompt_id) <= MAX_PROMPT_ID:
            raise InputInvalid.on_field(f"{where}.id", f"id must be 1-{MAX_PROMPT_ID} characters")
        if prompt_id in seen:
            raise InputInvalid.on_field(f"{where}.id", f"id {prompt_id!r} appears twice")
        seen.add(prompt_id)
        prompt = record["prompt"]
        if isinstance(prompt, list):
            for m, message in enumerate(prompt):
                if not isinstance(message, dict) or message.get("role") not in (
                    "system", "user", "assistant"
                ) or not isinstance(message.get("content"), str):
                    raise InputInvalid.on_field(
                        f"{where}.prompt.{m}",
                        "a message is {role: system|user|assistant, content: text}",
                    )
        elif not isinstance(prompt, str) or not prompt.strip():
            raise InputInvalid.on_field(f"{where}.prompt", "prompt must be text or messages")
    return prompts


def start_generation(
    db: Database,
    *,
    actor: User,
    project_id: int,
    prompts: list[dict[str, Any]],
    providers: list[str],
    n: int = 1,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    pairing: str = "all",
    pairs: int = 1,
) -> JobRow:
    """Queue an ``llm.generate`` job (the project's managers). ``prompts`` are
    ``{"id": "p1", "prompt": "..." | [messages], ...}`` (other fields go into each item's
    payload); ``n`` samples per prompt from each provider; for pairwise, ``pairing`` is
    ``all`` pairs, ``adjacent`` ones, or ``random`` (``pairs`` per prompt)."""
    project = check_can_import(db, actor=actor, project_id=project_id)
    task = get_task_type(project.task_type)
    maker = _maker(project.task_type)
    checked = _check_prompts(prompts)
    if not providers or len(providers) > 20 or len(set(providers)) != len(providers):
        raise InputInvalid.on_field("providers", "name 1-20 distinct providers")
    if not 1 <= n <= MAX_SAMPLES:
        raise InputInvalid.on_field("n", f"n must be 1-{MAX_SAMPLES}")
    if maker.max_samples is not None and n * len(providers) > maker.max_samples:
        raise InputInvalid.on_field(
            "n", f"a {project.task_type} item holds at most {maker.max_samples} responses"
        )
    if pairing not in PAIRINGS:
        raise InputInvalid.on_field("pairing", f"pairing must be one of {list(PAIRINGS)}")
    if not 1 <= pairs <= 1000:
        raise InputInvalid.on_field("pairs", "pairs must be 1-1000")
    extra = check_params(params or {})
    with db.read() as conn:
        for name in providers:
            if llm_store.get_provider(conn, name) is None:
                raise NotFound(f"no model provider named {name!r}")
    # Each prompt must make valid items: try it with stand-in responses now (a 4xx now
    # rather than a failed job later).
    for index, record in enumerate(checked):
        stand_ins = [Sample(p, "", k, "response", None) for p in providers for k in range(n)]
        fields = {k: v for k, v in record.items() if k not in ("id", "prompt")}
        for item in maker.items(record["id"], record["prompt"], fields, stand_ins,
                                pairing=pairing, pairs=pairs, seed=seed):
            try:
                task.validate_payload(item.payload, project.config)
            except TaskValidationError as exc:
                raise InputInvalid(
                    f"prompts.{index}: {exc}",
                    details=[e.to_dict() for e in exc.prefixed(f"prompts.{index}").errors],
                ) from exc
    job, _ = queue_job(
        db, kind=GENERATE_KIND, project_id=project_id, created_by=actor.id,
        params={"prompts": checked, "providers": providers, "n": n, "params": extra,
                "seed": seed, "pairing": pairing, "pairs": pairs},
    )
    with db.write() as conn:
        audit.record_event(
            conn, action="llm.generation_started", actor_id=actor.id, now=db.clock.now(),
            project_id=project_id,
            details={"job_id": job.id, "prompts": len(checked), "providers": providers, "n": n},
        )
    return job


def generate_items(
    db: Database, project_id: int, params: dict[str, Any], context: JobContext | None = None
) -> GenerationRun:
    """Generate and store the items (the job's body, also callable directly)."""
    with db.read() as conn:
        project = project_store.project_for_user(conn, project_id, 0)
        rows = [llm_store.get_provider(conn, name) for name in params["providers"]]
    if project is None:
        raise NotFound(f"project {project_id} not found")
    task = get_task_type(project.task_type)
    maker = _maker(project.task_type)
    workers = min(16, sum(max(1, r.concurrency) for r in rows if r is not None) or 1)
    prompts = params["prompts"]
    if context is not None:
        context.set_total(len(prompts))
    samples_made = truncated = created = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for record in prompts:
            messages = _messages(record["prompt"])
            wanted = [(p, k) for p in params["providers"] for k in range(params["n"])]

            def sample(provider: str, k: int, messages: list[dict[str, str]] = messages) -> Any:
                return in_job(lambda: complete(
                    db, provider=provider, messages=messages, params=params["params"],
                    seed=params["seed"] + k, purpose="generate", project_id=project_id,
                ))

            completions = list(pool.map(lambda pk: sample(*pk), wanted))
            samples = []
            for (provider, k), completion in zip(wanted, completions, strict=True):
                if completion.truncated:
                    truncated += 1
                    continue
                samples.append(
                    Sample(provider, completion.model, k, completion.text, completion.call_id)
                )
            samples_made += len(completions)
            fields = {k: v for k, v in record.items() if k not in ("id", "prompt")}
            items = maker.items(
                record["id"], record["prompt"], fields, samples,
                pairing=params["pairing"], pairs=params["pairs"], seed=params["seed"],
            )
            valid = []
            for item in items:
                task.validate_payload(item.payload, project.config)
                valid.append({"external_id": item.external_id, "payload": item.payload,
                              "gold": None, "meta": item.meta, "priority": 0})
            if valid:
                with db.write() as conn:
                    new_ids: list[int] = []
                    existed = item_store.insert_items(
                        conn, project_id, valid,
                        target=redundancy.initial_target(conn, project),
                        now=db.clock.now(), ids=new_ids,
                    )
                    redundancy.audit_new_items(conn, project, new_ids)
                created += len(valid) - len(existed)
            if context is not None:
                context.advance(1)
    return GenerationRun(len(prompts), samples_made, truncated, created)


@job_kind(GENERATE_KIND, max_attempts=5)
def run_generation(context: JobContext) -> dict[str, Any]:
    job = context.job
    assert job.project_id is not None
    run = generate_items(context.database, job.project_id, context.params, context)
    return {"prompts": run.prompts, "samples": run.samples, "truncated": run.truncated,
            "items_created": run.items_created}

"""Adaptive redundancy's background work: fitting the worker model, re-targeting items.

- ``redundancy.watch`` (periodic, every ``EXPERTLOOP_CONSENSUS_REFRESH_SECONDS``) queues a
  fit for each adaptive project with answers newer than its model, due no sooner than ten
  times its last fit took after it, so fits take at most a tenth of a job worker.
- ``redundancy.fit`` fits one-coin Dawid-Skene on the project's answers to items without
  gold, then :func:`expertloop.quality.redundancy.fit_worker_model` (each worker's confusion
  matrix shrunk toward the crowd's), and stores it (``redundancy_models``,
  ``worker_reliability``). A fit that fails leaves the previous model in place.
- ``redundancy.retarget`` (queued when a manager changes the settings) fits, then
  recomputes every in-service item's target under the new settings, a batch per
  transaction (idempotent: run twice, it sets the same targets).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, cast

import numpy as np

from expertloop.errors import NotFound
from expertloop.jobs import JobContext, job_kind
from expertloop.quality import ConvergenceError, QualityInputError
from expertloop.quality.aggregation import one_coin_dawid_skene
from expertloop.quality.redundancy import fit_worker_model
from expertloop.services.redundancy import FIT_KIND, RETARGET_KIND, classes_of
from expertloop.services.redundancy import retarget as retarget_item
from expertloop.store import Database
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store import redundancy as store
from expertloop.tasks import get_task_type

__all__ = [
    "WATCH_KIND",
    "fit_model",
    "queue_stale_fits",
    "retarget_project",
]

WATCH_KIND = "redundancy.watch"
# A project is refitted at most once per this many times its last fit took.
_PACING = 10
_BATCH = 200


def fit_model(db: Database, project_id: int, *, on_answers: Any = None) -> dict[str, Any]:
    """Fit and store the project's worker model from its answers (see the module doc)."""
    started = time.monotonic()
    with db.read() as conn:
        project = project_store.project_for_user(conn, project_id, -1)
        if project is None:
            raise NotFound(f"project {project_id} not found")
        classes = classes_of(project.task_type, project.config)
        if classes is None:
            return {"fitted": False, "reason": "no classes"}
        task = get_task_type(project.task_type)
        code = {c: k for k, c in enumerate(classes)}
        workers: list[int] = []
        items: list[int] = []
        labels: list[int] = []
        last = store.newest_answer_id(conn, project_id)
        for n, (_, worker, item, value) in enumerate(
            store.iter_votes_source(conn, project_id), 1
        ):
            vote = task.vote(value, config=project.config)
            if vote is not None and vote in code:
                workers.append(worker)
                items.append(item)
                labels.append(code[vote])
            if on_answers is not None and n % 1000 == 0:
                on_answers(1000)
    if not labels:
        return {"fitted": False, "reason": "no answers"}
    k = len(classes)
    try:
        fit = one_coin_dawid_skene(workers, items, labels, classes=list(range(k)))
        model = fit_worker_model(
            workers, items, labels, fit.posteriors, unit_ids=fit.item_ids
        )
    except (ConvergenceError, QualityInputError) as exc:
        return {"fitted": False, "reason": str(exc)}
    counts: dict[int, int] = {}
    for w in workers:
        counts[w] = counts.get(w, 0) + 1
    rows = [
        (
            int(cast(int, w)), [list(r) for r in m],
            float(np.clip(model.accuracy_of(w), 0.0, 1.0)), counts.get(cast(int, w), 0),
        )
        for w, m in model.confusion.items()
    ]
    duration_ms = int((time.monotonic() - started) * 1000)
    with db.write() as conn:
        store.save_model(
            conn,
            store.ModelRow(
                project_id, list(classes), list(model.class_prior),
                [list(r) for r in model.default_confusion], len(labels), last,
                db.clock.now(), duration_ms,
            ),
            rows,
        )
    return {"fitted": True, "answers": len(labels), "workers": len(rows),
            "last_answer_id": last, "duration_ms": duration_ms}


def retarget_project(db: Database, project_id: int, *, on_items: Any = None) -> dict[str, Any]:
    """Every in-service item without gold re-targeted under the project's current settings
    (adaptive: its confidence; otherwise ``answers_per_item``), a batch at a time."""
    after, changed = 0, 0
    while True:
        with db.write() as conn:
            project = project_store.project_for_user(conn, project_id, -1)
            if project is None:
                raise NotFound(f"project {project_id} not found")
            batch = store.adaptive_items(conn, project_id, after_id=after, limit=_BATCH)
            for item_id in batch:
                if retarget_item(
                    conn, item_id, task_type=project.task_type, config=project.config,
                    answers_per_item=project.answers_per_item,
                ) is not None:
                    changed += 1
        if on_items is not None:
            on_items(len(batch))
        if len(batch) < _BATCH:
            return {"items": changed}
        after = batch[-1]


@job_kind(FIT_KIND, max_attempts=3)
def run_fit(context: JobContext) -> dict[str, Any]:
    assert context.job.project_id is not None
    return fit_model(context.database, context.job.project_id, on_answers=context.advance)


@job_kind(RETARGET_KIND, max_attempts=3)
def run_retarget(context: JobContext) -> dict[str, Any]:
    assert context.job.project_id is not None
    db, project_id = context.database, context.job.project_id
    with db.read() as conn:
        adaptive = store.load_settings(conn, project_id) is not None
    fitted = fit_model(db, project_id, on_answers=context.advance) if adaptive else None
    return {"fit": fitted, **retarget_project(db, project_id, on_items=context.advance)}


def queue_stale_fits(db: Database) -> dict[str, Any]:
    """Queue a fit for each adaptive project with answers newer than its model."""
    queued = 0
    with db.read() as conn:
        states = store.stale_models(conn)
        stale = [
            s for s in states if (s[1] or 0) < store.newest_answer_id(conn, s[0])
        ]
    now = db.clock.now()
    for project_id, _, fitted_at, duration_ms in stale:
        run_after = None
        if fitted_at is not None:
            run_after = max(fitted_at + timedelta(milliseconds=duration_ms * _PACING), now)
        with db.write() as conn:
            job_store.enqueue_job(
                conn, kind=FIT_KIND, params={}, now=now, project_id=project_id,
                dedupe_key=f"{FIT_KIND}:{project_id}", max_attempts=3, run_after=run_after,
            )
        queued += 1
    return {"checked": len(states), "queued": queued}


@job_kind(WATCH_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def watch_fits(context: JobContext) -> dict[str, Any]:
    return queue_stale_fits(context.database)

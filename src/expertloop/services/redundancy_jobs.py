"""Adaptive redundancy's background work: fitting the worker model, re-targeting items.

- ``redundancy.watch`` (periodic, every ``EXPERTLOOP_CONSENSUS_REFRESH_SECONDS``) queues a
  fit for each adaptive project with answers newer than its model, due no sooner than ten
  times its last fit took after it, so fits take at most a tenth of a job worker.
- ``redundancy.fit`` fits the stopping model on the project's answers to items without gold
  with :func:`expertloop.quality.redundancy.fit_stopping_model` (the consensus fit
  ``DEFAULT_REFIT``, hierarchical Dawid-Skene, then ``fit_worker_model``: each worker's
  confusion matrix shrunk toward the crowd's), exactly as ``replay`` refits, and stores it
  (``redundancy_models``, ``worker_reliability``). A fit that fails leaves the previous
  model in place. With triage on (``services/llm/settings.py``), the named judges' sure
  verdicts are fitted with the answers, each judge one more annotator, but only on items
  with two expert answers or more (as :func:`expertloop.quality.redundancy.replay` refits:
  with one answer and one verdict the fit cannot tell which is right and would trust the
  judge, which is on every item); the judges' matrices and their measured agreement with the
  experts go to ``redundancy_models.judges``, with each judge's reported reliability,
  ``audit``: its agreement on the audit sample (:func:`_judges_audited`), since the overlap
  it is fitted on is mostly items where it contradicted the first expert. In the
  transaction that stores the new model, every item still collecting whose target or
  confidence the model changes is re-targeted,
  from the answers and verdicts the fit read (guarded by its answer count: one answered
  since is marked due instead).
- ``redundancy.retarget`` (queued when a manager changes the settings or the triage rule)
  re-targets the items a change marked due (those a judge dropped from triage gave a
  verdict on: they follow first, before a fit that can take long), fits, then recomputes
  every in-service item's target under the new settings, a batch per transaction
  (idempotent: run twice, it sets the same targets).
- ``redundancy.sweep`` (periodic, every ``EXPERTLOOP_CONSENSUS_REFRESH_SECONDS``)
  re-targets every item still due (``items.retarget_due > 0``): an answer whose step after
  it failed or never ran (a crash), a verdict, a refit.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Hashable
from datetime import timedelta
from typing import Any, cast

import numpy as np

from expertloop.errors import NotFound
from expertloop.jobs import JobContext, job_kind
from expertloop.quality import ConvergenceError, QualityInputError
from expertloop.quality.calibration import audit_agreement
from expertloop.quality.redundancy import (
    RedundancyPolicy,
    WorkerModel,
    audit_policy,
    fit_stopping_model,
    is_audited,
    item_confidence,
    item_target,
)
from expertloop.services.redundancy import (
    FIT_KIND,
    RETARGET_KIND,
    class_votes,
    classes_of,
    triage_judges,
)
from expertloop.services.redundancy import retarget as retarget_item
from expertloop.store import Database
from expertloop.store import jobs as job_store
from expertloop.store import projects as project_store
from expertloop.store import redundancy as store
from expertloop.tasks import get_task_type

__all__ = [
    "SWEEP_KIND",
    "WATCH_KIND",
    "fit_model",
    "queue_fit",
    "queue_stale_fits",
    "retarget_due_items",
    "retarget_project",
    "sweep_due_items",
]

WATCH_KIND = "redundancy.watch"
SWEEP_KIND = "redundancy.sweep"
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
        last = store.newest_answer_id(conn, project_id)
        workers, items, labels = class_votes(conn, project, classes, on_answers=on_answers)
        names = triage_judges(conn, project_id)
        settings = store.load_settings(conn, project_id)
        collecting = store.collecting_items(conn, project_id) if settings is not None else []
        verdicts = [
            (name, item, code[vote])
            for name, item, value, _ in store.iter_judge_votes(conn, project_id, names)
            if (vote := task.vote(value, config=project.config)) is not None and vote in code
        ]
        # The judges' sure verdicts on gold items of the audit sample: gold is their
        # reference there (the fit itself never sees gold items).
        gold_verdicts = [
            (name, item, code[vote], code[truth])
            for name, item, value, gold in store.iter_judge_votes(
                conn, project_id, names, gold=True
            )
            if settings is not None and _in_audit_sample(settings, item)
            and (vote := task.vote(value, config=project.config)) is not None and vote in code
            and (truth := task.vote(gold, config=project.config)) is not None and truth in code
        ]
    if not labels:
        return {"fitted": False, "reason": "no answers"}
    k = len(classes)
    # Judges are annotators -1, -2, ... of the fit (workers' ids are positive), and only
    # their verdicts on items with two expert votes or more are fitted.
    per_item = Counter(items)
    overlap = [v for v in verdicts if per_item[v[1]] >= 2]
    fitted_names = sorted({name for name, _, _ in overlap})
    judge_id = {name: -(n + 1) for n, name in enumerate(fitted_names)}
    all_workers = workers + [judge_id[name] for name, _, _ in overlap]
    all_items = items + [item for _, item, _ in overlap]
    all_labels = labels + [label for _, _, label in overlap]
    try:
        model = fit_stopping_model(all_workers, all_items, all_labels, classes=k)
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
        if cast(int, w) > 0
    ]
    judges = _judges_fitted(model, judge_id, overlap, verdicts, items, labels) or None
    if judges:
        for name, audit in _judges_audited(
            settings, sorted(judges), verdicts, gold_verdicts, items, labels
        ).items():
            judges[name]["audit"] = audit
    changes = _refit_targets(
        model, settings, collecting, judge_id, verdicts, workers, items, labels
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    with db.write() as conn:
        named = set(triage_judges(conn, project_id))
        if judges and not set(judges) <= named:
            # Triage was turned off, or a judge dropped, while this fit ran: the judge stays
            # out, and the re-target job the change queued follows the new model.
            judges = {k: v for k, v in judges.items() if k in named} or None
            changes = []
        store.save_model(
            conn,
            store.ModelRow(
                project_id, list(classes), list(model.class_prior),
                [list(r) for r in model.default_confusion], len(labels), last,
                db.clock.now(), duration_ms, judges,
            ),
            rows,
        )
        # The new model may stop, or extend, what is still collecting: in the model's
        # transaction, so a crash leaves neither; an item answered since the read is marked
        # due (its step may have used the old model) for the sweep.
        moved = [
            store.retarget_after_refit(
                conn, item_id, n_answers=n, want=want, confidence=confidence
            )
            for item_id, n, want, confidence in changes
        ]
        duration_ms = int((time.monotonic() - started) * 1000)
        store.set_fit_duration(conn, project_id, duration_ms)
    return {"fitted": True, "answers": len(labels), "workers": len(rows),
            "last_answer_id": last, "duration_ms": duration_ms,
            "judges": sorted(judges or {}), "items_retargeted": sum(moved),
            "items_due": len(moved) - sum(moved)}


def _refit_targets(
    model: WorkerModel, settings: store.RedundancyRow | None,
    collecting: list[tuple[int, int, int, float | None]], judge_id: dict[str, int],
    verdicts: list[tuple[str, int, int]], workers: list[int], items: list[int],
    labels: list[int],
) -> list[tuple[int, int, int, float]]:
    """(item, answers, target, confidence) of each item still collecting whose target, or
    confidence (by 0.001 or more), the new model changes, from the answers and verdicts the
    fit read (the live step's rule: :func:`item_confidence` on the sure verdicts of the
    fitted judges and the expert votes, then :func:`next_target`). Items whose answer count
    differs from the votes read (an answer since, or answers without a vote) are left to
    their own steps."""
    if settings is None or not collecting:
        return []
    wanted = {c[0] for c in collecting}
    # Per item: (judge keys, their verdicts, expert workers, their labels).
    votes: dict[int, tuple[list[Hashable], list[int], list[Hashable], list[int]]] = defaultdict(
        lambda: ([], [], [], [])
    )
    for name, item, label in verdicts:
        if item in wanted and name in judge_id and judge_id[name] in model.confusion:
            votes[item][0].append(judge_id[name])
            votes[item][1].append(label)
    counts: Counter[int] = Counter()
    for worker, item, label in zip(workers, items, labels, strict=True):
        if item in wanted:
            votes[item][2].append(worker)
            votes[item][3].append(label)
            counts[item] += 1
    policy = RedundancyPolicy(settings.min_answers, settings.max_answers,
                              settings.target_confidence)
    out = []
    for item_id, n_answers, target, confidence in collecting:
        if counts[item_id] != n_answers:
            continue
        judges, verdict_labels, experts, given = votes[item_id]
        new, _ = item_confidence(model, experts, given, judges, verdict_labels)
        audited = is_audited(settings.project_id, item_id, settings.audit_share)
        want = item_target(n_answers, new, policy, audited=audited)
        if want != target or confidence is None or abs(new - confidence) >= 1e-3:
            out.append((item_id, n_answers, want, new))
    return out


def _judges_fitted(
    model: Any, judge_id: dict[str, int], overlap: list[tuple[str, int, int]],
    verdicts: list[tuple[str, int, int]], items: list[int],
    labels: list[int],
) -> dict[str, Any]:
    """Each fitted judge: its confusion matrix and accuracy in the model, and its agreement
    with the experts where it was measured: the share of its verdicts, on items with two
    expert votes or more and a strict majority, that match that majority (the judge
    itself left out of the reference)."""
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    for item, label in zip(items, labels, strict=True):
        votes[item][label] += 1
    majority: dict[int, int] = {}
    for item, counter in votes.items():
        if sum(counter.values()) >= 2:
            (top, n), *rest = [*counter.most_common(2), (-1, 0)]
            if n > rest[0][1]:
                majority[item] = top
    out: dict[str, Any] = {}
    for name, jid in judge_id.items():
        if jid not in model.confusion:
            continue
        compared = [(label, majority[item]) for n, item, label in overlap
                    if n == name and item in majority]
        agree = sum(1 for a, b in compared if a == b)
        out[name] = {
            "confusion": [list(r) for r in model.confusion[jid]],
            "accuracy": float(np.clip(model.accuracy_of(jid), 0.0, 1.0)),
            "verdicts": sum(1 for n, _, _ in verdicts if n == name),
            "fitted_verdicts": sum(1 for n, _, _ in overlap if n == name),
            "compared": len(compared),
            "agreement": agree / len(compared) if compared else None,
        }
    return out


def _in_audit_sample(settings: store.RedundancyRow, item_id: int) -> bool:
    """Whether the item gets two expert answers whatever the judges say: it is audited
    (:func:`is_audited`), or every item is (``min_answers`` of two or more)."""
    return settings.min_answers >= 2 or is_audited(
        settings.project_id, item_id, settings.audit_share
    )


def _fixed_answers(settings: store.RedundancyRow, item_id: int) -> int:
    """How many expert answers the item collects whatever the judges say: ``min_answers``,
    one more for an audited item (up to ``max_answers``)."""
    policy = RedundancyPolicy(settings.min_answers, settings.max_answers,
                              settings.target_confidence)
    if is_audited(settings.project_id, item_id, settings.audit_share):
        policy = audit_policy(policy)
    return policy.min_answers


def _judges_audited(
    settings: store.RedundancyRow | None, names: list[str],
    verdicts: list[tuple[str, int, int]], gold_verdicts: list[tuple[str, int, int, int]],
    items: list[int], labels: list[int],
) -> dict[str, dict[str, Any]]:
    """Each judge's agreement with the experts on the audit sample (the reported
    reliability; ``quality.calibration.audit_agreement``): on the items that get two expert
    answers whatever the judges say (:func:`_in_audit_sample`), against gold where the item
    has it, else the experts' strict plurality of those answers (:func:`_fixed_answers`,
    the first ones; two or more). The overlap the judges are fitted on is mostly items
    where a judge contradicted the first expert, so their fitted accuracy and agreement
    there read low; this sample does not depend on the verdicts. ``sample``: ``"audit"``
    (audited items) or ``"every_item"`` (``min_answers`` of two or more); no figure
    without adaptive redundancy."""
    if settings is None:
        return {}
    # The reference is the experts' plurality of the answers an item collects whatever the
    # judges say (its first ones, in answer order): a third answer is asked for where a
    # judge sided against the first two, so counting it would compare a judge more often
    # where it was wrong.
    votes: dict[int, list[int]] = defaultdict(list)
    fixed: dict[int, int] = {}
    for item, label in zip(items, labels, strict=True):
        if item not in fixed:
            fixed[item] = _fixed_answers(settings, item) if _in_audit_sample(settings, item) else 0
        if fixed[item] and len(votes[item]) < fixed[item]:
            votes[item].append(label)
    sample = "every_item" if settings.min_answers >= 2 else "audit"
    said: dict[str, dict[int, int]] = {name: {} for name in names}
    gold: dict[str, dict[int, int]] = {name: {} for name in names}
    in_sample: dict[int, bool] = {}
    for n, item, label in verdicts:
        if n in said:
            if item not in in_sample:
                in_sample[item] = _in_audit_sample(settings, item)
            if in_sample[item]:
                said[n][item] = label  # the newest verdict of the judge on the item
    for n, item, label, truth in gold_verdicts:
        if n in said:
            said[n][item], gold[n][item] = label, truth
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        measured = audit_agreement(said[name], votes, gold[name], seed=0).to_dict()
        measured.pop("unsure")  # sure verdicts only
        out[name] = {
            "sample": sample, "audit_share": settings.audit_share,
            "min_answers": settings.min_answers, **measured,
        }
    return out


def retarget_due_items(db: Database, project_id: int, *, on_items: Any = None) -> int:
    """Re-target every item of the project still due (locked, a batch per transaction);
    how many were re-targeted (0 for a project gone meanwhile)."""
    return _retarget_batches(db, project_id, store.due_items, on_items=on_items) or 0


def sweep_due_items(db: Database) -> dict[str, Any]:
    """Every project's items still due re-targeted (the periodic sweep)."""
    with db.read() as conn:
        projects = store.due_projects(conn)
    items = sum(retarget_due_items(db, p) for p in projects)
    return {"projects": len(projects), "items": items}


def queue_fit(db: Database, project_id: int) -> None:
    """Queue a fit of the project's model now (verdicts of a triage judge arrived)."""
    with db.write() as conn:
        job_store.enqueue_job(
            conn, kind=FIT_KIND, params={}, now=db.clock.now(), project_id=project_id,
            dedupe_key=f"{FIT_KIND}:{project_id}", max_attempts=3,
        )


def retarget_project(db: Database, project_id: int, *, on_items: Any = None) -> dict[str, Any]:
    """Every in-service item without gold re-targeted under the project's current settings
    (adaptive: its confidence; otherwise ``answers_per_item``), a batch at a time."""
    changed = _retarget_batches(db, project_id, store.adaptive_items, on_items=on_items)
    if changed is None:
        raise NotFound(f"project {project_id} not found")
    return {"items": changed}


def _retarget_batches(
    db: Database, project_id: int, batch_of: Any, *, on_items: Any = None
) -> int | None:
    """Re-target the items ``batch_of(conn, project_id, after_id=, limit=)`` lists, a batch
    per transaction, each locked; how many changed (``None``: the project is gone)."""
    after, changed = 0, 0
    while True:
        with db.write() as conn:
            project = project_store.project_for_user(conn, project_id, -1)
            if project is None:
                return None
            batch = batch_of(conn, project_id, after_id=after, limit=_BATCH)
            for item_id in batch:
                if retarget_item(
                    conn, item_id, task_type=project.task_type, config=project.config,
                    answers_per_item=project.answers_per_item,
                ) is not None:
                    changed += 1
        if on_items is not None:
            on_items(len(batch))
        if len(batch) < _BATCH:
            return changed
        after = batch[-1]


@job_kind(FIT_KIND, max_attempts=3)
def run_fit(context: JobContext) -> dict[str, Any]:
    assert context.job.project_id is not None
    db, project_id = context.database, context.job.project_id
    fitted = fit_model(db, project_id, on_answers=context.advance)
    return {**fitted, "retargeted": retarget_due_items(db, project_id)}


@job_kind(RETARGET_KIND, max_attempts=3)
def run_retarget(context: JobContext) -> dict[str, Any]:
    assert context.job.project_id is not None
    db, project_id = context.database, context.job.project_id
    due = retarget_due_items(db, project_id, on_items=context.advance)
    with db.read() as conn:
        adaptive = store.load_settings(conn, project_id) is not None
    fitted = fit_model(db, project_id, on_answers=context.advance) if adaptive else None
    return {"due": due, "fit": fitted,
            **retarget_project(db, project_id, on_items=context.advance)}


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


@job_kind(SWEEP_KIND, max_attempts=1, every=lambda settings: settings.consensus_refresh_seconds)
def sweep(context: JobContext) -> dict[str, Any]:
    return sweep_due_items(context.database)

"""Adaptive redundancy in the annotator loop: stop collecting answers on an item once its
consensus is confident enough, ask for more where the answers disagree.

- A project's settings (:func:`set_redundancy`, :func:`remove_redundancy`): ``min_answers``,
  ``max_answers``, ``target_confidence``, checked by
  :func:`expertloop.quality.redundancy.policy_problem`, and ``audit_share`` (0 to 1, default
  0): the items :func:`expertloop.quality.redundancy.is_audited` picks by project and item
  id (a share ``audit_share`` of them, the same on every re-target) get one answer more
  than ``min_answers`` whatever their confidence (``item_target``, as ``replay``'s
  ``calibration_share``), so the workers and judges are measured where experts overlap.
  Without them a project collects its fixed ``answers_per_item`` on every item. With them,
  new items start at ``min_answers`` (:func:`initial_target`), those of the audit sample at
  their audited target in the transaction that inserts them (:func:`audit_new_items`), and
  ``answers_per_item`` is not used for items without gold.
- After each answer is committed (:func:`after_answer`, off the answer's transaction: a
  failure here never loses an acknowledged answer), the item's posterior under the
  project's worker model (:func:`expertloop.quality.redundancy.item_confidence`) sets its
  confidence and, through :func:`~expertloop.quality.redundancy.next_target`, its target:
  the answers it has once confident (its open slots close), one more while unsure, up to
  ``max_answers``. ``items.uncertainty`` (1 - confidence) orders the claim
  (``scheduling.UNCERTAIN_FIRST``): unsure items are served first. The answer's own
  statement counts it in ``items.retarget_due``; the step reads without a lock and updates
  the item only if that count is still what it read (a concurrent answer's step, which
  reads both answers, wins); whatever is left due (a crash, a failed step, a verdict, a
  refit) the ``redundancy.sweep`` job re-targets (``services/redundancy_jobs.py``).
- The worker model is fitted from the project's answers by a job
  (``services/redundancy_jobs.py``); before its first fit every worker counts as right with
  probability 0.7.
- Triage (``services/llm/settings.py``): the model judges a project names are fitted as
  annotators with the experts, and each judge's sure verdict on an item is one more term
  of the item's posterior (free: never an answer, never counted toward ``min_answers`` or
  ``max_answers``). Only judges the last fit measured count (``redundancy_models.judges``).
  The confidence is that of the class the experts' answers favour (the exported label is
  theirs), under the answers and the verdicts (``item_confidence``): an item stops where a
  judge agrees with its experts, and asks for another expert where the judge sides
  against them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from expertloop.domain import Project, User
from expertloop.errors import InputInvalid, NotFound
from expertloop.quality.redundancy import (
    DEFAULT_POLICY,
    Confusion,
    RedundancyPolicy,
    WorkerModel,
    is_audited,
    item_confidence,
    item_target,
    policy_problem,
)
from expertloop.services.projects import load_project
from expertloop.services.workforce.settings import managed_project
from expertloop.store import Database, audit
from expertloop.store import jobs as job_store
from expertloop.store import llm_judges as judge_store
from expertloop.store import projects as project_store
from expertloop.store import redundancy as store
from expertloop.store.answers import AnswerTarget
from expertloop.tasks import get_task_type

__all__ = [
    "FIT_KIND",
    "MAX_ANSWERS_LIMIT",
    "RETARGET_KIND",
    "Redundancy",
    "WorkerReliability",
    "after_answer",
    "audit_new_items",
    "check_audit_share",
    "check_new_redundancy",
    "check_redundancy",
    "class_votes",
    "classes_of",
    "get_redundancy",
    "initial_target",
    "judge_key",
    "managed",
    "model_of",
    "no_adaptive_redundancy",
    "no_classes",
    "queue_retarget",
    "remove_redundancy",
    "retarget",
    "set_audit_share",
    "set_redundancy",
    "triage_judges",
    "triage_rule_judges",
    "worker_reliability",
]

log = logging.getLogger("expertloop.services")

FIT_KIND = "redundancy.fit"
RETARGET_KIND = "redundancy.retarget"
# The most answers adaptive redundancy may ask of one item.
MAX_ANSWERS_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Redundancy:
    """A project's adaptive redundancy settings."""

    project_id: int
    min_answers: int
    max_answers: int
    target_confidence: float
    audit_share: float = 0.0

    @property
    def policy(self) -> RedundancyPolicy:
        return RedundancyPolicy(self.min_answers, self.max_answers, self.target_confidence)

    def audited(self, item_id: int) -> bool:
        """Whether the item is in the project's audit sample."""
        return is_audited(self.project_id, item_id, self.audit_share)

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_answers": self.min_answers,
            "max_answers": self.max_answers,
            "target_confidence": self.target_confidence,
            "audit_share": self.audit_share,
        }


def _of(row: store.RedundancyRow | None) -> Redundancy | None:
    if row is None:
        return None
    return Redundancy(
        row.project_id, row.min_answers, row.max_answers, row.target_confidence,
        row.audit_share,
    )


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputInvalid.on_field(field, "must be a whole number")
    if not 1 <= value <= MAX_ANSWERS_LIMIT:
        raise InputInvalid.on_field(field, f"must be from 1 to {MAX_ANSWERS_LIMIT}")
    return value


def check_audit_share(value: Any) -> float:
    """``audit_share`` checked (a 422 naming the field): a number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputInvalid.on_field("audit_share", "audit_share must be a number from 0 to 1")
    if not 0 <= value <= 1:
        raise InputInvalid.on_field(
            "audit_share", "audit_share must be from 0 to 1 (a share of the items)"
        )
    return float(value)


def check_redundancy(
    min_answers: Any = DEFAULT_POLICY.min_answers,
    max_answers: Any = DEFAULT_POLICY.max_answers,
    target_confidence: Any = DEFAULT_POLICY.target_confidence,
    audit_share: Any = 0.0,
) -> tuple[int, int, float, float]:
    """The settings checked (422s naming the field), as ``(min, max, confidence, audit
    share)``."""
    share = check_audit_share(audit_share)
    low = _count(min_answers, "min_answers")
    high = _count(max_answers, "max_answers")
    if (
        isinstance(target_confidence, bool)
        or not isinstance(target_confidence, int | float)
        or not math.isfinite(target_confidence)
    ):
        raise InputInvalid.on_field("target_confidence", "must be a number")
    confidence = float(target_confidence)
    problem = policy_problem(low, high, confidence)
    if problem is not None:
        field = "target_confidence" if "confidence" in problem else "max_answers"
        raise InputInvalid.on_field(field, problem)
    return low, high, confidence, share


def check_new_redundancy(
    *, task_type: str, config: dict[str, Any], min_answers: Any = DEFAULT_POLICY.min_answers,
    max_answers: Any = DEFAULT_POLICY.max_answers,
    target_confidence: Any = DEFAULT_POLICY.target_confidence, audit_share: Any = 0.0,
) -> None:
    """Settings given with a new project, checked before it is created (so a refused one
    leaves no project behind): 422s as :func:`set_redundancy`."""
    check_redundancy(min_answers, max_answers, target_confidence, audit_share)
    try:
        classes = classes_of(task_type, config)
    except Exception:  # an unknown type or a bad config: the project's own checks say why
        return
    if classes is None:
        raise no_classes(task_type)


def no_classes(task_type: str) -> InputInvalid:
    """The 422 for adaptive redundancy on a task type whose answers pick no class."""
    return InputInvalid.on_field(
        "redundancy",
        f"adaptive redundancy needs answers that pick a class; a {task_type} project's do "
        "not (set answers_per_item instead)",
    )


def classes_of(task_type: str, config: dict[str, Any]) -> tuple[str, ...] | None:
    """The votes an item's confidence is over: the classes of the task type's primary
    channel, as :meth:`TaskType.vote` writes them; ``None`` where there are none (free
    text, rankings), so adaptive redundancy does not apply."""
    task = get_task_type(task_type)
    channels = task.consensus_channels(config)
    if not channels:
        return None
    spec = next(iter(channels.values()))
    if spec.per_pair or len(spec.classes) < 2:
        return None
    return tuple(str(c)[:200] for c in spec.classes)


def class_votes(
    conn: Connection, project: Project, classes: Sequence[str], *, gold_items: bool = False,
    on_answers: Callable[[int], None] | None = None,
) -> tuple[list[int], list[int], list[int]]:
    """(workers, items, class codes) of the project's answers that pick one of ``classes``
    (:meth:`TaskType.vote`), in answer order, on items without gold (``gold_items``: on
    every item); ``on_answers(1000)`` after every thousand answers read."""
    task = get_task_type(project.task_type)
    code = {c: k for k, c in enumerate(classes)}
    workers: list[int] = []
    items: list[int] = []
    labels: list[int] = []
    rows = store.iter_votes_source(conn, project.id, gold_items=gold_items)
    for n, (_, worker, item, value) in enumerate(rows, 1):
        vote = task.vote(value, config=project.config)
        if vote is not None and vote in code:
            workers.append(worker)
            items.append(item)
            labels.append(code[vote])
        if on_answers is not None and n % 1000 == 0:
            on_answers(1000)
    return workers, items, labels


def get_redundancy(db: Database, *, actor: User | None, project_id: int) -> Redundancy | None:
    """The project's settings (``None``: fixed ``answers_per_item``); any member may read
    (``actor=None``: the operator)."""
    with db.read() as conn:
        if actor is None:
            managed(conn, None, project_id)
        else:
            load_project(conn, actor=actor, project_id=project_id)
        return _of(store.load_settings(conn, project_id))


@dataclass(frozen=True, slots=True)
class WorkerReliability:
    """A worker's accuracy in the project's fitted worker model, and its answers."""

    worker_id: int
    username: str
    accuracy: float
    answers: int


def worker_reliability(
    db: Database, *, actor: User | None, project_id: int
) -> list[WorkerReliability]:
    """The workers of the project's last fitted model, most accurate first (managers)."""
    with db.read() as conn:
        managed(conn, actor, project_id)
        return [WorkerReliability(*row) for row in store.worker_reliability(conn, project_id)]


def set_redundancy(
    db: Database,
    *,
    actor: User | None,
    project_id: int,
    min_answers: Any = DEFAULT_POLICY.min_answers,
    max_answers: Any = DEFAULT_POLICY.max_answers,
    target_confidence: Any = DEFAULT_POLICY.target_confidence,
    audit_share: Any = 0.0,
) -> Redundancy:
    """Turn adaptive redundancy on, or change its settings (managers; audited). The
    project's existing items are re-targeted by a job (fitted model first). Settings the
    project has already change nothing: no audit event, no job."""
    low, high, confidence, share = check_redundancy(
        min_answers, max_answers, target_confidence, audit_share
    )
    with db.write() as conn:
        project = _locked(conn, actor, project_id)
        if classes_of(project.task_type, project.config) is None:
            raise no_classes(project.task_type)
        return _save(
            conn, actor, Redundancy(project_id, low, high, confidence, share),
            now=db.clock.now(),
        )


def set_audit_share(
    db: Database, *, actor: User | None, project_id: int, audit_share: Any
) -> Redundancy:
    """Change only the audit share of the project's adaptive redundancy, its other settings
    kept (managers; audited and re-targeted as :func:`set_redundancy`); 422 naming
    ``audit_share`` for a bad share or a project without adaptive redundancy. Inside
    :meth:`Database.transaction` it joins the caller's transaction (triage and the share
    changed together, ``services/llm/settings.py``)."""
    share = check_audit_share(audit_share)
    with db.write() as conn:
        _locked(conn, actor, project_id)
        current = _of(store.load_settings(conn, project_id))
        if current is None:
            raise no_adaptive_redundancy(project_id)
        return _save(
            conn, actor,
            Redundancy(project_id, current.min_answers, current.max_answers,
                       current.target_confidence, share),
            now=db.clock.now(),
        )


def no_adaptive_redundancy(project_id: int) -> InputInvalid:
    """The 422 for an audit share given to a project without adaptive redundancy."""
    return InputInvalid.on_field(
        "audit_share",
        "audit_share is a setting of adaptive redundancy: turn adaptive redundancy on first "
        f"(PUT /api/v1/projects/{project_id}/redundancy, or expertloop project redundancy "
        "set)",
    )


def _save(conn: Connection, actor: User | None, after: Redundancy, *, now: Any) -> Redundancy:
    """Store the project's settings, audited, and queue the re-target of its items; the
    settings it has already (then nothing is written)."""
    before = _of(store.load_settings(conn, after.project_id))
    if before == after:
        assert before is not None
        return before
    store.save_settings(
        conn,
        store.RedundancyRow(
            after.project_id, after.min_answers, after.max_answers, after.target_confidence,
            now, after.audit_share,
        ),
    )
    audit.record_event(
        conn, action="project.redundancy_updated",
        actor_id=actor.id if actor else None, project_id=after.project_id, now=now,
        before=None if before is None else before.as_dict(), after=after.as_dict(),
    )
    _queue_retarget(conn, after.project_id, now=now)
    return after


def remove_redundancy(db: Database, *, actor: User | None, project_id: int) -> None:
    """Back to a fixed ``answers_per_item`` per item (managers; audited); existing items
    are re-targeted by a job."""
    now = db.clock.now()
    with db.write() as conn:
        _locked(conn, actor, project_id)
        before = _of(store.load_settings(conn, project_id))
        if before is None:
            return
        store.delete_settings(conn, project_id)
        audit.record_event(
            conn, action="project.redundancy_removed",
            actor_id=actor.id if actor else None, project_id=project_id, now=now,
            before=before.as_dict(), after=None,
        )
        _queue_retarget(conn, project_id, now=now)


def managed(conn: Connection, actor: User | None, project_id: int) -> Project:
    """The project, if ``actor`` manages it (``None``: the operator); ``NotFound`` or
    ``PermissionDenied`` otherwise."""
    project = managed_project(conn, actor, project_id)
    if project is None:
        project = project_store.project_for_user(conn, project_id, 0)
        if project is None:
            raise NotFound(f"project {project_id} not found")
    return project


def _locked(conn: Connection, actor: User | None, project_id: int) -> Project:
    """The project, read after its row is locked (``store.projects.lock_project``): the
    changes of its settings that check one against another (triage needs adaptive
    redundancy, ``services/llm/settings.py``) run one at a time, each on what the last
    committed."""
    project_store.lock_project(conn, project_id)
    return managed(conn, actor, project_id)


def queue_retarget(conn: Connection, project_id: int, *, now: Any) -> None:
    """Queue the project's refit and re-target of every item (settings changed)."""
    _queue_retarget(conn, project_id, now=now)


def _queue_retarget(conn: Connection, project_id: int, *, now: Any) -> None:
    job_store.enqueue_job(
        conn, kind=RETARGET_KIND, params={}, now=now, project_id=project_id,
        dedupe_key=f"{RETARGET_KIND}:{project_id}", max_attempts=3,
    )


def triage_rule_judges(rule: Any) -> list[str]:
    """The judges a project's triage rule names (``{"judges": [...]}``, checked by
    ``services/llm/settings.py``); none for no rule, or a rule recorded before triage
    was applied (free-form JSON)."""
    if not isinstance(rule, dict):
        return []
    judges = rule.get("judges")
    if not isinstance(judges, list):
        return []
    return [j for j in judges if isinstance(j, str)]


def triage_judges(conn: Connection, project_id: int) -> list[str]:
    """The judges the project's triage rule names (empty: triage off)."""
    row = judge_store.get_settings(conn, project_id)
    return triage_rule_judges(None if row is None else row.triage)


def initial_target(conn: Connection, project: Project) -> int:
    """The target a new item without gold gets: ``min_answers`` in an adaptive project,
    ``answers_per_item`` otherwise."""
    row = store.load_settings(conn, project.id)
    return project.answers_per_item if row is None else row.min_answers


def audit_new_items(conn: Connection, project: Project, item_ids: list[int]) -> int:
    """Raise the items of the audit sample among these new items (just inserted, without
    answers) to their audited target (``item_target(..., audited=True)``: one answer more
    than ``min_answers``), in the caller's transaction, so they ask for their extra answer
    from the start; the number raised (none outside adaptive projects or at share 0)."""
    row = store.load_settings(conn, project.id)
    if row is None or row.audit_share <= 0 or not item_ids:
        return 0
    settings = _of(row)
    assert settings is not None
    chosen = [i for i in item_ids if settings.audited(i)]
    if not chosen:
        return 0
    target = item_target(0, 0.0, settings.policy, audited=True)
    return store.raise_new_targets(conn, chosen, target)


# --- after each answer --------------------------------------------------------------------


def judge_key(name: str) -> tuple[str, str]:
    """How a model judge is known in a live worker model (never equal to a worker's id)."""
    return ("judge", name)


def _model(
    row: store.ModelRow | None, classes: tuple[str, ...],
    confusion: dict[int, list[list[float]]],
) -> WorkerModel:
    """The project's fitted worker model with these workers' matrices (the crowd's for
    those the fit has not seen) and its judges', or the uninformed model before any fit or
    after the classes changed."""
    if row is None or tuple(row.classes) != classes:
        return WorkerModel.uninformed(len(classes))
    matrices: dict[Hashable, Confusion] = {
        w: tuple(tuple(r) for r in m) for w, m in confusion.items()
    }
    for name, fitted in (row.judges or {}).items():
        matrices[judge_key(name)] = tuple(tuple(r) for r in fitted["confusion"])
    return WorkerModel(
        len(classes), tuple(row.class_prior), tuple(tuple(r) for r in row.default_confusion),
        matrices,
    )


def model_of(
    conn: Connection, project_id: int, classes: tuple[str, ...], workers: list[int]
) -> WorkerModel:
    """The project's worker model for these workers, read from its tables."""
    return _model(
        store.load_model(conn, project_id), classes,
        store.reliability_of(conn, project_id, workers),
    )


def retarget(
    conn: Connection,
    item_id: int,
    *,
    task_type: str,
    config: dict[str, Any],
    answers_per_item: int | None,
    lock: bool = True,
) -> int | None:
    """Recompute one item's confidence and target under its project's settings as they
    are (none: ``answers_per_item``, or the item left as it is with ``None``); the new
    target, or ``None`` when the item was left alone (gold, out of service, gone, or, with
    ``lock=False``, up to date already or reached by another event meanwhile).

    ``lock=True`` (the jobs) locks the item first. ``lock=False`` (the step after an
    answer) reads without a lock and updates only if ``items.retarget_due`` is still what
    it read (see ``store/redundancy.py``)."""
    item = store.item_answers(conn, item_id, lock=lock)
    if item is None:
        return None
    seen = None if lock else item.due
    if seen == 0:
        return None  # another step or the sweep followed this answer already
    if item.gold or item.disabled:
        if lock and item.due:
            store.clear_due(conn, item_id)
        return None
    settings = _of(item.settings)
    if settings is None:
        if answers_per_item is None:
            return None
        return store.retarget_item(
            conn, item_id, want=answers_per_item, confidence=None, seen_due=seen
        )
    classes = classes_of(task_type, config)
    if classes is None:
        if lock and item.due:
            store.clear_due(conn, item_id)
        return None
    code = {c: k for k, c in enumerate(classes)}
    task = get_task_type(task_type)
    workers: list[Hashable] = []
    labels: list[int] = []
    for worker, value in item.answers:
        vote = task.vote(value, config=config)
        if vote is not None and vote in code:
            workers.append(worker)
            labels.append(code[vote])
    if not labels:
        # No evidence yet: no confidence to store (uncertainty 0, as a new item's), and the
        # item wants its min_answers (or one more, for answers without a vote). A judge's
        # verdict alone never decides an item: it only weighs with expert answers.
        want = item_target(
            item.n_answers, 0.0, settings.policy, audited=settings.audited(item_id)
        )
        return store.retarget_item(conn, item_id, want=want, confidence=None, seen_due=seen)
    model = _model(item.model, classes, item.confusion or {})
    judged = _judge_votes(item, model, task, config, code)
    confidence, _ = item_confidence(
        model, workers, labels, [k for k, _ in judged], [v for _, v in judged]
    )
    want = item_target(
        item.n_answers, confidence, settings.policy, audited=settings.audited(item_id)
    )
    return store.retarget_item(
        conn, item_id, want=want, confidence=confidence, seen_due=seen
    )


def _judge_votes(
    item: store.ItemAnswers, model: WorkerModel, task: Any, config: dict[str, Any],
    code: dict[str, int],
) -> list[tuple[Hashable, int]]:
    """The sure verdicts on the item of the judges the model has fitted (triage), as
    (annotator key, class code): a verdict that is not one of the classes, or of a judge
    the fit did not measure, carries no evidence."""
    fitted = (item.model.judges or {}) if item.model is not None else {}
    out: list[tuple[Hashable, int]] = []
    for name, value in item.verdicts or []:
        if name not in fitted or judge_key(name) not in model.confusion:
            continue
        vote = task.vote(value, config=config)
        if vote is not None and vote in code:
            out.append((judge_key(name), code[vote]))
    return out


def after_answer(db: Database, target: AnswerTarget) -> None:
    """Once an answer is committed in an adaptive project: the item's new confidence and
    target. Logged, never raised: the answer is stored whatever happens here."""
    if not target.adaptive or target.gold is not None:
        return
    try:
        # Two reads and one guarded update, each atomic on its own (autocommit on
        # PostgreSQL): no transaction and no lock for the hot path.
        with db.statements() as conn:
            # A project no longer adaptive (settings removed since the answer was read):
            # the item keeps its target; the re-targeting job sets it.
            retarget(
                conn, target.item_id, task_type=target.task_type, config=target.config,
                answers_per_item=None, lock=False,
            )
    except Exception:
        log.exception("adaptive redundancy after answer on item %d failed", target.item_id)

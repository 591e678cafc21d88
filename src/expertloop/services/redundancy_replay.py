"""What adaptive redundancy would have done on a project's own answers, at several targets.

``expertloop project redundancy replay`` (docs/quality.md "Adaptive redundancy"): the
project's recorded answers, read as the worker-model fit reads them (each answer's vote
through the task type's ``vote``, kept when it is one of :func:`classes_of`), are replayed
through :func:`expertloop.quality.redundancy.replay` at each candidate
``target_confidence`` (the shipped defaults for everything else), once per seed (the order
each item's answers arrive in). Every item is replayed, gold or not; the gold is never
shown to the replay, only used to score it.

Per target: the answers used (mean over the seeds) out of those available, the saving,
the share of items whose final label (the replay's ``aggregate(method="auto")`` on the
answers it used) differs from ``aggregate(method="auto")`` on all their answers (same
seed), and, when the project has gold, the accuracy on its gold items at that target and
with all answers. Items with fewer than two answers are left out of both comparisons:
the replay cannot use fewer answers than they have, so they say nothing about the target.

It only replays answers the project has: an item stops at the answers it has at the
latest, so it is informative for a project that collected more answers per item than
``min_answers`` (a pilot with a fixed ``answers_per_item``, say).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from expertloop.domain import User
from expertloop.errors import InputInvalid
from expertloop.quality.aggregation import aggregate
from expertloop.quality.redundancy import DEFAULT_POLICY, policy_problem, replay
from expertloop.services.redundancy import (
    check_redundancy,
    class_votes,
    classes_of,
    managed,
    no_classes,
)
from expertloop.store import Database
from expertloop.store import exports as export_store
from expertloop.tasks import get_task_type

__all__ = ["DEFAULT_TARGETS", "ReplayReport", "TargetReplay", "check_targets", "replay_project"]

DEFAULT_TARGETS = (0.99, 0.995, 0.999, 0.9999)


@dataclass(frozen=True, slots=True)
class TargetReplay:
    """One candidate target's figures, averaged over the seeds."""

    target_confidence: float
    answers_used: float
    answers_available: int
    saving: float
    changed: float
    gold_accuracy: float | None = None
    gold_delta_points: float | None = None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The replay of a project's answers; ``compared``: the items with two answers or more
    (those the label comparison and the gold accuracy count)."""

    project_id: int
    min_answers: int
    max_answers: int
    seeds: int
    items: int
    compared: int
    answers_available: int
    gold_items: int
    gold_accuracy_all: float | None
    targets: list[TargetReplay] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_targets(targets: Sequence[Any]) -> tuple[float, ...]:
    """The candidate targets checked (a 422 naming ``targets``): at least one, each a
    ``target_confidence`` the policy accepts (at least 0.5 and below 1)."""
    if not targets:
        raise InputInvalid.on_field("targets", "targets: give at least one target")
    out = []
    for value in targets:
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value)
        ):
            raise InputInvalid.on_field("targets", f"targets: {value!r} is not a number")
        problem = policy_problem(1, 1, float(value))
        if problem is not None:
            raise InputInvalid.on_field("targets", f"targets: {value}: {problem}")
        out.append(float(value))
    return tuple(out)


def replay_project(
    db: Database,
    *,
    actor: User | None,
    project_id: int,
    targets: Sequence[Any] = DEFAULT_TARGETS,
    min_answers: Any = DEFAULT_POLICY.min_answers,
    max_answers: Any = DEFAULT_POLICY.max_answers,
    seeds: Any = 2,
) -> ReplayReport:
    """Replay the project's answers at each target (managers; ``actor=None``: the
    operator); see the module docstring."""
    low, high, _, _ = check_redundancy(min_answers, max_answers)
    wanted = check_targets(targets)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise InputInvalid.on_field("seeds", "seeds must be a whole number of at least 1")
    with db.read() as conn:
        project = managed(conn, actor, project_id)
        classes = classes_of(project.task_type, project.config)
        if classes is None:
            raise no_classes(project.task_type)
        workers, items, labels = class_votes(conn, project, classes, gold_items=True)
        task = get_task_type(project.task_type)
        code = {c: k for k, c in enumerate(classes)}
        gold = {
            item: code[truth]
            for item, text in export_store.iter_gold(conn, project_id)
            if (truth := task.vote(json.loads(text), config=project.config)) in code
        }
    if not labels:
        raise InputInvalid.on_field(
            "project", f"project {project_id} has no answers to replay (none that pick a class)"
        )
    return _report(project_id, workers, items, labels, gold, len(classes), wanted, low, high,
                   seeds)


def _report(
    project_id: int, workers: list[int], items: list[int], labels: list[int],
    gold: dict[int, int], k: int, targets: tuple[float, ...], low: int, high: int, seeds: int,
) -> ReplayReport:
    classes = list(range(k))
    ids, available = np.unique(np.asarray(items), return_counts=True)
    compared = available >= 2
    on_gold = compared & np.isin(ids, list(gold))
    truth = np.array([gold.get(int(i), -1) for i in ids])

    has_gold = bool(on_gold.any())

    def accuracy(found: np.ndarray) -> float:
        return float(np.mean(found[on_gold] == truth[on_gold])) if has_gold else 0.0

    full = []
    for seed in range(seeds):
        agg = aggregate(workers, items, labels, method="auto", classes=classes, seed=seed)
        found = np.empty(len(ids), dtype=np.intp)
        found[np.searchsorted(ids, agg.item_ids)] = agg.labels
        full.append(found)
    gold_all = float(np.mean([accuracy(found) for found in full]))
    rows = []
    for target in targets:
        used, changed, scored = [], [], []
        for seed in range(seeds):
            result = replay(workers, items, labels, min_answers=low, max_answers=high,
                            target_confidence=target, seed=seed, classes=classes)
            used.append(result.answers_used)
            got = np.asarray(result.labels)
            changed.append(float(np.mean(got[compared] != full[seed][compared]))
                           if compared.any() else 0.0)
            scored.append(accuracy(got))
        mean_used = float(np.mean(used))
        gold_at = float(np.mean(scored))
        rows.append(TargetReplay(
            target_confidence=target,
            answers_used=mean_used,
            answers_available=len(labels),
            saving=1.0 - mean_used / len(labels),
            changed=float(np.mean(changed)),
            gold_accuracy=gold_at if has_gold else None,
            gold_delta_points=100.0 * (gold_at - gold_all) if has_gold else None,
        ))
    return ReplayReport(
        project_id=project_id, min_answers=low, max_answers=high, seeds=seeds,
        items=len(ids), compared=int(compared.sum()), answers_available=len(labels),
        gold_items=int(on_gold.sum()),
        gold_accuracy_all=gold_all if has_gold else None,
        targets=rows,
    )

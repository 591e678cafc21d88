"""Grading against a constitution version, and what the grades say about each principle.

A grading project's rubric is a published version's principles: :func:`grading_project`
writes them into the config of a ``principle_grading`` project, so every answer records the
principles and the version it was graded against. :func:`principle_stats` reads a grading
project's answers and reports per principle: how often it was judged not applicable, how
many items it applied to (coverage), and Krippendorff's alpha among the experts on the
verdicts, with a bootstrap interval over items. Principles whose alpha falls below
:data:`UNCLEAR_ALPHA` (Krippendorff's threshold for tentative conclusions) are listed
as unclear: candidates for an amendment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from expertloop.domain import Project, User
from expertloop.domain.policies import can_read_answers
from expertloop.errors import InputInvalid, PermissionDenied
from expertloop.quality import QualityInputError, krippendorff_alpha_interval
from expertloop.services import constitutions
from expertloop.services.projects import create_project, list_projects, load_project
from expertloop.store import Database
from expertloop.store import answers as answer_store
from expertloop.tasks import get_task_type
from expertloop.tasks.principle_grading import TASK as GRADING

__all__ = [
    "BOOTSTRAP_REPLICATES",
    "UNCLEAR_ALPHA",
    "PrincipleStats",
    "grades_against_constitution",
    "grading_project",
    "grading_projects",
    "principle_stats",
]

UNCLEAR_ALPHA = 0.667
# Replicates of the bootstrap interval of alpha (seeded: the same grades give the same
# interval on every reading).
BOOTSTRAP_REPLICATES = 200
NOT_APPLICABLE = "not_applicable"


def grades_against_constitution(config: Mapping[str, Any]) -> bool:
    """Whether a project's config grades against a constitution version (it then has
    per-principle statistics)."""
    return bool(config.get("principles")) and "constitution_version" in config


def grading_projects(db: Database, *, actor: User, constitution_id: int) -> list[Project]:
    """The projects the actor manages that grade against a version of the constitution."""
    return [
        p for p in list_projects(db, actor=actor)
        if grades_against_constitution(p.config)
        and p.config.get("constitution_id") == constitution_id
    ]


def grading_project(
    db: Database,
    *,
    actor: User,
    constitution_id: int,
    version: int,
    name: str,
    answers_per_item: int = 3,
    guidelines: str = "",
) -> Project:
    """A new project grading responses against every principle of the version."""
    found = constitutions.get_version(
        db, actor=actor, constitution_id=constitution_id, version=version
    )
    config = {
        "constitution_id": constitution_id,
        "constitution_version": found.version,
        "principles": [
            {"key": p.key, "title": p.title, "text": p.text} for p in found.principles
        ],
    }
    return create_project(
        db, actor=actor, name=name, task_type=GRADING.name, config=config,
        guidelines=guidelines, answers_per_item=answers_per_item,
    )


@dataclass(frozen=True, slots=True)
class PrincipleStats:
    """A principle's grades in a project: ``judgments`` (verdicts given),
    ``not_applicable_rate`` (their share that said not applicable), ``coverage`` (items
    where some expert found it applicable), ``alpha`` (Krippendorff's, nominal, on the
    verdicts; ``None`` where undefined: fewer than two verdicts on any item, or all
    equal), ``alpha_low`` and ``alpha_high`` (its 95% bootstrap interval over items,
    ``None`` where no replicate had alpha defined), ``unclear`` (alpha below
    :data:`UNCLEAR_ALPHA`)."""

    key: str
    judgments: int
    not_applicable_rate: float | None
    coverage: int
    alpha: float | None
    unclear: bool
    alpha_low: float | None = None
    alpha_high: float | None = None


def principle_stats(db: Database, *, actor: User, project_id: int) -> list[PrincipleStats]:
    """Per principle of a grading project (in the constitution's order)."""
    with db.read() as conn:
        project = load_project(conn, actor=actor, project_id=project_id)
        if not can_read_answers(actor, is_member=project.is_member):
            raise PermissionDenied("only the project's managers and reviewers read its grades")
        keys = [p["key"] for p in project.config.get("principles", ())]
        if not grades_against_constitution(project.config):
            raise InputInvalid(f"project {project_id} does not grade against a constitution")
        task = get_task_type(project.task_type)
        verdicts: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for row in answer_store.iter_project_answers(conn, project_id):
            for seen in task.observations(row["answer"], config=project.config):
                if seen.kind == "class" and seen.key in keys:
                    verdicts[seen.key].append((row["worker_id"], row["item_id"], str(seen.value)))
    found = []
    for key in keys:
        rows = verdicts.get(key, [])
        na = sum(1 for _, _, v in rows if v == NOT_APPLICABLE)
        alpha = low = high = None
        if rows:
            try:
                found_alpha = krippendorff_alpha_interval(
                    [w for w, _, _ in rows], [i for _, i, _ in rows], [v for _, _, v in rows],
                    n_boot=BOOTSTRAP_REPLICATES, seed=0,
                )
            except QualityInputError:
                pass
            else:
                alpha = found_alpha.alpha
                if not np.isnan(found_alpha.low):
                    low, high = found_alpha.low, found_alpha.high
        found.append(PrincipleStats(
            key=key,
            judgments=len(rows),
            not_applicable_rate=na / len(rows) if rows else None,
            coverage=len({i for _, i, v in rows if v != NOT_APPLICABLE}),
            alpha=alpha,
            unclear=alpha is not None and alpha < UNCLEAR_ALPHA,
            alpha_low=low,
            alpha_high=high,
        ))
    return found

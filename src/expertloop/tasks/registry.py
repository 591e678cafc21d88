"""Maps a task type's name to its module's :class:`~expertloop.tasks.base.TaskType`."""

from __future__ import annotations

from expertloop.errors import InputInvalid
from expertloop.tasks import (
    authoring,
    critique_revision,
    demonstration,
    label,
    pairwise,
    principle_grading,
    principle_pairwise,
    ranking,
    rating,
    redteam,
    rewrite,
    rubric,
)
from expertloop.tasks.base import TaskType

__all__ = ["TASK_TYPES", "get_task_type"]

TASK_TYPES: dict[str, TaskType] = {
    task.name: task
    for task in (
        pairwise.TASK,
        ranking.TASK,
        rating.TASK,
        label.TASK,
        demonstration.TASK,
        rubric.TASK,
        rewrite.TASK,
        authoring.TASK,
        redteam.TASK,
        critique_revision.TASK,
        principle_grading.TASK,
        principle_pairwise.TASK,
    )
}


def get_task_type(name: str) -> TaskType:
    try:
        return TASK_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(TASK_TYPES))
        raise InputInvalid(f"unknown task type {name!r}; known task types: {known}") from None

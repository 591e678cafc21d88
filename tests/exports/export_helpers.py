"""Helpers for export tests: answer items in canonical terms through the real services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from expertloop.domain import User
from expertloop.services.assignments import next_assignment, submit_answer
from expertloop.tasks import get_task_type

Answerer = Callable[[int, list[User], dict[str, list[dict[str, Any]]]], None]


@pytest.fixture
def answer(env: Any) -> Answerer:
    """``answer(project_id, workers, {external_id: [canonical answer per worker]})``.

    Each worker takes items until none is left and answers the one given for them (by
    their position in ``workers``), translated into the terms they were shown."""
    return answerer(env)


def answerer(env: Any) -> Answerer:
    """The ``answer`` fixture's function, for an ``env`` made without the fixture."""

    def run(project_id: int, workers: list[User], plan: dict[str, list[dict[str, Any]]]) -> None:
        with env.db.read() as conn:
            task_type = conn.execute(
                text("SELECT task_type FROM projects WHERE id = :p"), {"p": project_id}
            ).scalar_one()
        task = get_task_type(task_type)
        for position, worker in enumerate(workers):
            while True:
                assignment = next_assignment(env.db, actor=worker, project_id=project_id)
                if assignment is None:
                    break
                with env.db.read() as conn:
                    row = conn.execute(
                        text(
                            "SELECT i.external_id, a.presentation FROM assignments a "
                            "JOIN items i ON i.id = a.item_id WHERE a.id = :a"
                        ),
                        {"a": assignment.id},
                    ).one()
                external_id, presentation = row
                if isinstance(presentation, str):
                    import json

                    presentation = json.loads(presentation)
                answers = plan[external_id]
                if position >= len(answers):
                    from expertloop.services.assignments import release_assignment

                    release_assignment(env.db, actor=worker, assignment_id=assignment.id)
                    continue
                shown = task.to_shown(answers[position], presentation)
                submit_answer(env.db, actor=worker, assignment_id=assignment.id, answer=shown)

    return run

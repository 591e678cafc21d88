"""What a task type teaches from one answer taken as a certain consensus, as export rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from expertloop.exports.rows import example_rows
from expertloop.tasks import TaskType
from expertloop.tasks.training import AnswerAsConsensus, Score, Tie


def taught(
    task: TaskType,
    payload: Mapping[str, Any],
    answer: Mapping[str, Any],
    fmt: str,
    *,
    config: Mapping[str, Any] | None = None,
    criterion: str | None = None,
    conversational: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """The rows ``task`` makes in ``fmt`` with ``answer`` as the item's consensus (no
    provenance columns), and the number of ties it dropped."""
    config = task.validate_config(config) if config is not None else task.validate_config({})
    item = AnswerAsConsensus(task, payload, answer, config)
    rows: list[dict[str, Any]] = []
    ties = 0
    for example in task.training_examples(fmt, item, config=config, criterion=criterion):
        if isinstance(example, Tie):
            ties += 1
        elif fmt == "reward" and isinstance(example.content, Score):
            # A response's score, paired by the exporter with other responses' to the prompt.
            content = example.content
            rows.append({"prompt": content.prompt, "completion": content.completion,
                         "score": content.score})
        else:
            rows.extend(example_rows(fmt, example, conversational))
    return rows, ties

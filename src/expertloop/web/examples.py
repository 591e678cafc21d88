"""Example projects, one per task type, for the UI's screenshots and browser tests.

Each task type declares its own (:attr:`~expertloop.tasks.TaskType.example`), small and
realistic, so a picture of the page shows what experts really see; a new task type brings
its example with it.
"""

from __future__ import annotations

from expertloop.tasks import TASK_TYPES
from expertloop.tasks.training import ExampleProject as Example

__all__ = ["EXAMPLES", "Example"]

EXAMPLES: list[Example] = [task.example for task in TASK_TYPES.values()]


"""Task types: one module each, looked up by name through the registry.

Each module (``pairwise``, ``ranking``, ``rating``, ``label``, ``demonstration``, ``rubric``,
``rewrite``, ``authoring``) documents its payload, config, answer, observations and export
rows in its docstring; :mod:`expertloop.tasks.base` documents the hooks they share.
"""

from expertloop.tasks.base import (
    ROW_FORMATS,
    FieldError,
    Observation,
    TaskType,
    TaskValidationError,
    row_format,
)
from expertloop.tasks.registry import TASK_TYPES, get_task_type

__all__ = [
    "ROW_FORMATS",
    "TASK_TYPES",
    "FieldError",
    "Observation",
    "TaskType",
    "TaskValidationError",
    "get_task_type",
    "row_format",
]

"""Task types: one module each, looked up by name through the registry.

Each module (``pairwise``, ``ranking``, ``rating``, ``label``, ``demonstration``, ``rubric``,
``rewrite``, ``authoring``, ``redteam``) documents its payload, config, answer, observations,
consensus and export formats in its docstring; :mod:`expertloop.tasks.base` documents the
hooks they share and :mod:`expertloop.tasks.training` the vocabulary of consensus and
training data.
"""

from expertloop.tasks.base import (
    FieldError,
    Observation,
    TaskType,
    TaskValidationError,
)
from expertloop.tasks.registry import TASK_TYPES, get_task_type
from expertloop.tasks.training import EXPORT_FORMATS

__all__ = [
    "EXPORT_FORMATS",
    "TASK_TYPES",
    "FieldError",
    "Observation",
    "TaskType",
    "TaskValidationError",
    "get_task_type",
]

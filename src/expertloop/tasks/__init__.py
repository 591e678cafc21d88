"""Task types: one module each, looked up by name through the registry."""

from expertloop.tasks.base import FieldError, TaskType, TaskValidationError
from expertloop.tasks.registry import TASK_TYPES, get_task_type

__all__ = ["TASK_TYPES", "FieldError", "TaskType", "TaskValidationError", "get_task_type"]

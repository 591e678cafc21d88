"""What every task type declares, and the shared validation plumbing.

A task type is one module with one :class:`TaskType` subclass instance. It says what an
item's payload looks like, what a valid answer is, how the item is shown to a worker
(some types randomise per assignment, recorded as the assignment's *presentation*), how an
answer given in shown terms maps back to canonical terms, and which quality observation an
answer yields.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)

__all__ = ["FieldError", "StrictModel", "TaskType", "TaskValidationError", "validate_model"]


class StrictModel(BaseModel):
    """Base for answer and config schemas: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class TaskValidationError(ValueError):
    """A payload, answer, gold or config failed validation; ``errors`` say where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    def prefixed(self, prefix: str) -> TaskValidationError:
        return TaskValidationError(
            [
                FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message)
                for e in self.errors
            ]
        )


def validate_model(model: type[M], data: Any, *, context: Any = None) -> M:
    """Validate ``data`` into ``model``, turning pydantic's errors into :class:`FieldError`s."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in err["loc"]), _clean(err["msg"]))
            for err in exc.errors(include_url=False)
        ]
        raise TaskValidationError(errors) from None


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


class TaskType:
    """One kind of work. Subclasses set the schemas and override the hooks they need."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    payload_model: ClassVar[type[BaseModel]]
    answer_model: ClassVar[type[BaseModel]]

    def validate_config(self, config: Any) -> dict[str, Any]:
        """Return the normalised project config, or raise :class:`TaskValidationError`."""
        return validate_model(self.config_model, config if config is not None else {}).model_dump(
            mode="json", exclude_none=True
        )

    def validate_payload(self, payload: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Check an item payload; the stored payload keeps the caller's extra fields."""
        validate_model(self.payload_model, payload, context=config)
        return dict(payload)

    def validate_answer(self, answer: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Check an answer in the terms the worker saw; return it normalised."""
        model = validate_model(self.answer_model, answer, context=config)
        return model.model_dump(mode="json", exclude_none=True)

    def validate_gold(self, gold: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Gold is a canonical answer that a worker's answer is compared with."""
        return self.validate_answer(gold, config)

    def new_presentation(self, rng: random.Random) -> dict[str, Any] | None:
        """How this assignment shows the item (e.g. a random order); ``None`` for as-is."""
        return None

    def present(
        self, payload: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The payload as shown to the worker under ``presentation``."""
        return payload

    def to_canonical(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Map an answer from shown terms to the item's canonical terms."""
        return answer

    def to_shown(
        self, answer: dict[str, Any], presentation: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Inverse of :meth:`to_canonical`."""
        return answer

    def observation(self, answer: dict[str, Any]) -> Hashable:
        """The value the quality engine aggregates for a canonical answer."""
        raise NotImplementedError

"""Red-teaming's value objects: the roles of a conversation's turns."""

from __future__ import annotations

import enum

__all__ = ["TurnRole"]


class TurnRole(enum.StrEnum):
    """Who wrote a red-team turn: the expert (``user``) or the target model (``assistant``)."""

    USER = "user"
    ASSISTANT = "assistant"

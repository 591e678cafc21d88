"""Which item a worker gets next: the rules, declared once as data.

Each rule in :mod:`expertloop.scheduling.rules` carries its SQL (a Core expression the claim
query is built from) and its pure Python meaning; ``store/claims.py`` supplies the atomic
claim around them, and the tests check the database picks exactly what the rules pick.
"""

from expertloop.scheduling.rules import (
    CLOSEST_TO_COMPLETION,
    HAS_OPEN_SLOT,
    HIGHEST_PRIORITY,
    NEW_TO_WORKER,
    NOT_PAUSED,
    OLDEST_FIRST,
    RULES,
    Eligibility,
    ItemState,
    OrderTerm,
    RuleSet,
    WorkerState,
    lease_expires_at,
)

__all__ = [
    "CLOSEST_TO_COMPLETION",
    "HAS_OPEN_SLOT",
    "HIGHEST_PRIORITY",
    "NEW_TO_WORKER",
    "NOT_PAUSED",
    "OLDEST_FIRST",
    "RULES",
    "Eligibility",
    "ItemState",
    "OrderTerm",
    "RuleSet",
    "WorkerState",
    "lease_expires_at",
]

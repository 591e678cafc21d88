"""Which item a worker gets next: the rules, declared once as data.

Each rule in :mod:`expertloop.scheduling.rules` carries its SQL (a Core expression the claim
query is built from) and its pure Python meaning; ``store/claims.py`` supplies the atomic
claim around them, and the tests check the database picks exactly what the rules pick.
"""

from expertloop.scheduling.rules import (
    CLOSEST_TO_COMPLETION,
    DISPUTED_FIRST,
    EXAM_NOT_LOCKED,
    GOLD_WHEN_DUE,
    HAS_OPEN_SLOT,
    HAS_REQUIRED_SKILLS,
    HIGHEST_PRIORITY,
    IN_SERVICE,
    NEW_TO_WORKER,
    NOT_PAUSED,
    OLDEST_FIRST,
    QUALIFIED,
    RULES,
    UNCERTAIN_FIRST,
    WITHIN_BUDGET,
    WORKFORCE_RULES,
    Eligibility,
    ItemState,
    OrderTerm,
    Preference,
    RuleSet,
    TieredRules,
    WorkerState,
    lease_expires_at,
)

__all__ = [
    "CLOSEST_TO_COMPLETION",
    "DISPUTED_FIRST",
    "EXAM_NOT_LOCKED",
    "GOLD_WHEN_DUE",
    "HAS_OPEN_SLOT",
    "HAS_REQUIRED_SKILLS",
    "HIGHEST_PRIORITY",
    "IN_SERVICE",
    "NEW_TO_WORKER",
    "NOT_PAUSED",
    "OLDEST_FIRST",
    "QUALIFIED",
    "RULES",
    "UNCERTAIN_FIRST",
    "WITHIN_BUDGET",
    "WORKFORCE_RULES",
    "Eligibility",
    "ItemState",
    "OrderTerm",
    "Preference",
    "RuleSet",
    "TieredRules",
    "WorkerState",
    "lease_expires_at",
]

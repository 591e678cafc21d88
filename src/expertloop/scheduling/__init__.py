"""Which item a worker gets next: the rules as pure functions.

``store/claims.py`` implements these rules in SQL (an index range scan) and the tests check
that the database picks exactly what :func:`pick_next_item` picks.
"""

from expertloop.scheduling.rules import (
    ItemState,
    claim_order_key,
    is_eligible,
    lease_expires_at,
    pick_next_item,
)

__all__ = ["ItemState", "claim_order_key", "is_eligible", "lease_expires_at", "pick_next_item"]

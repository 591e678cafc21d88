"""Eligibility and priority of items for a worker, without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["ItemState", "claim_order_key", "is_eligible", "lease_expires_at", "pick_next_item"]


@dataclass(frozen=True, slots=True)
class ItemState:
    id: int
    priority: int
    target: int
    answers: int
    live_leases: int

    @property
    def open_slots(self) -> int:
        return self.target - self.answers - self.live_leases


def is_eligible(item: ItemState, *, assigned_to_worker: bool) -> bool:
    """An item is offered to a worker who never had it, while answers + leases < target."""
    return not assigned_to_worker and item.open_slots > 0


def claim_order_key(item: ItemState) -> tuple[int, int, int]:
    """Closest to completion first (fewest open slots), then higher priority, then oldest,
    so finished data accrues early instead of every item being one-third done."""
    return (item.open_slots, -item.priority, item.id)


def pick_next_item(items: Iterable[ItemState], *, worker_items: set[int]) -> ItemState | None:
    eligible = [i for i in items if is_eligible(i, assigned_to_worker=i.id in worker_items)]
    return min(eligible, key=claim_order_key, default=None)


def lease_expires_at(now: datetime, lease_seconds: int) -> datetime:
    return now + timedelta(seconds=lease_seconds)

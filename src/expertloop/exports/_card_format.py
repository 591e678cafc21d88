"""How a dataset card writes numbers and values (shared by its sections)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["as_json", "fmt"]


def as_json(value: Any) -> str:
    # JSON is YAML: scalars quoted where needed, lists and mappings in flow style.
    return json.dumps(value, ensure_ascii=False)


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

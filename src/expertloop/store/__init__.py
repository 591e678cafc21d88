"""Persistence: tables, migrations and every SQL statement of expertloop.

Submodules group statements by subject (``users``, ``projects``, ``items``, ``claims``,
``answers``, ``audit``); each function takes an open ``Connection`` so services decide
where transactions begin and end.
"""

from expertloop.store.database import Database
from expertloop.store.migrate import upgrade

__all__ = ["Database", "upgrade"]

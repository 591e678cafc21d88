"""``expertloop``: serve, migrate, manage users and projects, import, review and export.

Configuration comes from ``EXPERTLOOP_*`` environment variables (see ``docs/configuration.md``).
Each command group is a module with a ``register(app)`` function; a new group is one more
entry in :data:`COMMANDS`.
"""

from __future__ import annotations

import typer

from expertloop.cli import (
    access,
    answers,
    audit,
    constitutions,
    db,
    exports,
    flags,
    items,
    items_admin,
    jobs,
    llm,
    pay,
    projects,
    redteam,
    redundancy,
    reviews,
    serve,
    users,
    workforce,
)

__all__ = ["COMMANDS", "app"]

# In the order ``expertloop --help`` lists them.
COMMANDS = (
    serve,
    db,
    users,
    access,
    projects,
    items,
    items_admin,
    answers,
    reviews,
    flags,
    exports,
    jobs,
    audit,
    workforce,
    redundancy,
    llm,
    pay,
    constitutions,
    redteam,
)

app = typer.Typer(
    name="expertloop",
    help="Expert human feedback for AI training.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main() -> None:
    """Expert human feedback for AI training."""


for module in COMMANDS:
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()

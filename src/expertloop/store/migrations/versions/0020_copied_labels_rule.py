"""worker flags may name the copied-labels rule

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_OLD = ("'gold_accuracy', 'spammer_score', 'too_fast', 'straight_lining', "
        "'near_duplicate', 'pasted_text'")
_NEW = _OLD + ", 'copied_labels'"


def _replace_check(values: str) -> None:
    # SQLite cannot alter a constraint: batch mode rebuilds the (small) flags table. The
    # name goes through the naming convention, as in 0012 (which named it the same way).
    with op.batch_alter_table("worker_flags", recreate="auto") as batch:
        batch.drop_constraint("ck_worker_flags_rule", type_="check")
        batch.create_check_constraint("ck_worker_flags_rule", f"rule IN ({values})")


def upgrade() -> None:
    _replace_check(_NEW)


def downgrade() -> None:
    op.execute("DELETE FROM worker_flags WHERE rule = 'copied_labels'")
    _replace_check(_OLD)

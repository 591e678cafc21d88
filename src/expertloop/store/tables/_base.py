"""The declarative base, its naming convention, and the column types every table module shares."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    MetaData,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def sql_values(members: Iterable[enum.StrEnum]) -> str:
    """An enum's values as a SQL list, for the CHECK constraint that keeps a column to them
    (``'a', 'b'``): the enum in ``domain/`` is the one list, the database enforces it."""
    return ", ".join(f"'{member.value}'" for member in members)


Json = JSON().with_variant(JSONB(), "postgresql")


NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

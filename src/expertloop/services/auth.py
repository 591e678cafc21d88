"""Passwords, API tokens, and who is calling."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from expertloop.domain import User
from expertloop.errors import NotAuthenticated
from expertloop.services.caching import ExpiringCache
from expertloop.services.clock import utcnow
from expertloop.store import Database
from expertloop.store import users as user_store

__all__ = [
    "TokenAuthenticator",
    "hash_password",
    "hash_token",
    "issue_token",
    "revoke_token",
    "verify_password",
]

_hasher = PasswordHasher()
# Verifying against a dummy hash when the user does not exist keeps timing uniform.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "el_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """Tokens are stored only as SHA-256 digests: they are long random strings, not passwords."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    db: Database,
    *,
    username: str,
    password: str,
    name: str = "",
    lifetime: timedelta | None = None,
) -> str:
    """Check a username and password and return a new API token for that user.

    A token with a ``lifetime`` (web sessions) stops working that long after it is issued.
    """
    with db.read() as conn:
        # No user name holds NUL (and PostgreSQL text cannot: the look-up would fail).
        known = "\x00" not in username
        credentials = user_store.credentials_by_username(conn, username) if known else None
    if credentials is None:
        verify_password(_DUMMY_HASH, password)
        raise NotAuthenticated("wrong username or password")
    if not verify_password(credentials.password_hash, password):
        raise NotAuthenticated("wrong username or password")
    if not credentials.user.is_active:
        raise NotAuthenticated("this account is suspended")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with db.write() as conn:
        user_store.insert_token(
            conn,
            user_id=credentials.user.id,
            token_hash=hash_token(token),
            name=name,
            now=now,
            expires_at=None if lifetime is None else now + lifetime,
        )
    return token


def revoke_token(db: Database, token: str) -> bool:
    """Revoke a token (a web logout); ``False`` if it was unknown or already revoked."""
    with db.write() as conn:
        return user_store.revoke_token(conn, hash_token(token), now=utcnow())


class TokenAuthenticator:
    """Resolves bearer tokens to users, remembering answers for ``ttl_seconds``.

    The cache keeps token look-ups off the hot path; a revoked token or suspended user is
    refused within ``ttl_seconds`` (``0`` turns the cache off).
    """

    def __init__(self, db: Database, *, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self._db = db
        self._users: ExpiringCache[str, User] = ExpiringCache(ttl_seconds, max_entries=max_entries)

    def cached(self, token: str) -> User | None:
        """The token's user if this process verified it recently; never touches the database,
        so async code may call it on the event loop."""
        return self._users.get(hash_token(token))

    def authenticate(self, token: str, *, db: Database | None = None) -> User:
        """The token's user, from the cache or the database (``db``, default the one given
        at construction: pass the one :meth:`Database.run` hands out on the event loop)."""
        user = self.cached(token)
        if user is not None:
            return user
        digest = hash_token(token)
        with (db or self._db).read() as conn:
            user = user_store.user_by_token_hash(conn, digest, now=utcnow())
        if user is None:
            raise NotAuthenticated("invalid or expired token")
        self._users.put(digest, user)
        return user

    def forget(self, token: str) -> None:
        """Drop a token from this process's cache (after revoking it)."""
        self._users.forget(hash_token(token))

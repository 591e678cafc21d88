"""Passwords, API tokens, sign-in throttling, and who is calling."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from expertloop.domain import User
from expertloop.errors import NotAuthenticated, TooManyAttempts
from expertloop.services.caching import ExpiringCache
from expertloop.store import Database, signins
from expertloop.store import users as user_store

__all__ = [
    "SIGN_IN_FAILED",
    "SignInLimits",
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
# One answer for every failed sign-in. A suspended account gets it too, whether or not the
# password was right: a distinct "suspended" answer after a correct password would tell
# whoever is guessing that the guess was right (a password people may reuse elsewhere).
SIGN_IN_FAILED = "wrong username or password, or the account is suspended"


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


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """Failed sign-ins allowed within ``window`` before further attempts get 429."""

    per_username: int = 10
    per_address: int = 50
    window: timedelta = timedelta(minutes=15)


def _check_throttle(db: Database, limits: SignInLimits, *, username: str, address: str) -> None:
    now = db.clock.now()
    since = now - limits.window
    with db.read() as conn:
        by_name = signins.failures_since(conn, since, username=username)
        by_address = signins.failures_since(conn, since, address=address)
    blocked = [
        count
        for count, limit in ((by_name, limits.per_username), (by_address, limits.per_address))
        if count.count >= limit and count.oldest is not None
    ]
    if blocked:
        # Allowed again once enough old failures have left the window; the oldest leaving
        # first is a lower bound, and a client retrying then is simply told again.
        free_at = max(c.oldest for c in blocked if c.oldest is not None) + limits.window
        retry_after = max(1, math.ceil((free_at - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed sign-ins; try again in {retry_after} seconds",
            retry_after=retry_after,
        )


def _record_failure(db: Database, limits: SignInLimits, *, username: str, address: str) -> None:
    now = db.clock.now()
    with db.write() as conn:
        signins.forget_failures_before(conn, now - limits.window)
        signins.record_failure(conn, username=username, address=address, now=now)


def issue_token(
    db: Database,
    *,
    username: str,
    password: str,
    name: str = "",
    lifetime: timedelta | None = None,
    address: str = "",
    limits: SignInLimits | None = None,
) -> str:
    """Check a username and password and return a new API token for that user.

    A token with a ``lifetime`` stops working that long after it is issued. With ``limits``,
    failed attempts are counted per username and per client ``address`` in the database (so
    every server process sees them), and past a limit every attempt, right or wrong, is
    refused with :class:`TooManyAttempts` until old failures leave the window.
    """
    if limits is not None:
        _check_throttle(db, limits, username=username, address=address)
    with db.read() as conn:
        # No user name holds NUL (and PostgreSQL text cannot: the look-up would fail).
        known = "\x00" not in username
        credentials = user_store.credentials_by_username(conn, username) if known else None
    if credentials is None:
        verify_password(_DUMMY_HASH, password)
        accepted = False
    else:
        accepted = (
            verify_password(credentials.password_hash, password) and credentials.user.is_active
        )
    if not accepted or credentials is None:
        if limits is not None:
            _record_failure(db, limits, username=username, address=address)
        raise NotAuthenticated(SIGN_IN_FAILED)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = db.clock.now()
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
        return user_store.revoke_token(conn, hash_token(token), now=db.clock.now())


class TokenAuthenticator:
    """Resolves bearer tokens to users, remembering answers for ``ttl_seconds``.

    The cache keeps token look-ups off the hot path. A token revoked, or a user suspended,
    through this process is dropped from its cache at once (:meth:`forget`,
    :meth:`forget_user`); other processes refuse it within ``ttl_seconds`` (``0`` turns
    the cache off). A token stops working at its expiry exactly, cached or not.
    """

    def __init__(self, db: Database, *, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self._db = db
        self._owners: ExpiringCache[str, user_store.TokenOwner] = ExpiringCache(
            ttl_seconds, max_entries=max_entries, clock=db.clock
        )

    def _live(self, owner: user_store.TokenOwner | None) -> User | None:
        if owner is None:
            return None
        if owner.expires_at is not None and owner.expires_at <= self._db.clock.now():
            return None
        return owner.user

    def cached(self, token: str) -> User | None:
        """The token's user if this process verified it recently; never touches the database,
        so async code may call it on the event loop."""
        return self._live(self._owners.get(hash_token(token)))

    def owner(self, token: str, *, db: Database | None = None) -> user_store.TokenOwner:
        """The token's owner, with the token's id and expiry (see :meth:`authenticate`)."""
        digest = hash_token(token)
        owner = self._owners.get(digest)
        if self._live(owner) is not None:
            assert owner is not None
            return owner
        db = db or self._db
        with db.read() as conn:
            owner = user_store.token_owner(conn, digest, now=db.clock.now())
        if owner is None:
            raise NotAuthenticated("invalid or expired token")
        self._owners.put(digest, owner)
        return owner

    def authenticate(self, token: str, *, db: Database | None = None) -> User:
        """The token's user, from the cache or the database (``db``, default the one given
        at construction: pass the one :meth:`Database.run` hands out on the event loop)."""
        return self.owner(token, db=db).user

    def forget(self, token: str) -> None:
        """Drop a token from this process's cache (after revoking it)."""
        self._owners.forget(hash_token(token))

    def forget_digests(self, digests: list[str]) -> None:
        """Drop tokens, known by their stored hashes, from this process's cache."""
        for digest in digests:
            self._owners.forget(digest)

    def forget_user(self, user_id: int) -> None:
        """Drop every token of a user from this process's cache (suspended, password changed)."""
        self._owners.forget_where(lambda _, owner: owner.user.id == user_id)


"""The long-lived objects of one running app, built once by the app factory.

The parts of the app (the REST API, the web UI, and features that add routers, pages or
background work) receive this and take what they need, instead of each building its own
caches or reaching for globals. It lives here, below ``api/`` and ``web/``, so both can
name it without importing the factory above them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from expertloop.clock import Clock
from expertloop.services.access import AccessCaches
from expertloop.services.assignments import ClaimableProjects
from expertloop.services.auth import SignInLimits, TokenAuthenticator
from expertloop.settings import Settings
from expertloop.store import Database

__all__ = ["Background", "Runtime"]


class Background(Protocol):
    """Work that runs beside the server (the lease sweeper, a job runner): started when the
    app starts, stopped when it stops."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Runtime:
    """What the app's parts share: settings, the database and its clock (where the time
    comes from), the process's caches, and the background work to start with the app
    (started in order, stopped in reverse)."""

    settings: Settings
    database: Database
    clock: Clock
    authenticator: TokenAuthenticator
    claimable: ClaimableProjects
    background: list[Background] = field(default_factory=list)

    @property
    def access_caches(self) -> AccessCaches:
        """The caches to drop entries from when someone's access is cut off."""
        return AccessCaches(self.authenticator, self.claimable)

    @property
    def signin_limits(self) -> SignInLimits:
        return SignInLimits(
            per_username=self.settings.signin_max_failures_per_username,
            per_address=self.settings.signin_max_failures_per_address,
            window=timedelta(seconds=self.settings.signin_window_seconds),
        )

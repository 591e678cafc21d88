"""The entry point of the SDK: :class:`Client`."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from expertloop.client._http import Http, Retry
from expertloop.client.access import AuditLog, Tokens
from expertloop.client.constitutions import Constitutions
from expertloop.client.flags import WorkerFlags
from expertloop.client.llm import LlmProviders
from expertloop.client.models import User
from expertloop.client.my_work import MyWork
from expertloop.client.pay import Pay
from expertloop.client.projects import Projects
from expertloop.client.redteam import RedTeam
from expertloop.client.redundancy import Redundancy
from expertloop.client.workforce import Workforce

__all__ = ["Client", "Users"]


# Users per request when paging through the directory (the server allows up to 200).
_USERS_PAGE = 200


class Users:
    """Accounts (``client.users``): admins create and suspend them; managers and admins
    look them up."""

    def __init__(self, http: Http) -> None:
        self._http = http

    def create(self, username: str, password: str, *, role: str = "worker") -> User:
        """Create an account with role ``admin``, ``manager``, ``reviewer`` or ``worker``.

        Raises :class:`~expertloop.client.AlreadyExists` if the username is taken.

        Example::

            alice = client.users.create("alice", "correct-horse-9", role="worker")
        """
        body = self._http.json(
            "POST",
            "users",
            retry=Retry.UNSENT,
            json_body={"username": username, "password": password, "role": role},
        )
        return User.from_json(body)

    def list(self) -> builtins.list[User]:
        """Every account you may see (managers and admins), in username order."""
        return self.search("")

    def search(self, prefix: str, *, limit: int | None = None) -> builtins.list[User]:
        """Accounts whose username starts with ``prefix`` (any case), in username order,
        every page of them or the first ``limit`` (managers and admins).

        Example::

            [u.id for u in client.users.search("dr-")]   # look up experts' ids by name
        """
        found: builtins.list[User] = []
        after: str | None = None
        while limit is None or len(found) < limit:
            page = _USERS_PAGE if limit is None else min(_USERS_PAGE, limit - len(found))
            params: dict[str, Any] = {"q": prefix, "limit": page}
            if after is not None:
                params["after"] = after
            response = self._http.send("GET", "users", retry=Retry.SAFE, params=params)
            found += [User.from_json(body) for body in response.json()]
            after = response.headers.get("X-Next-After")
            if after is None:
                break
        return found

    def suspend(self, user: int | User) -> User:
        """Suspend an account: its tokens stop working and its leases end (admins).

        Example::

            client.users.suspend(alice)   # alice.is_active is now False on the server
        """
        user_id = user if isinstance(user, int) else user.id
        return User.from_json(self._http.json("POST", f"users/{user_id}/suspend"))

    def reactivate(self, user: int | User) -> User:
        """Let a suspended account sign in and work again (admins)."""
        user_id = user if isinstance(user, int) else user.id
        return User.from_json(self._http.json("POST", f"users/{user_id}/reactivate"))


class Client:
    """A connection to an expertloop server, authenticated with an API token.

    Args:
        url: the server, e.g. ``"http://127.0.0.1:8000"`` (without ``/api/v1``).
        token: an API token (``el_...``); see also :meth:`login`.
        timeout: seconds to wait for the server on each request.
        retries: how many times a request that failed on the network (or got 502, 503 or
            504) is repeated, when repeating is safe: reads, ``next``, adding members, and
            answer submissions (which keep their ``Idempotency-Key``). Writes the server
            cannot deduplicate are repeated only when they never reached it. A 4xx is never
            repeated.
        backoff: base delay in seconds between retries, doubled each time (with jitter).
        transport: an ``httpx`` transport, e.g. ``httpx.MockTransport(handler)`` to test
            your code without a server.
        headers: extra headers for every request.
        verify: TLS verification, as for ``httpx`` (``False``, or a CA bundle path).

    Example::

        from expertloop.client import Client

        with Client("http://127.0.0.1:8000", "el_...") as client:
            print(client.me())
            for project in client.projects.list():
                print(project.id, project.name, project.progress())
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | str = True,
    ) -> None:
        self._http = Http(
            url,
            token,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            transport=transport,
            headers=headers,
            verify=verify,
        )
        self.users = Users(self._http)
        self.projects = Projects(self._http)
        self.tokens = Tokens(self._http)
        self.audit = AuditLog(self._http)
        self.my_work = MyWork(self._http)
        self.flags = WorkerFlags(self._http)
        self.workforce = Workforce(self._http)
        self.redundancy = Redundancy(self._http)
        self.llm = LlmProviders(self._http)
        self.redteam = RedTeam(self._http)
        self.pay = Pay(self._http)
        self.constitutions = Constitutions(self._http)

    @classmethod
    def login(cls, url: str, username: str, password: str, **options: Any) -> Self:
        """A client with a new API token for this username and password.

        Takes the same keyword options as :class:`Client`. Raises
        :class:`~expertloop.client.NotAuthenticated` for a wrong password.

        Example::

            client = Client.login("http://127.0.0.1:8000", "alice", "demo-alice")
            client.token   # 'el_...', keep it to skip the login next time
        """
        client = cls(url, None, **options)
        try:
            body = client._http.json(
                "POST",
                "auth/token",
                retry=Retry.UNSENT,
                json_body={"username": username, "password": password},
            )
        except BaseException:
            client.close()
            raise
        client._http.client.headers["Authorization"] = f"Bearer {body['token']}"
        return client

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._http.url

    @property
    def token(self) -> str | None:
        """The API token this client sends, if any."""
        value = self._http.client.headers.get("Authorization")
        return value.removeprefix("Bearer ") if value else None

    def __repr__(self) -> str:
        return f"<Client {self.url}>"

    def me(self) -> User:
        """The user this client is authenticated as."""
        return User.from_json(self._http.json("GET", "me"))

    def logout(self) -> None:
        """Revoke the token this client sends; it cannot be used again (nor this client)."""
        self._http.json("DELETE", "auth/token", retry=Retry.UNSENT)

    def change_password(self, current_password: str, new_password: str) -> None:
        """Change this user's password. Their other tokens and web sessions are revoked;
        this client's token keeps working."""
        self._http.json(
            "POST",
            "me/password",
            retry=Retry.UNSENT,
            json_body={"current_password": current_password, "new_password": new_password},
        )

    def health(self) -> dict[str, Any]:
        """The server's health check (no token needed): ``{"status", "database"}``."""
        body: dict[str, Any] = self._http.json("GET", "/healthz")
        return body

    def close(self) -> None:
        """Close the connections (and the transport). The client cannot be used after."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

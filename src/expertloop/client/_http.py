"""The one place where the SDK talks HTTP: error mapping, retries, NDJSON streams."""

from __future__ import annotations

import enum
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import httpx

from expertloop import __version__
from expertloop.client.errors import NetworkError, error_from_response

API = "/api/v1"
USER_AGENT = f"expertloop-python/{__version__}"
# Statuses a proxy or a restarting server gives while the request did not take effect.
_RETRY_STATUSES = frozenset({502, 503, 504})
# Failures that happen before the request reached the server: repeating cannot duplicate it.
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAX_DELAY = 10.0


class Retry(enum.Enum):
    """Which failures a request may be repeated after."""

    #: Any network error or 502/503/504: reads, and writes the server deduplicates.
    SAFE = "safe"
    #: Only failures before the request was sent (connection refused, connect timeout).
    UNSENT = "unsent"


class Http:
    """An ``httpx.Client`` with the API's error mapping and bounded retries with backoff."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        transport: httpx.BaseTransport | None,
        headers: Mapping[str, str] | None,
        verify: bool | str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self.client = httpx.Client(
            base_url=self.url,
            headers=all_headers,
            timeout=timeout,
            transport=transport,
            verify=verify,
        )

    def close(self) -> None:
        self.client.close()

    def _delay(self, attempt: int) -> float:
        if self.backoff <= 0:
            return 0.0
        # Exponential with jitter, so many workers retrying after an outage spread out.
        return min(_MAX_DELAY, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)

    def send(
        self,
        method: str,
        path: str,
        *,
        retry: Retry,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        on_retry: Callable[[int], None] | None = None,
    ) -> httpx.Response:
        """Send a request, retrying as ``retry`` allows; raise the API error for >= 400.

        The same request object (same headers, so the same ``Idempotency-Key``) is sent on
        every attempt. With ``stream=True`` the caller must close the response.
        ``on_retry(attempt)`` is called before each repeat (1 for the second attempt...),
        so a caller can tell an answer to its own earlier, delivered attempt from others'.
        """
        request = self.client.build_request(
            method,
            path if path.startswith("/") else f"{API}/{path}",
            params=params,
            json=json_body,
            content=content,
            headers=headers,
        )
        attempt = 0
        while True:
            try:
                response = self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                retryable = retry is Retry.SAFE or isinstance(exc, _UNSENT_ERRORS)
                if not retryable or attempt >= self.retries:
                    raise NetworkError(
                        f"{method} {request.url.path} failed after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            else:
                if response.status_code < 400:
                    return response
                if (
                    retry is Retry.SAFE
                    and response.status_code in _RETRY_STATUSES
                    and attempt < self.retries
                ):
                    response.close()
                else:
                    if stream:
                        response.read()
                        response.close()
                    raise error_from_response(response)
            self._sleep(self._delay(attempt))
            attempt += 1
            if on_retry is not None:
                on_retry(attempt)

    def json(self, method: str, path: str, *, retry: Retry = Retry.SAFE, **kwargs: Any) -> Any:
        """Send and decode the JSON body (``None`` for an empty body such as a 204)."""
        response = self.send(method, path, retry=retry, **kwargs)
        return response.json() if response.content else None

    def iter_ndjson(
        self, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stream a GET's NDJSON body, one decoded object per non-blank line.

        Opening the stream is retried; a connection that breaks mid-stream raises
        :class:`NetworkError` (restart the iteration to read everything again).
        """
        response = self.send("GET", path, retry=Retry.SAFE, params=params, stream=True)
        try:
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)
        except httpx.TransportError as exc:
            raise NetworkError(f"GET {path}: the stream broke: {exc}") from exc
        finally:
            response.close()

    def download(
        self, path: str, sink: IO[bytes], *, params: Mapping[str, Any] | None = None
    ) -> int:
        """Stream a GET's body into ``sink``; return the number of bytes written."""
        response = self.send("GET", path, retry=Retry.SAFE, params=params, stream=True)
        written = 0
        try:
            for chunk in response.iter_bytes():
                sink.write(chunk)
                written += len(chunk)
        except httpx.TransportError as exc:
            raise NetworkError(f"GET {path}: the download broke: {exc}") from exc
        finally:
            response.close()
        return written

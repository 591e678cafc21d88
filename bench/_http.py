"""A minimal HTTP/1.1 client over one persistent keep-alive connection, for load generation.

The load generator shares the machine with the server it measures, so every microsecond it
spends is a microsecond the server does not get. httpx costs several times more CPU per
request than this: here a request is one pre-formatted ``bytes`` template plus a body, one
``write`` and a response read driven by ``Content-Length`` (chunked bodies are understood
too, for completeness). No redirects, no cookies, no TLS, no pipelining: one request at a
time per connection, which is exactly what a simulated worker does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

__all__ = ["Connection", "HttpError", "Response"]


class HttpError(Exception):
    """The server closed the connection or sent something that is not HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


# uvicorn closes a keep-alive connection after 5 s of silence; a request sent just then is
# lost without an answer. Connections idle for longer than this are replaced first.
MAX_IDLE_SECONDS = 2.0


class Connection:
    """One keep-alive connection to ``host:port``; reconnects if the server closed it."""

    def __init__(self, host: str, port: int, *, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        # Everything after the request line except Content-Length and per-request headers.
        self._fixed = f"Host: {host}:{port}\r\n{auth}".encode("latin-1")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        self._reader, self._writer = reader, writer
        return reader, writer

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: str = "",
    ) -> Response:
        """Send one request and read its whole response. ``headers`` is raw ``K: V\\r\\n`` text."""
        head = (
            f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
            + self._fixed
            + (
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                f"{headers}\r\n".encode("latin-1")
            )
        )
        now = time.monotonic()
        if now - self._last_used > MAX_IDLE_SECONDS:
            self.close()
        self._last_used = now
        if self._writer is None or self._reader is None:
            reader, writer = await self._connect()
        else:
            reader, writer = self._reader, self._writer
        try:
            if len(body) < 65536:
                writer.write(head + body)
            else:
                writer.write(head)
                writer.write(body)
                await writer.drain()
            response = await self._read_response(reader)
        except BaseException:
            # Whatever happened, the connection is in an unknown state: never reuse it.
            self.close()
            raise
        self._last_used = time.monotonic()
        return response

    async def _read_response(self, reader: asyncio.StreamReader) -> Response:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise HttpError("connection closed before a response") from exc
        lines = head[:-4].split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {lines[0]!r}")
        status = int(status_line[1])
        length = -1
        chunked = False
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif key == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await _read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length) if length else b""
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await reader.read()  # delimited by the end of the connection
            close = True
        if close:
            self.close()
        return Response(status, body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            # Trailers (if any) end with an empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)

"""The load benchmark's own HTTP/1.1 client for its asyncio phases: keep-alive connections on
asyncio streams, one request at a time on each, and only what the phases need (a JSON body, a
bearer token, Content-Length or chunked answers).

httpx spent about a millisecond of CPU per call on the bench machine, whose two cores also run
the suite, and added about 10 ms to the p99 it measured at half the maximum rate: latency of the
client, charged to the suite. This client costs a small fraction of that.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 30.0
# Gunicorn closes a keep-alive connection idle for 5 s (the gateway's setting); one idle for
# longer than this is closed here rather than risked.
IDLE_LIMIT_SECONDS = 2.0
# What a call may fail with: the connection refused, cut or answered with garbage, or no answer.
ERRORS = (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)

_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Client:
    """Calls to one origin (`base_url`), each on a connection no other call is using."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        origin = urlsplit(base_url)
        if origin.scheme != "http" or origin.hostname is None:
            raise ValueError(f"an http:// origin is needed, not {base_url!r}")
        self._host = origin.hostname
        self._port = origin.port or 80
        fixed = f"Host: {origin.netloc}\r\n"
        if token:
            fixed += f"Authorization: Bearer {token}\r\n"
        self._fixed = fixed
        self._idle: list[tuple[float, _Stream]] = []

    async def request(self, method: str, path: str, json: Any = None) -> Response:
        body = b"" if json is None else jsonlib.dumps(json, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed}Content-Length: {len(body)}\r\n"
        if json is not None:
            head += "Content-Type: application/json\r\n"
        stream = await self._connection()
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                response, reusable = await _exchange(stream, head.encode() + b"\r\n" + body)
        except BaseException:
            stream[1].close()
            raise
        if reusable:
            self._idle.append((time.monotonic(), stream))
        else:
            stream[1].close()
        return response

    async def _connection(self) -> _Stream:
        while self._idle:
            since, stream = self._idle.pop()
            if time.monotonic() - since < IDLE_LIMIT_SECONDS and not stream[0].at_eof():
                return stream
            stream[1].close()
        return await asyncio.open_connection(self._host, self._port)

    async def aclose(self) -> None:
        for _, (_, writer) in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


async def _exchange(stream: _Stream, request: bytes) -> tuple[Response, bool]:
    """Sends `request` and reads its answer; whether the connection may carry another."""
    reader, writer = stream
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        content = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        content = await _chunks(reader)
    else:
        content = await reader.read()
        return Response(int(status), headers, content), False
    closing = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
    return Response(int(status), headers, content), not closing


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)

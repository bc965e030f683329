"""The gateway's gunicorn worker: gthread, except that a thread only ever gets a whole request.

gunicorn's gthread worker hands each connection to a thread, which then blocks reading the
request: a few dozen clients sending their headers a line every few seconds hold every thread,
and nothing else is answered. Here a thread makes one read without waiting: a request that is
all there (most are) is served at once, as under gthread. What is not goes back to the worker's
event loop, which reads the rest as it arrives (the head, then a body of announced length or a
chunked one) without a thread; a request read whole is served by a thread, whose gunicorn
parser reads it from what was buffered.

A head not read within `header_timeout` seconds (counted from the connection's accept, or from
the first byte of a kept-alive connection's next request), or a body not within `body_timeout`
seconds of its head, is answered 408 and the connection closed. A body larger than the gateway's
limit is answered 413 before it is read. At most MAX_READING connections are read at once; a new
one past that closes the one that has been reading longest.
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from gateway.problems import Problem, problem_document

MAX_READING = 500
# Deadlines are checked this often; a missed one is noticed at most this late.
SWEEP_SECONDS = 0.5
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
HEAD_END = re.compile(rb"\r?\n\r?\n")
CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?\r?\n")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# What body_length says of a chunked body, whose length only its last chunk tells.
CHUNKED = -1


def problem_answer(problem: Problem) -> bytes:
    """A whole HTTP response for a request the worker refuses itself; the connection closes."""
    document = problem_document(problem)
    body = json.dumps(document).encode()
    head = (
        f"HTTP/1.1 {problem.status} {document['title']}\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


TIMED_OUT = problem_answer(Problem(408, "request-timeout", "the request was not received in time"))


@dataclass(eq=False)
class Reading:
    """A request being read: its bytes so far and what is still missing."""

    conn: TConn
    data: bytearray
    deadline: float
    # Where the head ends (after its blank line); -1 until it has been read.
    head_end: int = -1
    # The request's length in bytes, head included, once known; None while unknown.
    total: int | None = None
    # How much of the head was searched for its end already.
    searched: int = 0
    # For a chunked body: where the next chunk's size line starts, and the size so far.
    next_chunk: int = 0
    chunked_size: int = 0
    # Answered and half-closed: what still arrives is read and discarded until `deadline`.
    lingering: bool = False
    drained: int = 0
    closed: bool = False


class BufferingWorker(ThreadWorker):
    header_timeout = 10.0
    body_timeout = 30.0
    max_body = 2 * 1024 * 1024

    @classmethod
    def configured(
        cls, header_timeout: float, body_timeout: float, max_body: int
    ) -> type[BufferingWorker]:
        settings = {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_body": max_body,
        }
        return type(cls.__name__, (cls,), settings)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Insertion order is the order reading began: the first is the longest reading.
        self.reading: dict[TConn, Reading] = {}
        # Connections told "100 Continue" here, so gunicorn does not say it a second time.
        self.continued: set[TConn] = set()
        # Connections whose request the event loop read whole, on their way to a thread.
        self.complete: set[TConn] = set()
        self.next_sweep = 0.0
        cfg = self.cfg
        # Past this, gunicorn's parser refuses the head by its own limits.
        self.max_head = cfg.limit_request_line + cfg.limit_request_fields * (
            cfg.limit_request_field_size + 2
        )
        self.too_large = problem_answer(
            Problem(413, "too-large", f"the body is larger than {self.max_body // 2**20} MiB")
        )

    def handle(self, conn: TConn) -> Any:
        """In a thread: serves the request if it is all here (most are: a kept-alive connection
        became readable, or a client sent right after connecting); otherwise gives what arrived
        back to the event loop (finish_request), which reads the rest without a thread."""
        if conn in self.complete:
            self.complete.discard(conn)
        else:
            ahead = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
            reading = Reading(conn, bytearray(ahead), time.monotonic() + self.header_timeout)
            if not (ahead and self.read_enough(reading)):
                received = receive(conn.sock)
                if received == b"":
                    return False
                if received is not None:
                    reading.data += received
                if received is None or not self.read_enough(reading):
                    return reading
            self.buffer(reading)
        return super().handle(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        if not fs.cancelled() and fs.exception() is None and isinstance(fs.result(), Reading):
            self.watch(fs.result())
        else:
            super().finish_request(conn, fs)

    def watch(self, reading: Reading) -> None:
        if len(self.reading) >= MAX_READING:
            self.drop(next(iter(self.reading.values())))
        self.reading[reading.conn] = reading
        self.poller.register(
            reading.conn.sock, selectors.EVENT_READ, partial(self.on_readable, reading)
        )

    def on_readable(self, reading: Reading, _sock: socket.socket) -> None:
        received = receive(reading.conn.sock)
        if received is None:
            return
        if not received:
            self.drop(reading)
        elif reading.lingering:
            reading.drained += len(received)
            if reading.drained > LINGER_BYTES:
                self.drop(reading)
        else:
            reading.data += received
            if self.read_enough(reading):
                self.unwatch(reading)
                self.buffer(reading)
                self.complete.add(reading.conn)
                self.enqueue_req(reading.conn)

    def read_enough(self, reading: Reading) -> bool:
        """Whether the request is all here (or is bad enough for the parser to refuse it as it
        is). A body over the limit is answered 413 at once, and the connection lingers."""
        if reading.lingering:
            return False
        data = reading.data
        if reading.head_end < 0:
            # Blank lines before a request line are allowed, and no end of a head.
            blank = len(data) - len(data.lstrip(b"\r\n")) if data[:1] in (b"\r", b"\n") else 0
            start = max(blank, reading.searched - 3)
            found = HEAD_END.search(data, start)
            reading.searched = len(data)
            if found is None:
                return len(data) > self.max_head
            reading.head_end = found.end()
            reading.deadline = time.monotonic() + self.body_timeout
            length = body_length(bytes(data[: found.start()]))
            if length is None:
                return True
            if length > self.max_body:
                self.refuse(reading, self.too_large)
                return False
            if length == CHUNKED:
                reading.next_chunk = reading.head_end
            else:
                reading.total = reading.head_end + length
            arrived = self.body_arrived(reading)
            if not arrived and not reading.closed and expects_continue(data[: found.start()]):
                send_quietly(reading.conn.sock, CONTINUE)
                self.continued.add(reading.conn)
            return arrived
        return self.body_arrived(reading)

    def body_arrived(self, reading: Reading) -> bool:
        if reading.total is not None:
            return len(reading.data) >= reading.total
        data = reading.data
        while True:
            size_line = CHUNK_SIZE.match(data, reading.next_chunk)
            if size_line is None:
                if len(data) - reading.head_end > 2 * self.max_body:
                    # Chunks of a byte or two: more framing than any real client sends.
                    self.refuse(reading, self.too_large)
                    return False
                # Either not all here yet, or no size line at all: the parser refuses that.
                return data.find(b"\n", reading.next_chunk) >= 0
            size = int(size_line.group(1), 16)
            if size == 0:
                trailers = HEAD_END.search(data, size_line.end() - 2)
                if trailers is None:
                    return False
                reading.total = trailers.end()
                return True
            if reading.chunked_size + size > self.max_body:
                self.refuse(reading, self.too_large)
                return False
            chunk_end = size_line.end() + size + 2  # the data, then CRLF
            if len(data) < chunk_end:
                return False
            reading.chunked_size += size
            reading.next_chunk = chunk_end

    def buffer(self, reading: Reading) -> None:
        """Puts the request read whole where gunicorn's parser reads it from."""
        conn = reading.conn
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(reading.data))
        conn.data_ready = True

    def handle_request(self, req: Any, conn: TConn) -> bool:
        if conn in self.continued:
            self.continued.discard(conn)
            req._expected_100_continue = False
        return super().handle_request(req, conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_SECONDS
        for reading in list(self.reading.values()):
            if reading.deadline <= now:
                if reading.data and not reading.lingering:
                    self.refuse(reading, TIMED_OUT)
                else:
                    self.drop(reading)
            elif not self.alive and not reading.data:
                # A stopping worker does not wait for a request that has not begun.
                self.drop(reading)

    def refuse(self, reading: Reading, answer: bytes) -> None:
        """Answers, then reads and discards what the client still sends for a moment: closing
        with unread bytes would reset the connection, and the client could lose the answer."""
        if reading.closed or reading.lingering:
            return
        send_quietly(reading.conn.sock, answer)
        with contextlib.suppress(OSError):
            # If this fails the connection is gone, and the next read says so.
            reading.conn.sock.shutdown(socket.SHUT_WR)
        reading.lingering = True
        reading.data = bytearray()
        reading.deadline = time.monotonic() + LINGER_SECONDS

    def unwatch(self, reading: Reading) -> None:
        if self.reading.pop(reading.conn, None) is not None:
            self.poller.unregister(reading.conn.sock)

    def drop(self, reading: Reading) -> None:
        if reading.closed:
            return
        reading.closed = True
        self.unwatch(reading)
        self.continued.discard(reading.conn)
        self.nr_conns -= 1
        reading.conn.close()


def body_length(head: bytes) -> int | None:
    """The body's length as the head announces it, CHUNKED, or None when the head is one the
    parser refuses anyway (conflicting or malformed framing)."""
    lengths: set[bytes] = set()
    encodings: list[bytes] = []
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            lengths.add(value.strip())
        elif name == b"transfer-encoding":
            encodings.extend(part.strip().lower() for part in value.split(b","))
    if encodings:
        return CHUNKED if encodings[-1] == b"chunked" and not lengths else None
    if not lengths:
        return 0
    if len(lengths) > 1:
        return None
    (text,) = lengths
    return int(text) if text.isdigit() and len(text) <= 18 else None


def expects_continue(head: bytes | bytearray) -> bool:
    request_line, _, fields = bytes(head).partition(b"\n")
    if not request_line.rstrip().endswith(b"HTTP/1.1"):
        return False
    return re.search(rb"(?im)^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", fields) is not None


def receive(sock: socket.socket) -> bytes | None:
    """What the socket has, without waiting (whether it blocks or not): b"" once the client is
    gone, None if nothing yet."""
    try:
        return sock.recv(256 * 1024, socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def send_quietly(sock: socket.socket, answer: bytes) -> None:
    """Best effort, without waiting: a client that does not read is not waited for."""
    with contextlib.suppress(OSError):
        sock.send(answer, socket.MSG_DONTWAIT)

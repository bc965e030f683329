"""Clients that send slowly, or too much, cannot keep the gateway from answering others."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests

from deploy.local import Suite

SLOW_CLIENTS = 80
OTP = "/v1/auth/otp"


def address(suite: Suite) -> tuple[str, int]:
    parts = urlsplit(suite.gateway_url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return parts.hostname, parts.port


@contextmanager
def connections(suite: Suite, count: int, opening: bytes) -> Iterator[list[socket.socket]]:
    opened = []
    try:
        for _ in range(count):
            client = socket.create_connection(address(suite), timeout=5)
            client.sendall(opening)
            opened.append(client)
        yield opened
    finally:
        for client in opened:
            client.close()


def trickle(clients: list[socket.socket], data: bytes) -> None:
    for client in clients:
        client.sendall(data)


def exchange(suite: Suite, raw: bytes) -> bytes:
    """Sends `raw` on a fresh connection and reads until the gateway closes it."""
    with socket.create_connection(address(suite), timeout=5) as client:
        client.sendall(raw)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
        return received


def problem_in(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_slow_heads_and_bodies_do_not_keep_health_checks_waiting(sqlite_suite: Suite) -> None:
    slow_head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    slow_body = (
        f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n{"
    ).encode()
    started = time.monotonic()
    with (
        connections(sqlite_suite, SLOW_CLIENTS, slow_head) as heads,
        connections(sqlite_suite, SLOW_CLIENTS, slow_body) as bodies,
    ):
        # Each slow client sends a little more every 2 s, inside the gateway's deadlines.
        for line in range(4):
            trickle(heads, f"X-Line-{line}: still typing\r\n".encode())
            trickle(bodies, b" ")
            for _ in range(2):
                # Within a second, or requests raises a timeout.
                assert requests.get(sqlite_suite.gateway_url + "/healthz", timeout=1).ok
                time.sleep(1)
        # Past the head deadline (10 s from the connection), a head still unfinished is
        # answered 408 and its connection closed; bodies have longer.
        time.sleep(max(0.0, started + 11.5 - time.monotonic()))
        heads[0].settimeout(2)
        answer = heads[0].recv(65536)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert problem_in(answer)["code"] == "request-timeout"
        assert heads[0].recv(65536) == b""
        assert requests.get(sqlite_suite.gateway_url + "/healthz", timeout=1).ok


def test_a_body_over_the_limit_is_refused_before_it_is_sent(sqlite_suite: Suite) -> None:
    announced = exchange(
        sqlite_suite,
        f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {3 * 1024 * 1024}\r\n\r\n{{".encode(),
    )
    assert announced.startswith(b"HTTP/1.1 413 ")
    assert problem_in(announced)["code"] == "too-large"

    chunk = b"x" * 1024 * 1024
    chunked = exchange(
        sqlite_suite,
        f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
        + 3 * (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"),
    )
    assert chunked.startswith(b"HTTP/1.1 413 ")
    assert problem_in(chunked)["code"] == "too-large"


def test_kept_alive_pipelined_chunked_and_continued_requests_are_answered(
    sqlite_suite: Suite,
) -> None:
    health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    body = b'{"phone": "not a phone"}'
    with socket.create_connection(address(sqlite_suite), timeout=5) as client:
        # Two requests in one packet, then a third on the same connection.
        client.sendall(health + health)
        received = b""
        while received.count(b"HTTP/1.1 200 ") < 2:
            received += client.recv(65536)
        client.sendall(
            f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert problem_in(answer)["code"] == "invalid-phone"

    chunked = exchange(
        sqlite_suite,
        f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
        + b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:5], body[5:]))
        + b"0\r\n\r\n",
    )
    assert problem_in(chunked)["code"] == "invalid-phone"

    with socket.create_connection(address(sqlite_suite), timeout=5) as client:
        client.sendall(
            f"POST {OTP} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        assert client.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.sendall(body)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 422 ")
    assert problem_in(answer)["code"] == "invalid-phone"

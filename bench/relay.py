"""The floor of the suite's shape: gRPC servers that do nothing but answer, built with the
services' server settings, the first calling the next. A floor route that calls them measures
what crossing the suite's process boundaries costs by itself, with no work done anywhere
(`Call`), or with nothing but a call's essential work done by the last of them (`Purchase`,
`Balance`: bench.floor_work, on the database at FLOOR_DATABASE_URL).

    python -m bench.relay LISTEN [NEXT]
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg

from bench import floor_work
from services.runtime.config import Env

CALL = "/floor.Relay/Call"
PURCHASE = "/floor.Relay/Purchase"
BALANCE = "/floor.Relay/Balance"
DATABASE_VARIABLE = "FLOOR_DATABASE_URL"


def _same(data: bytes) -> bytes:
    return data


def caller(addr: str, method: str = CALL) -> Callable[[bytes], bytes]:
    """A call of `method` of the relay at `addr`, on a channel of the calling thread's own
    (waiting for the relay to listen, as a service's clients wait for it to start)."""
    local = threading.local()

    def call(data: bytes) -> bytes:
        stub = getattr(local, "stub", None)
        if stub is None:
            channel = grpc.insecure_channel(addr)
            stub = local.stub = channel.unary_unary(
                method, request_serializer=_same, response_deserializer=_same
            )
        return stub(data, timeout=10, wait_for_ready=True)

    return call


Work = Callable[[psycopg.Connection, bytes], bytes]
# What the last relay of a chain does for each method but Call.
_WORK: dict[str, Work] = {
    PURCHASE: lambda conn, data: json.dumps(floor_work.purchase(conn, json.loads(data))).encode(),
    BALANCE: lambda conn, data: json.dumps(floor_work.balance(conn, data.decode())).encode(),
}


def serve(listen: str, next_addr: str | None) -> None:
    forward = caller(next_addr) if next_addr else None
    local = threading.local()

    def answer(data: bytes, _context: grpc.ServicerContext) -> bytes:
        # Each relay crossed adds a dot, so an answer shows how many it went through.
        return (forward(data) if forward else data) + b"."

    def doing(method: str, work: Work) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        forward_work = caller(next_addr, method) if next_addr else None

        def handle(data: bytes, _context: grpc.ServicerContext) -> bytes:
            if forward_work:
                return forward_work(data)
            conn = getattr(local, "conn", None)
            if conn is None or conn.closed:
                conn = local.conn = psycopg.connect(Env().str(DATABASE_VARIABLE))
            return work(conn, data)

        return handle

    handlers = {CALL: answer, **{method: doing(method, work) for method, work in _WORK.items()}}
    handler = grpc.method_handlers_generic_handler(
        "floor.Relay",
        {
            method.rsplit("/", 1)[1]: grpc.unary_unary_rpc_method_handler(
                handle, request_deserializer=_same, response_serializer=_same
            )
            for method, handle in handlers.items()
        },
    )
    # As services.runtime.server builds a service's server: as many threads as a service's.
    workers = Env().int("POINTS_WORKERS", 16, minimum=1)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)]
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(listen)
    server.start()
    server.wait_for_termination()


def main() -> None:
    serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)


if __name__ == "__main__":
    main()

"""The floor of the suite's shape: gRPC servers that do nothing but answer, built with the
services' server settings, the first calling the next. A floor route that calls them measures
what crossing the suite's process boundaries costs by itself, with no work done anywhere
(`Call`), or with nothing but a purchase's essential work done by the last of them
(`Purchase`, on the database at FLOOR_DATABASE_URL).

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


def serve(listen: str, next_addr: str | None) -> None:
    forward = caller(next_addr) if next_addr else None
    forward_purchase = caller(next_addr, PURCHASE) if next_addr else None
    local = threading.local()

    def answer(data: bytes, _context: grpc.ServicerContext) -> bytes:
        # Each relay crossed adds a dot, so an answer shows how many it went through.
        return (forward(data) if forward else data) + b"."

    def purchase(data: bytes, _context: grpc.ServicerContext) -> bytes:
        if forward_purchase:
            return forward_purchase(data)
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(Env().str(DATABASE_VARIABLE))
        return json.dumps(floor_work.purchase(conn, json.loads(data))).encode()

    handler = grpc.method_handlers_generic_handler(
        "floor.Relay",
        {
            name: grpc.unary_unary_rpc_method_handler(
                work, request_deserializer=_same, response_serializer=_same
            )
            for name, work in (("Call", answer), ("Purchase", purchase))
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

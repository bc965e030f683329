"""The floor of the suite's shape: gRPC servers that do nothing but answer, built with the
services' server settings, the first calling the next. A floor route that calls them measures
what crossing the suite's process boundaries costs by itself, with no work done anywhere.

    python -m bench.relay LISTEN [NEXT]
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

from services.runtime.config import Env

METHOD = "/floor.Relay/Call"


def _same(data: bytes) -> bytes:
    return data


def caller(addr: str) -> Callable[[bytes], bytes]:
    """A call of the relay at `addr`, on a channel of the calling thread's own (waiting for the
    relay to listen, as a service's clients wait for it to start)."""
    local = threading.local()

    def call(data: bytes) -> bytes:
        stub = getattr(local, "stub", None)
        if stub is None:
            channel = grpc.insecure_channel(addr)
            stub = local.stub = channel.unary_unary(
                METHOD, request_serializer=_same, response_deserializer=_same
            )
        return stub(data, timeout=10, wait_for_ready=True)

    return call


def serve(listen: str, next_addr: str | None) -> None:
    forward = caller(next_addr) if next_addr else None

    def answer(data: bytes, _context: grpc.ServicerContext) -> bytes:
        # Each relay crossed adds a dot, so an answer shows how many it went through.
        return (forward(data) if forward else data) + b"."

    handler = grpc.method_handlers_generic_handler(
        "floor.Relay",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                answer, request_deserializer=_same, response_serializer=_same
            )
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

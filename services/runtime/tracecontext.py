"""W3C trace context (`traceparent`) carried from the gateway through every gRPC hop.

Each process keeps the caller's trace id, starts a span of its own and passes
`00-<trace id>-<its span id>-<flags>` on to the services it calls, so a tracing backend, or a
grep of the JSON logs for `trace_id`, can put one request's hops together.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from dataclasses import dataclass

TRACEPARENT_HEADER = "traceparent"
_PATTERN = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    flags: str = "01"

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("span", default=None)


def parse(header: str | None) -> tuple[str, str] | None:
    """(trace id, flags) of a valid `traceparent`, else None."""
    match = _PATTERN.fullmatch((header or "").strip().lower())
    if not match:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, flags


def start_span(incoming: str | None) -> contextvars.Token[Span | None]:
    """A span of this process, in the caller's trace if it sent one, else in a new trace."""
    parent = parse(incoming)
    if parent:
        (trace_id, flags), span_id = parent, secrets.token_hex(8)
    else:
        # Both ids from one read of the system's randomness.
        fresh = secrets.token_hex(24)
        trace_id, span_id, flags = fresh[:32], fresh[32:], "01"
    return _span.set(Span(trace_id, span_id, flags))


def end_span(token: contextvars.Token[Span | None]) -> None:
    _span.reset(token)


def current() -> Span | None:
    return _span.get()

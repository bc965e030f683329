"""Ids that cross service boundaries as strings."""

from __future__ import annotations

import uuid

from services.runtime.errors import InvalidArgument


def parse_id(value: str, what: str) -> uuid.UUID:
    """`value` as a UUID, or InvalidArgument `invalid-<what>-id`."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"{what}_id is not a valid id", code=f"invalid-{what}-id") from None

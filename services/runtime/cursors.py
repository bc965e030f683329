"""Opaque paging cursors: a few integers a caller hands back unchanged to get the next page."""

from __future__ import annotations

import base64

from services.runtime.errors import InvalidArgument

# A member's messages (campaigns' ListMemberMessages, the gateway's /v1/me/messages) per page.
MESSAGES_PAGE_DEFAULT = 20
MESSAGES_PAGE_MAX = 100


def encode(*positions: int) -> str:
    text = ":".join(str(position) for position in positions)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, count: int) -> tuple[int, ...]:
    """The `count` integers in `cursor`, or InvalidArgument `invalid-cursor`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        positions = tuple(int(part) for part in text.split(":"))
    except (ValueError, UnicodeDecodeError):
        positions = ()
    if len(positions) != count:
        raise InvalidArgument("cursor is not valid", code="invalid-cursor")
    return positions

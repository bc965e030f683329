"""Where identity caches member views in Redis: the one entry other processes may read.

A member's view is cached under `member_key(id)` only for the member's own id, never for a
merged duplicate's, and every change to the member drops it before and after the commit. So
an entry there says what GetMember would answer: this id names a member, and it is its own.
The gateway reads that much to spare a balance read or a purchase the call to identity.
"""

from __future__ import annotations

import uuid


def namespace(cache_prefix: str) -> str:
    """The prefix of identity's cache keys, from the suite's LOYALTY_CACHE_PREFIX."""
    return f"{cache_prefix}:identity"


def member_key(member_id: uuid.UUID) -> str:
    return f"member:{member_id}"

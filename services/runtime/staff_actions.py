"""The audit vocabulary: the name of every staff action, whichever service records it.

Identity records what it does (reveals, merges, erasures, exports of a member or of a segment's
contacts, stores, POS keys, staff accounts); points records its adjustments and transfers. The
support desk and the admin console show both in these words.
"""

from __future__ import annotations

MEMBER_REVEAL = "member.reveal"
MEMBER_MERGE = "member.merge"
MEMBER_ERASE = "member.erase"
MEMBER_EXPORT = "member.export"
POINTS_ADJUST = "points.adjust"
POINTS_TRANSFER = "points.transfer"
STORE_CREATE = "store.create"
STORE_RENAME = "store.rename"
STORE_CLOSE = "store.close"
KEY_ISSUE = "key.issue"
KEY_ROTATE = "key.rotate"
KEY_REVOKE = "key.revoke"
STAFF_CREATE = "staff.create"
STAFF_DISABLE = "staff.disable"
STAFF_ENABLE = "staff.enable"
STAFF_ROLE = "staff.role"
STAFF_PASSWORD = "staff.password"
STAFF_SIGN_OUT = "staff.sign_out"
SEGMENT_EXPORT = "segment.export"

ACTIONS = (
    MEMBER_REVEAL,
    MEMBER_MERGE,
    MEMBER_ERASE,
    MEMBER_EXPORT,
    POINTS_ADJUST,
    POINTS_TRANSFER,
    STORE_CREATE,
    STORE_RENAME,
    STORE_CLOSE,
    KEY_ISSUE,
    KEY_ROTATE,
    KEY_REVOKE,
    STAFF_CREATE,
    STAFF_DISABLE,
    STAFF_ENABLE,
    STAFF_ROLE,
    STAFF_PASSWORD,
    STAFF_SIGN_OUT,
    SEGMENT_EXPORT,
)
# Points' adjustment kinds as actions; a merge's points move as part of identity's merge.
POINTS_KINDS = {"adjust": POINTS_ADJUST, "transfer": POINTS_TRANSFER, "merge": MEMBER_MERGE}
# An action asked for without saying who (an older client) is recorded as this.
UNKNOWN_ACTOR = "unknown"


def actor_or_unknown(actor: str) -> str:
    """Who did it, in at most 100 characters, for the record."""
    return " ".join(actor.split())[:100] or UNKNOWN_ACTOR

"""QR tokens a member's phone shows at the till: signed, short-lived, useless once expired.

A token is `LQ1.<member id>.<expiry, unix seconds>.<signature>`, the signature an HMAC-SHA256 of
the rest under a key only identity holds; the phone asks for a fresh one well before it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from services.runtime.errors import InvalidArgument

PREFIX = "LQ1"
MAX_LENGTH = 120


def _signature(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


class QrTokens:
    def __init__(self, key: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._key = key.encode()
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, member_id: str) -> tuple[str, str]:
        """The token and its expiry as an ISO timestamp."""
        expires = int(self._clock()) + self._ttl
        body = f"{PREFIX}.{uuid.UUID(member_id).hex}.{expires}"
        token = f"{body}.{_signature(self._key, body)}"
        return token, datetime.fromtimestamp(expires, UTC).isoformat()

    def verify(self, token: str) -> str:
        """The member id the token was issued for, or InvalidArgument."""
        token = (token or "").strip()
        parts = token.split(".") if len(token) <= MAX_LENGTH else []
        if len(parts) != 4 or parts[0] != PREFIX:
            raise InvalidArgument("this is not a member QR code", code="invalid-qr-token")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], _signature(self._key, body)):
            raise InvalidArgument("this QR code is not genuine", code="invalid-qr-token")
        try:
            member_id, expires = uuid.UUID(hex=parts[1]), int(parts[2])
        except ValueError:
            raise InvalidArgument("this is not a member QR code", code="invalid-qr-token") from None
        if expires <= self._clock():
            raise InvalidArgument(
                "this QR code has expired: ask the member to refresh it", code="qr-token-expired"
            )
        return str(member_id)

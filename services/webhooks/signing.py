"""How a delivery is signed, so its receiver knows it came from this suite, unchanged.

The `Loyalty-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed with
the endpoint's secret (the whole `whsec_…` string, as UTF-8) over `<t>.<body>`: the timestamp,
a full stop, and the request body's bytes exactly as received. README.md shows the check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Loyalty-Signature"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"

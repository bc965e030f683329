from __future__ import annotations

import uuid

import pytest

from services.identity.qr import QrTokens
from services.runtime.errors import InvalidArgument


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_works_until_it_expires_and_is_refused_after() -> None:
    clock = Clock()
    tokens = QrTokens("key", ttl_seconds=120, clock=clock)
    member = str(uuid.uuid4())
    token, expires_at = tokens.issue(member)
    assert expires_at.startswith("2027-01-15T08:02:00")
    clock.now += 119
    assert tokens.verify(token) == member
    clock.now += 1
    with pytest.raises(InvalidArgument) as refused:
        tokens.verify(token)
    assert refused.value.code == "qr-token-expired"


def test_a_token_signed_with_another_key_is_refused() -> None:
    token, _ = QrTokens("someone else's key", 120).issue(str(uuid.uuid4()))
    with pytest.raises(InvalidArgument) as refused:
        QrTokens("key", 120).verify(token)
    assert refused.value.code == "invalid-qr-token"

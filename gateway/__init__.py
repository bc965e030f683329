"""The HTTP gateway: the one door for POS terminals, members and staff."""

from __future__ import annotations

from gateway.app import create_app

__all__ = ["create_app"]

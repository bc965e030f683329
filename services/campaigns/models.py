"""The campaigns database. It holds no tables yet: campaigns and segments come with their API."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass

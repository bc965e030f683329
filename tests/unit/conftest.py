"""The fast tier starts no process: a test that tries fails at once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fast tests start no process")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    yield

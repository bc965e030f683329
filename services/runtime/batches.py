"""Batches of rows from an import, each row answered alone: a bad row is refused with its
error and the others go on, and the batch is written in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from services.runtime.errors import Conflict, DomainError, InvalidArgument

MAX_BATCH = 5000
# A batch that lost a race with another import (the same key in both) is written again: the
# second time it finds the other's rows.
ATTEMPTS = 3
Row = TypeVar("Row")
Checked = TypeVar("Checked")
Written = TypeVar("Written")


def check_each(
    rows: Sequence[Row], check: Callable[[int, Row], Checked]
) -> tuple[list[Checked], dict[int, DomainError]]:
    """`check(index, row)` for every row of the batch: what passed, and the error of each row
    that did not, by its index."""
    if len(rows) > MAX_BATCH:
        raise InvalidArgument(f"at most {MAX_BATCH} rows per batch", code="batch-too-large")
    checked: list[Checked] = []
    refused: dict[int, DomainError] = {}
    for index, row in enumerate(rows):
        try:
            checked.append(check(index, row))
        except DomainError as error:
            refused[index] = error
    return checked, refused


def write_batch(write: Callable[[], Written]) -> Written:
    """`write()`, again if it lost a race on a unique key with another import."""
    for _attempt in range(ATTEMPTS - 1):
        try:
            return write()
        except IntegrityError:
            continue
    try:
        return write()
    except IntegrityError:
        raise Conflict(
            "the batch kept clashing with another import: send it again", code="import-clash"
        ) from None

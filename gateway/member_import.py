"""Members brought in from a CSV file, for the CLI and the admin console alike.

The file is read as a stream, a batch of rows at a time: identity enrols a batch in one
transaction (`ImportMembers`), then points posts the opening balances and tiers of its members
(`ImportOpeningBalances`). Both are idempotent, on the member's external id or phone and on the
member's one opening balance, so a file imported again changes nothing, and an import stopped
halfway is finished by running it again. A bad row is reported with its line and reason; the
others go on. The services check each field as they check any enrolment; this module reads the
file's shape: its columns, yes-or-no consents, numbers and dates in any digits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import BinaryIO

from gateway.clients import Clients
from services.runtime.jalali import typed_date
from services.runtime.text import ascii_digits

COLUMNS = (
    "phone",
    "external_id",
    "card_number",
    "first_name",
    "last_name",
    "email",
    "birth_date",
    "city",
    "sms_consent",
    "sms_consent_date",
    "email_consent",
    "email_consent_date",
    "points",
    "points_expire_on",
    "tier",
)
# What identity enrols as it is written; the other columns are read here first.
MEMBER_COLUMNS = COLUMNS[:8]
CONSENT_CHANNELS = ("sms", "email")
YES = {"yes", "y", "true", "1", "بله", "بلی", "آری"}
NO = {"no", "n", "false", "0", "خیر", "نه"}
BATCH_ROWS = 1000
# Thousands separators a spreadsheet may write in a number: comma, Arabic comma and space.
_SEPARATORS = str.maketrans("", "", ",٬ \u066c")


class ImportFileError(ValueError):
    """The file as a whole cannot be read: not UTF-8, no header, an unknown column."""


@dataclass(frozen=True)
class BadRow:
    line: int
    code: str
    reason: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    existing: int = 0
    # Opening balances (or tiers) posted; members that had theirs already are not counted.
    opened: int = 0
    cards_replaced: int = 0
    bad: list[BadRow] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "existing": self.existing,
            "opened": self.opened,
            "cards_replaced": self.cards_replaced,
            "rejected": len(self.bad),
            "bad_rows": [{"line": b.line, "code": b.code, "reason": b.reason} for b in self.bad],
        }


@dataclass
class _Row:
    """A row as read from the file: what identity enrols and what points opens."""

    member: dict
    points: int = 0
    expires_at: datetime | None = None
    tier: str = ""


class _BadField(ValueError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def _yes_no(value: str, column: str) -> bool:
    text = value.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise _BadField("invalid-consent", f"{column} must be yes or no")


def _day(value: str, column: str) -> date:
    try:
        return typed_date(value)
    except ValueError:
        raise _BadField(
            "invalid-date", f"{column} must be a date YYYY-MM-DD (Gregorian or Jalali)"
        ) from None


def parse_row(line: int, cells: dict[str, str]) -> _Row:
    """One row of the file in the services' terms; `_BadField` when its shape is wrong."""
    text = {name: (cells.get(name) or "").strip() for name in COLUMNS}
    if not text["phone"]:
        raise _BadField("invalid-phone", "phone is required")
    consents = {}
    for channel in CONSENT_CHANNELS:
        given = text[f"{channel}_consent"]
        if given:
            column = f"{channel}_consent_date"
            on = _day(text[column], column).isoformat() if text[column] else ""
            consents[channel] = (_yes_no(given, f"{channel}_consent"), on)
    member = {name: text[name] for name in MEMBER_COLUMNS}
    member.update(line=line, consents=consents)
    points = 0
    if text["points"]:
        digits = ascii_digits(text["points"]).translate(_SEPARATORS)
        if not digits.isdigit():
            raise _BadField("invalid-points", "points must be a whole number, 0 or more")
        points = int(digits)
    expires_at = None
    if text["points_expire_on"]:
        day = _day(text["points_expire_on"], "points_expire_on")
        # The points can be spent all through that day (UTC).
        expires_at = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    return _Row(member, points, expires_at, text["tier"])


def read_rows(stream: BinaryIO) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, cells by column) for each row of a UTF-8 CSV file, with or without a BOM; the
    header is line 1."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if not header:
            raise ImportFileError("the file is empty: its first line names the columns")
        names = [name.strip().lower() for name in header]
        unknown = [name for name in names if name not in COLUMNS]
        if unknown:
            raise ImportFileError(
                f"unknown column {unknown[0]!r}: the columns are {', '.join(COLUMNS)}"
            )
        if "phone" not in names:
            raise ImportFileError("the file has no phone column")
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield reader.line_num, dict(zip(names, cells, strict=False))
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None
    finally:
        text.detach()


def import_members(
    clients: Clients,
    stream: BinaryIO,
    dry_run: bool = False,
    progress: Callable[[ImportReport], None] = lambda report: None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Reads the file and imports it a batch at a time; `progress` is called after each.

    Three things happen at once: this thread reads the next batch, identity enrols this one,
    and points posts the opening balances of the one before. Each batch's members are enrolled
    before their balances are posted; the report is only written here, in the file's order.
    """
    report = ImportReport(dry_run=dry_run)
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrolments") as identity_calls,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="openings") as points_calls,
    ):
        enrolling: tuple[list[_Row], Future[list[dict]]] | None = None
        opening: Future[list[dict]] | None = None

        def settle(batch: list[_Row], enrolled: Future[list[dict]]) -> None:
            """Counts the batch's enrolments, then sends its opening balances to points."""
            nonlocal opening
            openings = _enrolled(batch, enrolled.result(), report)
            if opening is not None:
                _count_openings(opening.result(), report)
                opening = None
            progress(report)
            if openings:
                opening = points_calls.submit(
                    clients.points.import_opening_balances, openings, dry_run
                )

        try:
            for batch in _batches(read_rows(stream), report, batch_rows):
                # Queued behind the batch identity is enrolling, so identity never waits on us.
                sent = identity_calls.submit(
                    clients.identity.import_members, [row.member for row in batch], dry_run
                )
                before, enrolling = enrolling, (batch, sent)
                if before is not None:
                    settle(*before)
            if enrolling is not None:
                last, enrolling = enrolling, None
                settle(*last)
            if opening is not None:
                _count_openings(opening.result(), report)
        except BaseException:
            # Nothing more is sent; a call already under way finishes (an import again
            # finishes what it left).
            if enrolling is not None:
                enrolling[1].cancel()
            raise
    progress(report)
    report.bad.sort(key=lambda bad: bad.line)
    return report


def _batches(
    rows: Iterable[tuple[int, dict[str, str]]], report: ImportReport, batch_rows: int
) -> Iterator[list[_Row]]:
    """The file's rows read in batches; a row of the wrong shape goes in the report instead."""
    batch: list[_Row] = []
    for line, cells in rows:
        report.rows += 1
        try:
            batch.append(parse_row(line, cells))
        except _BadField as bad:
            report.bad.append(BadRow(line, bad.code, str(bad)))
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


def _enrolled(batch: list[_Row], results: list[dict], report: ImportReport) -> list[dict]:
    """Counts identity's answers for the batch; answers the opening balances and tiers to post
    for its members."""
    by_line = {row.member["line"]: row for row in batch}
    openings = []
    for result in results:
        line = result["line"]
        if result["outcome"] == "rejected":
            report.bad.append(BadRow(line, result["error_code"], result["error"]))
            continue
        report.created += result["outcome"] == "created"
        report.existing += result["outcome"] == "existing"
        report.cards_replaced += result["card_replaced"]
        row = by_line[line]
        if row.points or row.tier:
            openings.append(
                {
                    "line": line,
                    "member_id": result["member_id"],
                    "points": row.points,
                    "expires_at": row.expires_at,
                    "tier": row.tier,
                }
            )
    return openings


def _count_openings(results: list[dict], report: ImportReport) -> None:
    for result in results:
        if result["outcome"] == "rejected":
            report.bad.append(BadRow(result["line"], result["error_code"], result["error"]))
        report.opened += result["outcome"] == "posted"


def bad_rows_csv(bad_rows: Iterable[BadRow]) -> str:
    """The bad rows (line, code, reason) as a CSV file: the CLI's --report and the console's
    download."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("line", "code", "reason"))
    writer.writerows((bad.line, bad.code, bad.reason) for bad in bad_rows)
    return out.getvalue()

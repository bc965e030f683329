"""Answers that are CSV files for accounting and other systems, streamed as they are read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

from flask import Response

# Spreadsheets take a file that starts with a byte order mark as UTF-8 (Persian names).
BOM = "\ufeff"
# The schema of such an answer in /openapi.json.
CSV_FILE = {"type": "string", "description": "A CSV file, UTF-8 with a byte order mark"}


def csv_response(columns: tuple[str, ...], rows: Iterable[dict], filename: str) -> Response:
    """`rows` (dicts keyed by `columns`) as a CSV download. The first row is read before the
    answer starts, so a refused request is still a problem, not a broken file."""
    rows = iter(rows)
    first = next(rows, None)
    ahead = () if first is None else (first,)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write(BOM)
        writer.writerow(columns)
        for row in chain(ahead, rows):
            writer.writerow([row[column] for column in columns])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

"""The admin console's member import: one file at a time, read in the background by the gateway
process that received it, its progress and bad rows kept in a job record in the gateway's cache,
so that every worker and replica shows the same page.

The import itself is `gateway.member_import`'s, the same as the CLI's: a file imported again
changes nothing, so an import cut short (its gateway stopped) is finished by uploading the file
again. One import at a time: the running import holds a claim in the cache that it renews after
each batch; a claim not renewed lapses, and the record then reads as stopped. Without the cache
the console cannot keep the one-at-a-time promise, so it refuses and points to the CLI.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from datetime import UTC, datetime
from typing import BinaryIO

from gateway.clients import Clients
from gateway.member_import import BadRow, ImportFileError, ImportReport, import_members
from services.runtime.cache import Cache

RECORD = "member-import:job"
CLAIM = "member-import:running"
# Longer than any one batch takes; renewed after each.
CLAIM_SECONDS = 10 * 60
RECORD_SECONDS = 30 * 24 * 3600
# The bad rows the record keeps for the page and the download; the count is always whole.
KEPT_BAD_ROWS = 10_000


class ImportRunning(RuntimeError):
    """Another import is still being read."""


class ImportUnavailable(RuntimeError):
    """The cache that holds the one-at-a-time claim cannot be reached."""


class ImportJobs:
    def __init__(self, clients: Clients, cache: Cache) -> None:
        self._clients = clients
        self._cache = cache

    def last(self) -> dict | None:
        """The last import's record, with `running` (its claim still held) and `stopped` (its
        gateway went away before the end)."""
        record = self._cache.get_json(RECORD)
        if record is None:
            return None
        unfinished = not record["finished_at"]
        held = unfinished and self._cache.get(CLAIM) == record["id"].encode()
        record.update(running=held, stopped=unfinished and not held)
        record["percent"] = 100 if not unfinished else _percent(record["read"], record["size"])
        return record

    def bad_rows(self) -> list[BadRow] | None:
        record = self._cache.get_json(RECORD)
        if record is None:
            return None
        return [BadRow(**bad) for bad in record["bad_rows"]]

    def start(self, upload: BinaryIO, file_name: str, dry_run: bool, actor: str) -> None:
        """Copies the upload aside (the request's copy ends with the request) and imports it in
        a thread; `ImportRunning` while another import holds the claim."""
        job_id = str(uuid.uuid4())
        claimed = self._cache.claim(CLAIM, job_id, CLAIM_SECONDS)
        if claimed is None:
            raise ImportUnavailable(file_name)
        if not claimed:
            raise ImportRunning(file_name)
        # Closed by the thread that reads it.
        spooled = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            size = _copy(upload, spooled)
        except BaseException:
            spooled.close()
            self._cache.delete(CLAIM)
            raise
        record = {
            "id": job_id,
            "file_name": file_name,
            "dry_run": dry_run,
            "started_by": actor,
            "started_at": datetime.now(UTC).isoformat(),
            "finished_at": "",
            "size": size,
            "read": 0,
            "counts": ImportReport(dry_run).as_json(),
            "bad_rows": [],
            "failure": "",
        }
        self._cache.set_json(RECORD, record, RECORD_SECONDS)
        threading.Thread(
            target=self._run, args=(record, spooled), name="member-import", daemon=True
        ).start()

    def _run(self, record: dict, stream: BinaryIO) -> None:
        def advanced(report: ImportReport) -> None:
            record["read"] = stream.tell()
            self._save(record, report)
            self._cache.set(CLAIM, record["id"], CLAIM_SECONDS)

        report = None
        try:
            with stream:
                stream.seek(0)
                report = import_members(self._clients, stream, record["dry_run"], advanced)
        except ImportFileError as error:
            record["failure"] = str(error)
        except Exception as error:
            record["failure"] = f"the import stopped ({type(error).__name__}): upload it again"
        finally:
            record["finished_at"] = datetime.now(UTC).isoformat()
            self._save(record, report)
            self._cache.delete(CLAIM)

    def _save(self, record: dict, report: ImportReport | None) -> None:
        if report is not None:
            counts = report.as_json()
            record["bad_rows"] = counts.pop("bad_rows")[:KEPT_BAD_ROWS]
            record["counts"] = counts
        self._cache.set_json(RECORD, record, RECORD_SECONDS)


def _percent(read: int, size: int) -> int:
    return min(99, read * 100 // size) if size else 0


def _copy(source: BinaryIO, target: BinaryIO) -> int:
    size = 0
    while chunk := source.read(1024 * 1024):
        target.write(chunk)
        size += len(chunk)
    return size

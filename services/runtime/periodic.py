"""Work a service repeats in the background: ledger jobs, feeds, messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

# The longest a reader of events waits between reads while they find nothing.
IDLE_INTERVAL = 2.0


class Periodic:
    """Calls `work` every `interval` seconds in a daemon thread named `name` (never when the
    interval is 0 or less). A failure is logged with `failure` and the work runs again next
    time; `stop` waits for a run in progress.

    With `backs_off`, `work` answers how much it found to do: after each run that found
    nothing the wait doubles, up to IDLE_INTERVAL (or `interval`, if longer), and the first run
    that finds something brings it back to `interval`. An idle suite then costs its readers
    of events a few calls a second instead of dozens."""

    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[], object],
        failure: str,
        backs_off: bool = False,
    ) -> None:
        self._work = work
        self._interval = interval
        self._longest = max(interval, IDLE_INTERVAL) if backs_off else interval
        self._failure = failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def _loop(self) -> None:
        wait = self._interval
        while not self._stop.wait(wait):
            try:
                found = self._work()
            except Exception:
                logger.exception(self._failure)
                found = None
            # None (or anything but a count) says nothing about idleness: no backing off.
            wait = min(wait * 2, self._longest) if found == 0 else self._interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

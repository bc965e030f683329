"""Work a service repeats in the background: ledger jobs, feeds, messages."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Calls `work` every `interval` seconds in a daemon thread named `name` (never when the
    interval is 0 or less). A failure is logged with `failure` and the work runs again next
    time; `stop` waits for a run in progress."""

    def __init__(
        self, name: str, interval: float, work: Callable[[], object], failure: str
    ) -> None:
        self._work = work
        self._interval = interval
        self._failure = failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._work()
            except Exception:
                logger.exception(self._failure)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

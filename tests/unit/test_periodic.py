"""Background work: a reader of events that keeps finding nothing asks less and less often, up
to a bound, and at its own pace again as soon as something comes."""

from __future__ import annotations

from services.runtime.periodic import IDLE_INTERVAL, Periodic


class _Waits:
    """Stands in for the stop event: records each wait and stops after `runs` of them."""

    def __init__(self, runs: int) -> None:
        self.waits: list[float] = []
        self._runs = runs

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return len(self.waits) > self._runs

    def set(self) -> None:
        pass


def _waits_between(found: list[object], backs_off: bool) -> list[float]:
    answers = iter(found)
    periodic = Periodic("test", 0.25, lambda: next(answers), "failed", backs_off=backs_off)
    periodic._stop = _Waits(len(found))  # type: ignore[assignment]
    periodic._loop()
    return periodic._stop.waits  # type: ignore[attr-defined]


def test_an_idle_reader_backs_off_to_the_bound_and_comes_back_when_events_arrive() -> None:
    waits = _waits_between([0, 0, 0, 0, 0, 3, 0], backs_off=True)
    assert waits == [0.25, 0.5, 1.0, IDLE_INTERVAL, IDLE_INTERVAL, IDLE_INTERVAL, 0.25, 0.5]


def test_work_that_says_nothing_of_what_it_found_keeps_its_pace() -> None:
    assert _waits_between([None, 0, None], backs_off=True) == [0.25, 0.25, 0.5, 0.25]
    assert _waits_between([0, 0, 0], backs_off=False) == [0.25] * 4


def test_a_failed_run_keeps_the_pace_too() -> None:
    def fail() -> int:
        raise RuntimeError("boom")

    periodic = Periodic("test", 0.25, fail, "failed", backs_off=True)
    periodic._stop = _Waits(3)  # type: ignore[assignment]
    periodic._loop()
    assert periodic._stop.waits == [0.25] * 4  # type: ignore[attr-defined]

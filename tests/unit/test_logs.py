"""Log lines: one short readable line at a terminal, JSON elsewhere, and idle polls kept quiet."""

from __future__ import annotations

import json
import logging

import pytest

from services.runtime import logs
from services.runtime.config import ConfigError


def record(event: str, level: int = logging.INFO, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("access", level, __file__, 1, event, None, None)
    made.fields = fields
    return made


def test_a_terminal_gets_one_short_line_with_the_key_fields() -> None:
    line = logs.TextFormatter("points").format(
        record(
            "rpc",
            method="/loyalty.points.v1.PointsService/RecordPurchase",
            status="OK",
            duration_ms=3.12,
        )
    )
    assert "\n" not in line
    clock, process, level, *rest = line.split()
    assert len(clock) == len("10:42:07.120") and clock[2] == ":" and clock[8] == "."
    assert (process, level) == ("points", "INFO")
    assert rest == ["rpc", "method=PointsService/RecordPurchase", "status=OK", "duration_ms=3.12"]


def test_a_value_with_spaces_is_quoted_so_the_line_still_reads_as_fields() -> None:
    line = logs.TextFormatter("campaigns").format(
        record("feed unavailable", logging.WARNING, reason="points events: UNAVAILABLE")
    )
    assert line.endswith('WARNING feed unavailable reason="points events: UNAVAILABLE"')


def test_json_is_chosen_when_asked_or_when_no_one_reads_a_terminal() -> None:
    assert isinstance(logs.formatter("identity", "", terminal=True), logs.TextFormatter)
    assert isinstance(logs.formatter("identity", "auto", terminal=False), logs.JsonFormatter)
    assert isinstance(logs.formatter("identity", "json", terminal=True), logs.JsonFormatter)
    assert isinstance(logs.formatter("identity", "TEXT", terminal=False), logs.TextFormatter)
    line = logs.formatter("identity", "json", terminal=True).format(record("rpc", status="OK"))
    assert json.loads(line)["process"] == "identity"


def test_an_unknown_format_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="LOYALTY_LOG_FORMAT"):
        logs.formatter("gateway", "xml", terminal=True)


def test_a_call_marked_routine_is_logged_below_info_and_the_next_call_is_not() -> None:
    first = logs.start_access()
    logs.routine()
    assert logs.access_level(first) == logging.DEBUG
    second = logs.start_access()
    assert logs.access_level(second) == logging.INFO

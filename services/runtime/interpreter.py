"""How often a process's threads take turns at Python's interpreter lock.

A thread serving a call that wants the lock waits while another thread (another call, a feed
page being applied, an events page being served) keeps it, for up to the switch interval: 5 ms
by Python's default, paid again at each turn, so a call that waits several times collects it in
its latency. At 1 ms the half-rate purchases of the load benchmark (300,000 members, two
processes each of points and campaigns, 85 a second) answered with a p99 of 33 to 37 ms instead
of 38 to 48 ms, and the maximum rate stayed the same (docs/operations.md)."""

from __future__ import annotations

import sys

from services.runtime.config import ConfigError, Env

VARIABLE = "LOYALTY_SWITCH_INTERVAL_MS"
DEFAULT_MS = 1.0


def take_turns_often(env: Env | None = None) -> None:
    """Sets the switch interval of this process (`LOYALTY_SWITCH_INTERVAL_MS`)."""
    milliseconds = (env or Env()).float(VARIABLE, DEFAULT_MS)
    if not 0 < milliseconds <= 1000:
        raise ConfigError(f"{VARIABLE} must be more than 0 and at most 1000")
    sys.setswitchinterval(milliseconds / 1000)

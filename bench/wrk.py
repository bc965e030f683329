"""Drives an HTTP server with wrk (Debian's C load generator): one thread, 16 connections,
closed loop, so the client costs the machine little and never is the limit."""

from __future__ import annotations

import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "till.lua"
THREADS = 1
CONNECTIONS = 16


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured."""

    requests: int
    seconds: float
    failed: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Answered requests per second, failures left out."""
        return (self.requests - self.failed) / self.seconds


def run(url: str, mode: str, ids_file: Path, seconds: float, token: str = "") -> WrkRun:
    """`mode` is purchase, balance, relayed-purchase, relayed-balance (across the floor's
    relays), ping, hop1 or hop2 (see till.lua); each purchase has a new id."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", "10s"]
    command += ["-s", str(SCRIPT), url, "--", mode, str(ids_file), token, uuid.uuid4().hex[:12]]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    found = re.search(
        r"RESULT requests=(\d+) duration_us=(\d+) failed=(\d+) p50_us=(\d+) p99_us=(\d+)",
        done.stdout,
    )
    if found is None:
        raise RuntimeError(f"wrk printed no result: {done.stdout} {done.stderr}")
    requests, duration, failed, p50, p99 = (int(g) for g in found.groups())
    return WrkRun(requests, duration / 1e6, failed, p50 / 1000, p99 / 1000)

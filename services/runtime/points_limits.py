"""Limits of the points service that its callers check too: the largest number of points one
change may move, and the most ledger entries one page holds."""

from __future__ import annotations

MAX_POINTS = 10**12
LEDGER_PAGE_MAX = 200
LEDGER_PAGE_DEFAULT = 50

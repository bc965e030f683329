"""Proof that the books are right: every posting balances, every balance equals a replay of
its entries and what its lots have left, and held points equal the open holds.

`python -m services.points check` runs it against the service's database and exits 1 with the
findings when anything is off.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

CHECKS = {
    "postings that do not balance": (
        "SELECT posting_id FROM entries GROUP BY posting_id HAVING SUM(amount) <> 0"
    ),
    "balances that differ from a replay of their entries": """
        SELECT b.member_id FROM balances b LEFT JOIN (
            SELECT member_id,
                SUM(CASE WHEN bucket = 'available' THEN amount ELSE 0 END) AS available,
                SUM(CASE WHEN bucket = 'pending' THEN amount ELSE 0 END) AS pending,
                SUM(CASE WHEN bucket = 'held' THEN amount ELSE 0 END) AS held,
                SUM(CASE WHEN bucket = 'debt' THEN amount ELSE 0 END) AS debt
            FROM entries WHERE member_id IS NOT NULL GROUP BY member_id
        ) e ON e.member_id = b.member_id
        WHERE b.available <> COALESCE(e.available, 0) OR b.pending <> COALESCE(e.pending, 0)
           OR b.held <> COALESCE(e.held, 0) OR b.debt <> COALESCE(e.debt, 0)""",
    "members with entries but no balance": """
        SELECT DISTINCT e.member_id FROM entries e LEFT JOIN balances b
            ON b.member_id = e.member_id
        WHERE e.member_id IS NOT NULL AND b.member_id IS NULL""",
    "balances that differ from what their lots have left": """
        SELECT b.member_id FROM balances b LEFT JOIN (
            SELECT member_id,
                SUM(CASE WHEN status = 'available' THEN remaining ELSE 0 END) AS available,
                SUM(CASE WHEN status = 'pending' THEN remaining ELSE 0 END) AS pending
            FROM lots GROUP BY member_id
        ) l ON l.member_id = b.member_id
        WHERE b.available <> COALESCE(l.available, 0) OR b.pending <> COALESCE(l.pending, 0)""",
    "held points that differ from the open holds": """
        SELECT b.member_id FROM balances b LEFT JOIN (
            SELECT member_id, SUM(points) AS held FROM holds WHERE status = 'held'
            GROUP BY member_id
        ) h ON h.member_id = b.member_id
        WHERE b.held <> COALESCE(h.held, 0)""",
    "open holds whose lots do not add up": """
        SELECT h.id FROM holds h LEFT JOIN (
            SELECT hold_id, SUM(points) AS points FROM hold_allocations GROUP BY hold_id
        ) a ON a.hold_id = h.id
        WHERE h.status = 'held' AND h.points <> COALESCE(a.points, 0)""",
    # A merged duplicate's id is read by nobody: whatever sat on it would be lost. The database
    # refuses it on rows marked merged; merges recorded before that mark are checked too.
    "points left on a merged member's id": """
        SELECT b.member_id FROM balances b
        WHERE (b.merged_into IS NOT NULL
               OR b.member_id IN (SELECT member_id FROM adjustments WHERE kind = 'merge'))
          AND (b.available <> 0 OR b.pending <> 0 OR b.held <> 0 OR b.debt <> 0
               OR EXISTS (SELECT 1 FROM lots l
                          WHERE l.member_id = b.member_id AND l.remaining > 0))""",
    # A redemption id is the till's own, unique within its store only: a hold is its id and
    # the member whose held points the posting moves.
    "holds resolved more than once": """
        SELECT p.source_id FROM postings p
        JOIN entries e ON e.posting_id = p.id AND e.bucket = 'held'
        WHERE p.kind IN ('redeem', 'release')
        GROUP BY p.source_id, e.member_id HAVING COUNT(*) > 1""",
}


@dataclass(frozen=True)
class Finding:
    check: str
    count: int
    examples: list[str]


def audit(connection: Connection) -> list[Finding]:
    """What is wrong with the books; an empty list when nothing is."""
    findings = []
    for check, query in CHECKS.items():
        rows = connection.execute(text(query)).all()
        if rows:
            findings.append(Finding(check, len(rows), [str(row[0]) for row in rows[:5]]))
    return findings

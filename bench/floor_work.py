"""The essential work of a purchase and of a balance read, as the floors do it: a purchase is
one PostgreSQL transaction (the purchase row under its transaction id, a repeat answering the
first result; the balance update; a ledger entry), a balance read one SELECT. The floor's routes
run it themselves; the last relay of a chain runs it at the end of the hops (bench.relay)."""

from __future__ import annotations

from typing import Any

import psycopg

EARN_PER = 10_000


def purchase(conn: psycopg.Connection, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a purchase `body` (transaction_id, member_id, amount), booked once."""
    transaction_id, member_id = body["transaction_id"], body["member_id"]
    amount = int(body["amount"])
    points = amount // EARN_PER
    with conn.transaction():
        first = conn.execute(
            "INSERT INTO floor_purchases VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (transaction_id) DO NOTHING RETURNING points",
            (transaction_id, member_id, amount, points),
        ).fetchone()
        if first is None:
            row = conn.execute(
                "SELECT points FROM floor_purchases WHERE transaction_id = %s",
                (transaction_id,),
            ).fetchone()
            return {"transaction_id": transaction_id, "points_earned": row[0] if row else 0}
        balance = conn.execute(
            "UPDATE floor_balances SET points = points + %s WHERE member_id = %s RETURNING points",
            (points, member_id),
        ).fetchone()
        conn.execute(
            "INSERT INTO floor_entries (member_id, transaction_id, points) VALUES (%s, %s, %s)",
            (member_id, transaction_id, points),
        )
    return {
        "transaction_id": transaction_id,
        "points_earned": points,
        "balance": balance[0] if balance else 0,
    }


def balance(conn: psycopg.Connection, member_id: str) -> dict[str, Any] | None:
    """The member's balance; None for a member the floor has no row of."""
    with conn.transaction():
        row = conn.execute(
            "SELECT points FROM floor_balances WHERE member_id = %s", (member_id,)
        ).fetchone()
    return None if row is None else {"member_id": member_id, "available": row[0]}

"""The reconcile check: replays every event into a scratch copy of the member view and compares
it with the live one, member by member. Any difference is drift (a lost or doubled event)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence

from services.campaigns import repository
from services.campaigns.feeds import MemberView
from services.campaigns.models import MIGRATIONS, Feedback
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database
from services.runtime.event_feed import Feed

COMPARED = (
    "purchase_count",
    "total_spend_minor",
    "refund_count",
    "refunded_minor",
    "points",
    "tier",
    "consent_sms",
    "consent_email",
    "city",
    "birth_month",
    "last_rating",
    "erased",
    "merged_into",
)


def _rows(database: Database) -> dict[uuid.UUID, tuple]:
    with database.read() as session:
        return repository.compared_rows(session, COMPARED)


def reconcile(database: Database, feeds: Sequence[Feed], rules: Lifecycle) -> list[str]:
    """The members whose live view differs from a replay of every event (empty: no drift)."""
    live = MemberView(database, feeds, rules)
    with tempfile.TemporaryDirectory() as directory:
        scratch = Database(f"sqlite:///{directory}/scratch.db")
        try:
            scratch.migrate(MIGRATIONS, "campaigns")
            with database.read() as session:
                feedback = [
                    {c.name: getattr(f, c.name) for c in Feedback.__table__.columns}
                    for f in repository.all_feedback(session)
                ]
            with scratch.write() as session:
                repository.insert_feedback(session, feedback)
            replay = MemberView(scratch, feeds, rules)
            replay.rebuild()
            findings: list[str] = []
            for _ in range(2):  # events that arrive meanwhile settle on the second pass
                live.catch_up()
                replay.catch_up()
                expected, actual = _rows(scratch), _rows(database)
                findings = [
                    f"{member_id}: {dict(zip(COMPARED, actual.get(member_id) or (), strict=False))}"
                    f" but the events say {dict(zip(COMPARED, row, strict=False))}"
                    for member_id, row in expected.items()
                    if actual.get(member_id) != row
                ] + [f"{m}: in the view but in no event" for m in actual.keys() - expected.keys()]
                if not findings:
                    break
            return findings
        finally:
            scratch.dispose()

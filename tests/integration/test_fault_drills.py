"""The fault drills in their short form: under till load, points and identity are killed,
Redis and campaigns stopped, PostgreSQL restarted; afterwards nothing is lost or doubled."""

from __future__ import annotations

from pathlib import Path

from bench import drills
from tests.support import needs_private_servers


def test_every_drill_ends_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    needs_private_servers()

    outcomes = drills.run(tmp_path, drills.SHORT)
    print(drills.table(outcomes))

    assert [o.drill for o in outcomes] == list(drills.DRILLS)
    for outcome in outcomes:
        assert outcome.purchases > 0, f"{outcome.drill}: the tills sold nothing"
        assert outcome.unexpected == [], outcome.drill
        assert (outcome.lost, outcome.doubled) == (0, 0), outcome.drill
        assert outcome.replays_differing == 0, outcome.drill
        assert outcome.books_balance, outcome.drill
    by_name = {o.drill: o for o in outcomes}
    assert by_name["stop-redis"].errors == 0, "a till saw an error while Redis was down"
    assert by_name["stop-campaigns"].errors == 0, "a till saw an error while campaigns was down"

"""Two replicas of points and of campaigns: the tills' calls are shared between them, and a
replica killed under load loses and doubles nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bench import drills, replicas
from tests.support import needs_private_servers


def test_replicas_share_the_calls_and_one_killed_loses_nothing(tmp_path: Path) -> None:
    needs_private_servers()

    site = drills.open_site(tmp_path, **drills.REPLICATED)
    try:
        api_key, members = drills.new_store(site, 12)
        load = drills.Load(site.suite.gateway_url, api_key, members)
        before = replicas.counts(site.suite)
        stop = threading.Event()
        tills = [threading.Thread(target=load.till, args=(n, stop)) for n in range(4)]
        for till in tills:
            till.start()
        time.sleep(4)
        stop.set()
        for till in tills:
            till.join(drills.MUTATION_DEADLINE)
        spread = replicas.shares(before, replicas.counts(site.suite))
        print(replicas.describe(spread))
        assert set(spread) == {"points", "campaigns"}
        for service, by_replica in spread.items():
            assert len(by_replica) == 2, service
            for name, share in by_replica.items():
                assert 0.35 <= share <= 0.65, f"{name} served {share:.0%} of {service}'s calls"

        outcome = drills.run_drill(site, "kill-points-replica", drills.SHORT)
    finally:
        drills.close_site(site)
    print(drills.table([outcome]))
    assert outcome.purchases > 0
    assert outcome.unexpected == []
    assert (outcome.lost, outcome.doubled, outcome.replays_differing) == (0, 0, 0)
    assert outcome.books_balance

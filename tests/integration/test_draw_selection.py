"""A prize draw's winners are a function of the seed and the entries alone: re-run in another
process from the published document, they come out the same, and a seed that does not match the
commitment, or winners that are not the seed's, are caught."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

from deploy.local import ROOT
from services.campaigns import draw_selection
from services.campaigns.draw_selection import Entry, Prize, Winner, commitment, pick_winners

PRIZES = [Prize("bicycle", 1), Prize("voucher", 3)]


def entries(count: int, rng: random.Random) -> list[Entry]:
    return [
        Entry(str(uuid.UUID(int=rng.getrandbits(128))), rng.randint(1, 9)) for _ in range(count)
    ]


def by_walking(seed: str, given: list[Entry], prizes: list[Prize]) -> list[Winner]:
    """The documented rule, step by step over a list: what the tree must agree with."""
    left = sorted((e for e in given if e.chances), key=lambda e: e.member_id)
    blocks = draw_selection._blocks(bytes.fromhex(seed))
    winners = []
    for prize in prizes:
        for _ in range(prize.count):
            if not left:
                return winners
            chance = draw_selection._below(blocks, sum(e.chances for e in left))
            position = 0
            while chance >= left[position].chances:
                chance -= left[position].chances
                position += 1
            winners.append(Winner(left.pop(position).member_id, prize.name))
    return winners


def document(seed: str, given: list[Entry], winners: list[Winner] | None = None) -> dict:
    shown = {
        "seed_sha256": commitment(seed),
        "prizes": [{"name": p.name, "count": p.count} for p in PRIZES],
        "entries": [{"member_id": e.member_id, "chances": e.chances} for e in given],
    }
    if winners is not None:
        shown["winners"] = [{"member_id": w.member_id, "prize": w.prize} for w in winners]
    return shown


def verify_elsewhere(path: Path, seed: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "services.campaigns.draw_selection", "verify", str(path)]
    return subprocess.run(
        [*command, seed], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_tree_picks_as_the_documented_walk_does() -> None:
    rng = random.Random(7)
    for round_ in range(30):
        seed = draw_selection.new_seed()
        given = entries(rng.randint(1, 40), rng)
        given[0] = Entry(given[0].member_id, 0)  # no chances: never drawn
        prizes = [Prize("first", 1), Prize("second", rng.randint(1, 50))]
        winners = pick_winners(seed, given, prizes)
        assert winners == by_walking(seed, given, prizes), round_
        drawn = [w.member_id for w in winners]
        assert len(set(drawn)) == len(drawn) == min(sum(p.count for p in prizes), len(given) - 1)
        assert given[0].member_id not in drawn


def test_another_process_without_a_database_draws_the_same_winners(tmp_path: Path) -> None:
    seed = draw_selection.new_seed()
    given = entries(2000, random.Random(11))
    winners = pick_winners(seed, given, PRIZES)
    assert len(winners) == 4
    shuffled = random.Random(3).sample(given, len(given))  # published in any order
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(document(seed, shuffled, winners)))
    rerun = verify_elsewhere(path, seed)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert json.loads(rerun.stdout.splitlines()[0]) == document(seed, [], winners)["winners"]


def test_a_seed_that_is_not_the_committed_one_or_other_winners_are_caught(
    tmp_path: Path,
) -> None:
    seed = draw_selection.new_seed()
    given = entries(50, random.Random(5))
    winners = pick_winners(seed, given, PRIZES)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(document(seed, given, winners)))
    other = draw_selection.new_seed()
    refused = verify_elsewhere(path, other)
    assert refused.returncode == 1
    assert "does not match the published seed_sha256" in refused.stdout
    # The committed seed, but winners someone picked by hand.
    changed = [Winner(given[0].member_id, "bicycle"), *winners[1:]]
    if changed == winners:
        changed = [Winner(given[1].member_id, "bicycle"), *winners[1:]]
    path.write_text(json.dumps(document(seed, given, changed)))
    altered = verify_elsewhere(path, seed)
    assert altered.returncode == 1 and "winners differ" in altered.stdout

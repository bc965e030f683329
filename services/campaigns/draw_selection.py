"""How a prize draw picks its winners: a deterministic function of a secret seed and the
published entries, so that anyone can re-run it, and a command that does so with no database.

At a draw's creation the club picks a random 32-byte seed and publishes only its commitment,
the SHA-256 of the seed's bytes. At closing it reveals the seed; the winners are then fixed:

1. The entries are sorted by member id; each has a number of chances (its weight).
2. The prizes are taken in the order given, each as many times as its count.
3. For each prize a member is drawn with probability proportional to their chances among those
   not yet drawn (one prize per member). The random numbers are the blocks
   HMAC-SHA256(seed, counter), the counter an 8-byte big-endian integer from 0 up, each read as
   a 256-bit big-endian integer; a number is used for a draw below `n` only if it falls below
   the largest multiple of `n` (else the next block is taken), so no member is favoured by the
   remainder. Its remainder modulo `n` is a chance, counted from the first entry's first.

`python -m services.campaigns.draw_selection verify draw.json SEED` re-runs a draw from the
document `GET /v1/marketing/draws/{id}/entries` answers (`seed_sha256`, `prizes`, `entries`,
and `winners` once closed): it prints the winners and exits 1 when the seed does not match the
commitment or the winners differ from the published ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SEED_BYTES = 32
_SPACE = 1 << 256


@dataclass(frozen=True)
class Entry:
    member_id: str
    chances: int


@dataclass(frozen=True)
class Prize:
    name: str
    count: int


@dataclass(frozen=True)
class Winner:
    member_id: str
    prize: str


def commitment(seed: str) -> str:
    """The SHA-256 (hex) of the seed's bytes, published before the draw closes."""
    return hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def _blocks(seed: bytes) -> Iterator[int]:
    counter = 0
    while True:
        digest = hmac.new(seed, counter.to_bytes(8, "big"), hashlib.sha256).digest()
        yield int.from_bytes(digest, "big")
        counter += 1


def _below(blocks: Iterator[int], n: int) -> int:
    """A uniform integer in [0, n), by rejection sampling."""
    limit = _SPACE - _SPACE % n
    for block in blocks:
        if block < limit:
            return block % n
    raise AssertionError("unreachable")


class _Chances:
    """A Fenwick tree of the entries' chances: the entry a chance falls in, and removing an
    entry, in log time, so a draw over 100,000 entries picks fast."""

    def __init__(self, weights: Sequence[int]) -> None:
        self._size = len(weights)
        self._tree = [0, *weights]
        # Built in linear time: each node passes its sum up to its parent once.
        for index in range(1, self._size + 1):
            parent = index + (index & -index)
            if parent <= self._size:
                self._tree[parent] += self._tree[index]
        self.total = sum(weights)
        self._step = 1 << self._size.bit_length()

    def _add(self, index: int, delta: int) -> None:
        index += 1
        while index <= self._size:
            self._tree[index] += delta
            index += index & -index

    def find(self, chance: int) -> int:
        """The entry whose chances hold the `chance`-th one (0-based)."""
        position, step = 0, self._step
        while step:
            following = position + step
            if following <= self._size and self._tree[following] <= chance:
                position = following
                chance -= self._tree[following]
            step >>= 1
        return position

    def remove(self, index: int, weight: int) -> None:
        self._add(index, -weight)
        self.total -= weight


def pick_winners(seed: str, entries: Sequence[Entry], prizes: Sequence[Prize]) -> list[Winner]:
    ordered = sorted((e for e in entries if e.chances > 0), key=lambda e: e.member_id)
    chances = _Chances([e.chances for e in ordered])
    blocks = _blocks(bytes.fromhex(seed))
    winners = []
    for prize in prizes:
        for _ in range(prize.count):
            if chances.total == 0:
                return winners
            index = chances.find(_below(blocks, chances.total))
            winners.append(Winner(ordered[index].member_id, prize.name))
            chances.remove(index, ordered[index].chances)
    return winners


def new_seed() -> str:
    """A draw's secret seed, hex: 32 bytes from the operating system's secure generator."""
    return secrets.token_hex(SEED_BYTES)


def verify(document: dict, seed: str) -> tuple[list[Winner], list[str]]:
    """The winners the document's entries and the seed give, and what does not match."""
    problems = []
    if commitment(seed) != document["seed_sha256"]:
        problems.append("the seed does not match the published seed_sha256")
    entries = [Entry(e["member_id"], int(e["chances"])) for e in document["entries"]]
    prizes = [Prize(p["name"], int(p["count"])) for p in document["prizes"]]
    winners = pick_winners(seed, entries, prizes)
    published = document.get("winners")
    if published is not None and [Winner(w["member_id"], w["prize"]) for w in published] != (
        winners
    ):
        problems.append("the published winners differ from the ones the seed gives")
    return winners, problems


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3 or argv[0] != "verify":
        print("usage: python -m services.campaigns.draw_selection verify draw.json SEED")
        return 2
    try:
        document = json.loads(Path(argv[1]).read_text())
        winners, problems = verify(document, argv[2].strip())
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot verify: {error}")
        return 2
    print(json.dumps([{"member_id": w.member_id, "prize": w.prize} for w in winners]))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Fault drills: tills keep selling while a part of the suite fails, then the books are proved.

    python -m bench.drills [--short]        (`make drills`; the short form runs in `make test`)

The suite runs on a PostgreSQL server and a Redis of its own (so the drills can restart them
without touching the machine's). Tills identify members by phone, record purchases with items,
read balances and redeem points (hold, then capture), each mutation retried with the same id
and body until the club answers, as a till does. Under that load each drill in turn kills or
stops one part and brings it back:

- kill-points, kill-identity: SIGKILL of the service process, restarted after the outage;
- stop-redis: Redis killed, the suite runs without its cache, then a new empty Redis;
- stop-campaigns: campaigns stopped, purchases earn their base points meanwhile;
- restart-postgres: a fast restart of the database server, every connection cut;
- kill-points-replica: with two replicas of points and of campaigns, SIGKILL of one points
  replica; the calls go to the other until it is back (`--replicas`, and in `make test`).

Afterwards every purchase and redemption is sent again with its id and body and must return
the first answer byte for byte, each member's balance must equal what the answers promised, no
purchase may have been posted twice or not at all, and `python -m services.points check` must
find the books balanced. The table names each drill's errors as the tills saw them.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from deploy.local import (
    PrivatePostgres,
    Suite,
    free_port,
    start_isolated,
    start_private_redis,
)

MUTATION_DEADLINE = 90.0


@dataclass(frozen=True)
class Timing:
    """Seconds of load before the fault, of outage, and after recovery."""

    before: float
    outage: float
    after: float
    tills: int
    members: int


SHORT = Timing(before=2.0, outage=2.0, after=2.0, tills=3, members=12)
FULL = Timing(before=10.0, outage=10.0, after=15.0, tills=6, members=40)


@dataclass
class Site:
    """The suite under drill and the servers it depends on."""

    suite: Suite
    postgres: PrivatePostgres
    redis_port: int
    redis: subprocess.Popen | None


@dataclass
class Record:
    """What one till call was sent and first answered."""

    path: str
    body: dict
    answer: dict | None = None
    # Answered with a refusal (422): nothing was applied, nothing to replay.
    refused: bool = False


@dataclass
class Load:
    """The tills' traffic: what they sent, what they were answered, and what failed."""

    gateway: str
    api_key: str
    members: list[tuple[str, str]]
    calls: int = 0
    errors: int = 0
    unexpected: list[str] = field(default_factory=list)
    purchases: list[Record] = field(default_factory=list)
    holds: list[Record] = field(default_factory=list)
    captured: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _send(self, session: requests.Session, method: str, path: str, body: dict | None):
        try:
            response = session.request(method, self.gateway + path, json=body, timeout=10)
        except requests.RequestException:
            response = None
        with self.lock:
            self.calls += 1
            if response is None or response.status_code >= 500:
                self.errors += 1
        return response

    def _until_answered(
        self, session: requests.Session, path: str, body: dict | None, accept: tuple[int, ...]
    ) -> requests.Response | None:
        """The till's retry loop: the same call until the club answers it."""
        deadline = time.monotonic() + MUTATION_DEADLINE
        while time.monotonic() < deadline:
            response = self._send(session, "POST", path, body)
            if response is not None and response.status_code < 500:
                if response.status_code not in accept:
                    with self.lock:
                        self.unexpected.append(f"POST {path}: {response.status_code}")
                return response
            time.sleep(0.1)
        with self.lock:
            self.unexpected.append(f"POST {path}: never answered")
        return None

    def till(self, number: int, stop: threading.Event) -> None:
        rng = random.Random(number)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.api_key}"
        visit = 0
        while not stop.is_set():
            visit += 1
            member_id, phone = rng.choice(self.members)
            self._send(session, "GET", f"/v1/members/identify?phone={phone}", None)
            body = purchase_body(rng, member_id)
            record = Record("/v1/purchases", body)
            with self.lock:
                self.purchases.append(record)
            response = self._until_answered(session, record.path, body, (201,))
            if response is not None and response.status_code == 201:
                record.answer = response.json()
            balance = self._send(session, "GET", f"/v1/members/{member_id}/points", None)
            can_redeem = balance is not None and balance.status_code == 200
            if visit % 3 == 0 and can_redeem and balance.json()["available"] >= 5:
                self._redeem(session, rng, member_id)

    def _redeem(self, session: requests.Session, rng: random.Random, member_id: str) -> None:
        body = {"redemption_id": f"R-{uuid.uuid4().hex[:16]}", "member_id": member_id}
        body["points"] = rng.randint(1, 5)
        record = Record("/v1/redemptions", body)
        with self.lock:
            self.holds.append(record)
        # Another till may have spent the points meanwhile: 422 is an answer, not an error.
        response = self._until_answered(session, record.path, body, (201, 422))
        if response is not None and response.status_code == 422:
            record.refused = True
        if response is None or response.status_code != 201:
            return
        record.answer = response.json()
        capture = f"/v1/redemptions/{body['redemption_id']}/capture"
        if self._until_answered(session, capture, None, (200,)) is not None:
            with self.lock:
                self.captured[body["redemption_id"]] = body["points"]


def purchase_body(rng: random.Random, member_id: str) -> dict:
    items = [
        {
            "sku": f"SKU-{rng.randint(1, 500)}",
            "category": rng.choice(["dairy", "bakery", "produce", "household"]),
            "quantity": rng.randint(1, 3),
            "unit_price": str(rng.randint(1, 10) * 10000),
        }
        for _ in range(rng.randint(1, 4))
    ]
    amount = sum(item["quantity"] * int(item["unit_price"]) for item in items)
    return {
        "transaction_id": f"T-{uuid.uuid4().hex[:16]}",
        "member_id": member_id,
        "amount": str(amount),
        "currency": "IRR",
        "items": items,
    }


@dataclass
class Outcome:
    drill: str
    calls: int
    errors: int
    purchases: int
    redemptions: int
    lost: int
    doubled: int
    replays_differing: int
    books_balance: bool
    unexpected: list[str]

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.doubled == 0
            and self.replays_differing == 0
            and self.books_balance
            and not self.unexpected
        )


def kill(process_name: str, module: str) -> Callable[[Site, float], None]:
    """SIGKILL of the process and its workers (its whole group, as a crashed container), then
    a new one after the outage."""

    def drill(site: Site, outage: float) -> None:
        process = site.suite.processes[process_name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        time.sleep(outage)
        site.suite.start_process(process_name, module)

    return drill


def stop_campaigns(site: Site, outage: float) -> None:
    process = site.suite.processes["campaigns"]
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    time.sleep(outage)
    site.suite.start_process("campaigns", "services.campaigns")


def stop_redis(site: Site, outage: float) -> None:
    assert site.redis is not None
    site.redis.send_signal(signal.SIGKILL)
    site.redis.wait(10)
    time.sleep(outage)
    # A cache that comes back empty is always safe (see README, "Cache").
    site.redis = start_private_redis(site.redis_port)


def restart_postgres(site: Site, outage: float) -> None:
    site.postgres.restart()
    time.sleep(outage)


DRILLS: dict[str, Callable[[Site, float], None]] = {
    "kill-points": kill("points", "services.points"),
    "kill-identity": kill("identity", "services.identity"),
    "stop-redis": stop_redis,
    "stop-campaigns": stop_campaigns,
    "restart-postgres": restart_postgres,
}
# Run on a suite with two processes of points and of campaigns.
REPLICA_DRILLS: dict[str, Callable[[Site, float], None]] = {
    "kill-points-replica": kill("points-2", "services.points"),
}
REPLICATED = {"POINTS_REPLICAS": "2", "CAMPAIGNS_REPLICAS": "2"}


def open_site(directory: Path, **extra_env: str) -> Site:
    postgres = PrivatePostgres()
    postgres.start()
    redis_port = free_port()
    redis = start_private_redis(redis_port)
    try:
        urls = postgres.create_databases("identity", "points", "campaigns")
        suite = start_isolated(
            directory,
            urls,
            f"redis://127.0.0.1:{redis_port}/0",
            "drills",
            GATEWAY_RPC_TIMEOUT="2",
            POINTS_JOB_INTERVAL="0",
            **extra_env,
        )
    except Exception:
        redis.kill()
        postgres.stop()
        raise
    return Site(suite, postgres, redis_port, redis)


def close_site(site: Site) -> None:
    site.suite.stop()
    if site.redis is not None and site.redis.poll() is None:
        site.redis.kill()
        site.redis.wait()
    site.postgres.stop()


def new_store(site: Site, members: int) -> tuple[str, list[tuple[str, str]]]:
    """A store's POS key and `members` members enrolled at its till: (id, phone)."""
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {site.suite.env['LOYALTY_ADMIN_TOKEN']}"
    url = site.suite.gateway_url
    store = admin.post(url + "/v1/admin/stores", json={"name": "drill store"}, timeout=10)
    store.raise_for_status()
    key = admin.post(url + f"/v1/admin/stores/{store.json()['id']}/api-keys", timeout=10)
    key.raise_for_status()
    api_key = key.json()["api_key"]
    pos = requests.Session()
    pos.headers["Authorization"] = f"Bearer {api_key}"
    enrolled = []
    for _ in range(members):
        phone = f"0912{random.randrange(10**7):07d}"
        member = pos.post(url + "/v1/members", json={"phone": phone}, timeout=10)
        if member.status_code == 409:
            continue
        member.raise_for_status()
        enrolled.append((member.json()["id"], phone))
    return api_key, enrolled


def run_drill(site: Site, name: str, timing: Timing) -> Outcome:
    api_key, members = new_store(site, timing.members)
    load = Load(site.suite.gateway_url, api_key, members)
    stop = threading.Event()
    tills = [
        threading.Thread(target=load.till, args=(n, stop), daemon=True) for n in range(timing.tills)
    ]
    for till in tills:
        till.start()
    time.sleep(timing.before)
    {**DRILLS, **REPLICA_DRILLS}[name](site, timing.outage)
    site.suite.wait_ready(120)
    time.sleep(timing.after)
    stop.set()
    for till in tills:
        till.join(MUTATION_DEADLINE + 30)
    return verify(site, name, load)


def verify(site: Site, name: str, load: Load) -> Outcome:
    """Replays every call, compares balances with the answers, counts postings per purchase
    and audits the books."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {load.api_key}"
    url = site.suite.gateway_url
    differing = 0
    for record in load.purchases + load.holds:
        if record.refused:
            continue
        again = session.post(url + record.path, json=record.body, timeout=30)
        if record.answer is None:  # the till gave up: the replay gives the answer
            record.answer = again.json() if again.status_code == 201 else None
        elif again.status_code != 201 or again.json() != record.answer:
            differing += 1
    promised: dict[str, int] = {member_id: 0 for member_id, _ in load.members}
    for record in load.purchases:
        if record.answer is not None:
            promised[record.body["member_id"]] += record.answer["points_earned"]
    for record in load.holds:
        if record.body["redemption_id"] in load.captured:
            promised[record.body["member_id"]] -= record.body["points"]
    lost = doubled = 0
    for member_id, points in promised.items():
        balance = session.get(url + f"/v1/members/{member_id}/points", timeout=30).json()
        held = balance["held"]
        lost += max(0, points - balance["available"] - held)
        doubled += max(0, balance["available"] + held - points)
    lost_ids, doubled_ids = postings_per_purchase(site, load)
    check = site.suite.run_module("services.points", "check")
    return Outcome(
        drill=name,
        calls=load.calls,
        errors=load.errors,
        purchases=len(load.purchases),
        redemptions=len(load.captured),
        lost=lost + lost_ids,
        doubled=doubled + doubled_ids,
        replays_differing=differing,
        books_balance=check.returncode == 0,
        unexpected=load.unexpected,
    )


def postings_per_purchase(site: Site, load: Load) -> tuple[int, int]:
    """Purchases answered with points but never posted, and purchases posted more than once."""
    url = site.suite.env["POINTS_DATABASE_URL"]
    ids = [
        r.body["transaction_id"] for r in load.purchases if r.answer and r.answer["points_earned"]
    ]
    with psycopg.connect(url) as conn:
        counts = dict(
            conn.execute(
                "SELECT source_id, COUNT(*) FROM postings"
                " WHERE kind = 'earn' AND source_type = 'pos' AND source_id = ANY(%s)"
                " GROUP BY source_id",
                (ids,),
            ).fetchall()
        )
    lost = sum(1 for i in ids if i not in counts)
    doubled = sum(1 for count in counts.values() if count > 1)
    return lost, doubled


def run(directory: Path, timing: Timing, names: list[str] | None = None) -> list[Outcome]:
    site = open_site(directory)
    try:
        return [run_drill(site, name, timing) for name in names or list(DRILLS)]
    finally:
        close_site(site)


def run_replicated(directory: Path, timing: Timing) -> list[Outcome]:
    """The replica drills, on a suite running two processes of points and of campaigns."""
    site = open_site(directory, **REPLICATED)
    try:
        return [run_drill(site, name, timing) for name in REPLICA_DRILLS]
    finally:
        close_site(site)


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], notes: Iterable[str] = ()
) -> str:
    """A Markdown table, then any notes under it, one a line."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join([*lines, *notes])


def books(balanced: bool) -> str:
    return "balance" if balanced else "DO NOT balance"


def table(outcomes: list[Outcome]) -> str:
    header = (
        "drill", "POS calls", "errors seen by POS", "purchases", "redemptions",
        "lost", "doubled", "replays differing", "books",
    )  # fmt: skip
    rows = [
        (o.drill, o.calls, o.errors, o.purchases, o.redemptions, o.lost, o.doubled,
         o.replays_differing, books(o.books_balance))
        for o in outcomes
    ]  # fmt: skip
    notes = [f"{o.drill}: unexpected answer {p}" for o in outcomes for p in o.unexpected[:5]]
    return markdown_table(header, rows, notes)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills")
    parser.add_argument("--short", action="store_true", help="seconds per drill, not tens")
    parser.add_argument(
        "--replicas", action="store_true", help="also the drills on replicated services"
    )
    parser.add_argument("drills", nargs="*", choices=[[], *DRILLS], help="default: all")
    args = parser.parse_args()
    timing = SHORT if args.short else FULL
    with tempfile.TemporaryDirectory(prefix="loyalty-drills-") as directory:
        outcomes = run(Path(directory) / "single", timing, args.drills or None)
        if args.replicas:
            outcomes += run_replicated(Path(directory) / "replicated", timing)
    print(table(outcomes))
    redis = [o for o in outcomes if o.drill == "stop-redis"]
    ok = all(o.passed for o in outcomes) and all(o.errors == 0 for o in redis)
    print("every drill: 0 lost, 0 doubled" if ok else "A DRILL FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

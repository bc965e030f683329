"""Load benchmark: the running suite on PostgreSQL under till traffic, against its floors.

    python -m bench.load [--members 1000000] [--entries 10000000] [--seconds 20] [--replicas 2]

Starts the suite on fresh databases of the PostgreSQL at LOYALTY_BENCH_PG (default the
machine's), with `--replicas` processes of points and of campaigns (the others one each), fills
them with the scale data (bench.scale_data), launches one campaign (dairy earns double: a club
always has one live, so every purchase is evaluated against it) and drives the suite in phases:

1. mixed (Python asyncio client, bench.http_client): tills visit members chosen with
   Zipf-skewed activity: identify by phone, a purchase with items, the balance, now and then a
   ledger page, and every fourth visit a redemption hold then capture;
2. purchases only, as fast as the suite answers (wrk, closed loop, 1 thread, 16 connections,
   each purchase with its own transaction id): the maximum purchase rate, and how the calls to
   each replicated service were shared between its processes (their /metrics);
3. purchases at half that rate (open loop from the Python client, latency counted from each
   call's planned start), once points' event consumers have applied what the maximum rate left
   them (how long that took is reported): the phase measures the half rate, not the recovery;
4. balance reads only, as fast as the suite answers (wrk).

In the same run it measures the floors (bench.floor) with the same wrk script: a purchase's
essential work in one PostgreSQL transaction, one SELECT of a balance, and a bare route, each
a Flask route under the gateway's own gunicorn settings. It prints a table with throughput and
p50/p99 per operation and phase, the ratios to the floors against the targets, and writes
bench-results/results.md, bench-results/latency.png and the processes' logs
(bench-results/logs/).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psycopg

from bench import floor, http_client, replicas, scale_data, wrk
from deploy.local import ROOT, SERVICES, Suite, free_port, start_isolated
from services.runtime.config import Env

ADMIN_URL = Env().str("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = Env().str("LOYALTY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
RESULTS = ROOT / "bench-results"
CONCURRENCY = 32
LOAD_ZIPF_S = 0.8
# What the suite must reach, as a share of its floor, and its p99 at half its maximum rate.
PURCHASE_TARGET = 0.3
BALANCE_TARGET = 0.45
P99_TARGET_MS = 50.0
# How long the half-rate phase waits for points' event consumers to catch up, at most.
CATCH_UP_LIMIT = 120.0
# The suite's shape with nothing but the floor's work in it (bench.floor, bench.relay).
RELAYED_PURCHASE = "purchase after two gRPC hops"
RELAYED_BALANCE = "balance read after one gRPC hop"


@dataclass
class Samples:
    """Every call: operation, phase, start (seconds since the run began), latency, success."""

    origin: float = field(default_factory=time.perf_counter)
    rows: list[tuple[str, str, float, float, bool]] = field(default_factory=list)
    phase: str = ""
    # Why calls failed: (operation, HTTP status or error name) -> count.
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)

    def start_phase(self, name: str) -> None:
        self.phase = name
        # The client's own full collections walked every sample so far, pausing the calls in
        # flight for up to 0.1 s and counting that against the suite: the samples kept are
        # left out of the collector's sight.
        gc.freeze()

    def add(self, operation: str, started: float, ok: bool, why: str = "") -> None:
        now = time.perf_counter()
        self.rows.append((operation, self.phase, started - self.origin, now - started, ok))
        if not ok:
            self.failures[(operation, why)] += 1

    def of(self, phase: str, operation: str) -> tuple[np.ndarray, int]:
        ok = [r[3] for r in self.rows if r[1] == phase and r[0] == operation and r[4]]
        failed = sum(1 for r in self.rows if r[1] == phase and r[0] == operation and not r[4])
        return np.array(ok), failed


class Tills:
    """Calls the club as tills do, recording each call."""

    client: http_client.Client

    def __init__(self, samples: Samples, members: int) -> None:
        self.samples = samples
        weights = 1.0 / np.arange(1, members + 1, dtype=np.float64) ** LOAD_ZIPF_S
        rng = np.random.default_rng(11)
        self._picks = rng.choice(members, size=200_000, p=weights / weights.sum())
        self._next = 0
        self._rng = np.random.default_rng(13)

    def picks(self, count: int) -> list[int]:
        """The members of the first `count` visits."""
        return [int(i) for i in self._picks[:count]]

    def member(self) -> int:
        self._next = (self._next + 1) % len(self._picks)
        return int(self._picks[self._next])

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        json: dict | None = None,
        ok: int = 200,
        planned: float | None = None,
    ) -> http_client.Response | None:
        """One call; its latency counts from `planned` when given (open loop), else from now."""
        started = planned if planned is not None else time.perf_counter()
        try:
            response = await self.client.request(method, path, json=json)
        except http_client.ERRORS as error:
            self.samples.add(operation, started, False, type(error).__name__)
            return None
        why = f"{response.status_code} {_code(response)}"
        self.samples.add(operation, started, response.status_code == ok, why)
        return response

    async def identify(self, i: int) -> None:
        await self.call("identify", "GET", f"/v1/members/identify?phone={scale_data.phone(i)}")

    async def purchase(self, i: int, planned: float | None = None) -> None:
        count = int(self._rng.integers(1, 6))
        items = [
            {
                "sku": f"SKU-{int(self._rng.integers(1, 5000))}",
                "category": ["dairy", "bakery", "produce", "household"][int(self._rng.integers(4))],
                "quantity": int(self._rng.integers(1, 4)),
                "unit_price": str(int(self._rng.integers(1, 40)) * 10000),
            }
            for _ in range(count)
        ]
        amount = sum(item["quantity"] * int(item["unit_price"]) for item in items)
        body = {
            "transaction_id": f"B-{uuid.uuid4().hex[:20]}",
            "member_id": str(scale_data.member_id(i)),
            "amount": str(amount),
            "currency": "IRR",
            "items": items,
        }
        await self.call("purchase", "POST", "/v1/purchases", body, ok=201, planned=planned)

    async def balance(self, i: int) -> None:
        await self.call("balance", "GET", f"/v1/members/{scale_data.member_id(i)}/points")

    async def ledger(self, i: int) -> None:
        path = f"/v1/members/{scale_data.member_id(i)}/ledger?limit=20"
        await self.call("ledger page", "GET", path)

    async def redeem(self, i: int) -> None:
        redemption = f"R-{uuid.uuid4().hex[:20]}"
        body = {"redemption_id": redemption, "member_id": str(scale_data.member_id(i))}
        body["points"] = int(self._rng.integers(1, 6))
        held = await self.call("hold", "POST", "/v1/redemptions", body, ok=201)
        if held is not None and held.status_code == 201:
            await self.call("capture", "POST", f"/v1/redemptions/{redemption}/capture")

    async def visit(self, number: int) -> None:
        i = self.member()
        await self.identify(i)
        await self.purchase(i)
        await self.balance(i)
        if number % 10 == 0:
            await self.ledger(i)
        if number % 4 == 0:
            await self.redeem(i)


def _code(response: http_client.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.json().get("code", "")
    return ""


async def closed_loop(seconds: float, work: Callable[[int], Awaitable[None]]) -> None:
    """CONCURRENCY callers, each starting its next call when the last one is answered."""
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def caller() -> None:
        while time.perf_counter() < deadline:
            await work(next(counter))

    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))


async def open_loop(seconds: float, rate: float, work: Callable[[float], Awaitable[None]]) -> None:
    """Calls started at a fixed `rate` whether or not earlier ones were answered; each call's
    latency counts from its planned start, so a stall is not hidden (no coordinated omission)."""
    start = time.perf_counter()
    tasks = []
    n = 0
    while True:
        planned = start + n / rate
        if planned > start + seconds:
            break
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(work(planned)))
        n += 1
    await asyncio.gather(*tasks)


@dataclass
class Bench:
    suite: Suite
    members: int
    seconds: float
    directory: Path
    samples: Samples = field(default_factory=Samples)
    # The phases driven by wrk: (phase, operation, what it measured).
    driven: list[tuple[str, str, wrk.WrkRun]] = field(default_factory=list)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    # Seconds points' event consumers took to catch up after the maximum rate (None: not in
    # CATCH_UP_LIMIT seconds).
    caught_up_after: float | None = None

    def pos_key(self) -> str:
        admin = self._admin()
        store = admin.post("/v1/admin/stores", json={"name": "bench"}).json()["id"]
        return admin.post(f"/v1/admin/stores/{store}/api-keys").json()["api_key"]

    def launch_campaign(self) -> None:
        """A live campaign, as a club always has one: dairy earns double for everyone, so
        every purchase is evaluated against it and about half of them earn its bonus."""
        admin = self._admin()
        created = admin.post(
            "/v1/marketing/campaigns",
            json={
                "name": "Dairy double",
                "kind": "category_bonus",
                "multiplier": 2,
                "categories": ["dairy"],
            },
        )
        created.raise_for_status()
        admin.post(f"/v1/marketing/campaigns/{created.json()['id']}/launch").raise_for_status()

    def _admin(self) -> httpx.Client:
        token = self.suite.env["LOYALTY_ADMIN_TOKEN"]
        return httpx.Client(
            base_url=self.suite.gateway_url, headers={"Authorization": f"Bearer {token}"}
        )

    def ids_file(self, tills: Tills) -> Path:
        """The members wrk's tills visit, with the same Zipf skew as the Python tills."""
        path = self.directory / "member-ids.txt"
        path.write_text("".join(f"{scale_data.member_id(i)}\n" for i in tills.picks(50_000)))
        return path

    def wrk(self, phase: str, operation: str, run: Callable[[], wrk.WrkRun]) -> wrk.WrkRun:
        result = run()
        self.driven.append((phase, operation, result))
        print(f"{phase}, {operation}: {result.rate:,.0f}/s, p99 {result.p99_ms:.1f} ms", flush=True)
        return result

    async def run_suite_phases(self) -> None:
        self.launch_campaign()
        key = self.pos_key()
        tills = Tills(self.samples, self.members)
        ids = self.ids_file(tills)
        url = self.suite.gateway_url

        async def phase(name: str, run: Callable[[], Awaitable[None]]) -> None:
            # A fresh client per phase: it starts with no connection an earlier phase left.
            async with http_client.Client(url, key) as client:
                tills.client = client
                self.samples.start_phase(name)
                await run()

        self.wrk("warm-up", "purchase", lambda: wrk.run(url, "purchase", ids, 5, key))
        await phase("mixed", lambda: closed_loop(self.seconds, tills.visit))
        before = replicas.counts(self.suite)
        purchases = self.wrk(
            "purchases, max", "purchase", lambda: wrk.run(url, "purchase", ids, self.seconds, key)
        )
        self.shares = replicas.shares(before, replicas.counts(self.suite))
        self.caught_up_after = self.wait_caught_up()
        buy = tills.purchase
        await phase(
            "purchases, half rate",
            lambda: open_loop(
                self.seconds, purchases.rate / 2, lambda planned: buy(tills.member(), planned)
            ),
        )
        self.wrk("balance, max", "balance", lambda: wrk.run(url, "balance", ids, self.seconds, key))

    def wait_caught_up(self) -> float | None:
        """Seconds until points' event consumers have no events left to apply."""
        started = time.perf_counter()
        backlog: dict[str, float] = {}
        while time.perf_counter() - started < CATCH_UP_LIMIT:
            backlog = replicas.points_backlog(self.suite)
            if backlog and not any(backlog.values()):
                waited = time.perf_counter() - started
                print(f"points' event consumers caught up in {waited:.1f} s", flush=True)
                return waited
            time.sleep(0.25)
        print(f"points' event consumers still behind by {backlog} events", flush=True)
        return None

    def run_floors(self) -> None:
        """The floor routes (bench.floor) under the gateway's gunicorn settings, on a database
        of their own on the same PostgreSQL, driven by the same wrk script."""
        name = f"loyalty_bench_floor_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        port = free_port()
        env = {**self.suite.env, "GATEWAY_PORT": str(port), "GATEWAY_METRICS_PORT": "0"}
        env[floor.DATABASE_VARIABLE] = database
        relays = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
        env[floor.RELAYS_VARIABLE] = ",".join(relays)
        processes: list[subprocess.Popen] = []
        try:
            floor.create_schema(database, self.members)
            for listen, forward in zip(relays, [*relays[1:], ""], strict=True):
                command = [sys.executable, "-m", "bench.relay", listen, forward]
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
            command = [sys.executable, "-m", "bench.floor"]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
            url = f"http://127.0.0.1:{port}"
            wait_answering(url + "/ping")
            wait_answering(url + "/hops/2", status=200)
            ids = self.directory / "member-ids.txt"
            seconds = self.seconds
            self.wrk("floor", "purchase", lambda: wrk.run(url, "purchase", ids, seconds))
            self.wrk("floor", "balance", lambda: wrk.run(url, "balance", ids, seconds))
            self.wrk("floor", "bare route", lambda: wrk.run(url, "ping", ids, seconds))
            for hops, operation in ((1, "one gRPC hop"), (2, "two gRPC hops")):
                self.wrk("floor", operation, lambda h=hops: wrk.run(url, f"hop{h}", ids, seconds))
            for operation, mode in (
                (RELAYED_PURCHASE, "relayed-purchase"),
                (RELAYED_BALANCE, "relayed-balance"),
            ):
                self.wrk("floor", operation, lambda m=mode: wrk.run(url, m, ids, seconds))
        finally:
            # The floor before its relays: no call of its own is cut off mid-way.
            for process in reversed(processes):
                process.terminate()
                process.wait(20)
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_answering(url: str, status: int | None = None) -> None:
    """Until `url` answers (with `status`, when given)."""
    for _ in range(200):
        try:
            answered = httpx.get(url).status_code
            if status is None or answered == status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def create_databases() -> dict[str, str]:
    base = ADMIN_URL.rsplit("/", 1)[0]
    tag = uuid.uuid4().hex[:8]
    names = {service: f"loyalty_bench_{tag}_{service}" for service in SERVICES}
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for db in names.values():
            conn.execute(f'CREATE DATABASE "{db}"')
    return {service: f"{base}/{db}" for service, db in names.items()}


def settle(urls: dict[str, str]) -> None:
    """Vacuums the freshly written databases and checkpoints, as a club's would be long since:
    otherwise autovacuum and the checkpointer work through millions of new rows during the
    phases, and the run measures the bulk load instead of the suite."""
    for url in urls.values():
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def drop_databases(urls: dict[str, str]) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def percentiles(latencies: np.ndarray) -> tuple[float, float, float]:
    if len(latencies) == 0:
        return (float("nan"),) * 3  # type: ignore[return-value]
    p50, p95, p99 = np.percentile(latencies * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def report(bench: Bench, seeding: str) -> str:
    samples = bench.samples
    lines = [
        f"Scale data: {seeding}. Closed-loop phases and floors: wrk, {wrk.THREADS} thread,"
        f" {wrk.CONNECTIONS} connections; mixed: {CONCURRENCY} asyncio callers; half rate: calls"
        " started on a fixed schedule (both bench.http_client).",
        "",
        "| phase | operation | calls | per second | p50 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for phase in ("mixed", "purchases, half rate"):
        operations = dict.fromkeys(r[0] for r in samples.rows if r[1] == phase)
        for operation in operations:
            latencies, failed = samples.of(phase, operation)
            p50, _, p99 = percentiles(latencies)
            rate = len(latencies) / bench.seconds
            lines.append(
                f"| {phase} | {operation} | {len(latencies)} | {rate:,.0f}"
                f" | {p50:.1f} | {p99:.1f} | {failed} |"
            )
    rates = {}
    for phase, operation, run in bench.driven:
        rates[(phase, operation)] = run.rate
        if phase != "warm-up":
            lines.append(
                f"| {phase} | {operation} | {run.requests} | {run.rate:,.0f} | {run.p50_ms:.1f}"
                f" | {run.p99_ms:.1f} | {run.failed} |"
            )
    purchase_max = rates.get(("purchases, max", "purchase"), 0.0)
    purchase_ratio = purchase_max / rates.get(("floor", "purchase"), float("nan"))
    balance_ratio = rates.get(("balance, max", "balance"), 0.0) / rates.get(
        ("floor", "balance"), float("nan")
    )
    half, _ = samples.of("purchases, half rate", "purchase")
    half_p99 = percentiles(half)[2]
    targets = [
        (
            "purchases/s ÷ floor purchases/s",
            f"{purchase_ratio:.2f}",
            f"≥ {PURCHASE_TARGET}",
            purchase_ratio >= PURCHASE_TARGET,
        ),
        (
            f"purchase p99 at half the max rate ({purchase_max / 2:,.0f}/s)",
            f"{half_p99:.1f} ms",
            f"< {P99_TARGET_MS:.0f} ms",
            half_p99 < P99_TARGET_MS,
        ),
        (
            "balance reads/s ÷ floor balance reads/s",
            f"{balance_ratio:.2f}",
            f"≥ {BALANCE_TARGET}",
            balance_ratio >= BALANCE_TARGET,
        ),
    ]
    for service, by_replica in bench.shares.items():
        fair = all(0.35 <= share <= 0.65 for share in by_replica.values())
        shown = ", ".join(f"{name} {share:.0%}" for name, share in by_replica.items())
        targets.append((f"{service}: share of purchase calls", shown, "35-65 % each", fair))
    caught_up = bench.caught_up_after
    lines += [
        "",
        "Points' event consumers caught up "
        + (
            f"{caught_up:.1f} s after the maximum-rate phase; the half-rate phase started then."
            if caught_up is not None
            else f"not within {CATCH_UP_LIMIT:.0f} s of the maximum-rate phase."
        ),
    ]
    if samples.failures:
        lines += ["", "Failed calls by answer (Python client):"]
        lines += [f"- {op}: {why} × {n}" for (op, why), n in samples.failures.most_common(10)]
    lines += ["", "| target | measured | required | met |", "|---|---|---|---|"]
    for name, shown, required, met in targets:
        lines.append(f"| {name} | {shown} | {required} | {'yes' if met else 'NO'} |")
    lines += ["", *shape(rates)]
    return "\n".join(lines)


def shape(rates: dict[tuple[str, str], float]) -> list[str]:
    """What the suite's shape allows: routes that only cross its process boundaries (a balance
    read's one gRPC hop, a purchase's two), with nothing or only the floor's work at the end,
    against the floors and against the suite."""
    floor_purchases = rates.get(("floor", "purchase"), 0.0)
    floor_balances = rates.get(("floor", "balance"), 0.0)
    one = rates.get(("floor", "one gRPC hop"), 0.0)
    two = rates.get(("floor", "two gRPC hops"), 0.0)
    relayed_purchases = rates.get(("floor", RELAYED_PURCHASE), 0.0)
    relayed_balances = rates.get(("floor", RELAYED_BALANCE), 0.0)
    purchases = rates.get(("purchases, max", "purchase"), 0.0)
    balances = rates.get(("balance, max", "balance"), 0.0)
    rows = [
        ("two gRPC hops doing nothing ÷ floor purchases", two, floor_purchases),
        (f"the floor's {RELAYED_PURCHASE} ÷ floor purchases", relayed_purchases, floor_purchases),
        ("suite purchases ÷ two gRPC hops doing nothing", purchases, two),
        (f"suite purchases ÷ the floor's {RELAYED_PURCHASE}", purchases, relayed_purchases),
        ("one gRPC hop doing nothing ÷ floor balance reads", one, floor_balances),
        (f"the floor's {RELAYED_BALANCE} ÷ floor balance reads", relayed_balances, floor_balances),
        ("suite balance reads ÷ one gRPC hop doing nothing", balances, one),
        (f"suite balance reads ÷ the floor's {RELAYED_BALANCE}", balances, relayed_balances),
    ]
    lines = ["| the suite's shape | ratio |", "|---|---|"]
    for name, rate, base in rows:
        lines.append(f"| {name} | {rate / base:.2f} |" if base else f"| {name} | n/a |")
    return lines


def plot(samples: Samples, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(12, 6))
    operations = sorted({row[0] for row in samples.rows})
    for operation in operations:
        rows = [r for r in samples.rows if r[0] == operation and r[4]]
        axis.scatter(
            [r[2] for r in rows], [r[3] * 1000 for r in rows], s=2, alpha=0.4, label=operation
        )
    for phase in dict.fromkeys(r[1] for r in samples.rows):
        starts = [r[2] for r in samples.rows if r[1] == phase]
        axis.axvline(min(starts), color="grey", linewidth=0.8)
        axis.text(min(starts), 1.1, f" {phase}", rotation=90, fontsize=8, va="bottom")
    axis.set_yscale("log")
    axis.set_ylim(1, None)
    axis.set_xlabel("seconds since the start of the run")
    axis.set_ylabel("latency (ms, log scale)")
    axis.set_title("Loyalty club under till load: latency of every call")
    axis.legend(markerscale=6, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument(
        "--replicas", type=int, default=2, help="processes of points and of campaigns"
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    urls = create_databases()
    suite = None
    try:
        with tempfile.TemporaryDirectory(prefix="loyalty-bench-") as directory:
            suite = start_isolated(
                Path(directory),
                urls,
                REDIS_URL,
                f"bench-{uuid.uuid4().hex[:8]}",
                POINTS_REPLICAS=str(args.replicas),
                CAMPAIGNS_REPLICAS=str(args.replicas),
            )
            started = time.perf_counter()
            with psycopg.connect(urls["identity"]) as conn:
                scale_data.write_members(conn, args.members, suite.env["IDENTITY_PII_KEY"])
            with psycopg.connect(urls["points"]) as conn:
                scale_data.write_ledger(conn, args.members, args.entries)
            settle(urls)
            seeding = (
                f"{args.members:,} members, {args.entries:,} ledger entries,"
                f" written and vacuumed in {time.perf_counter() - started:.0f} s;"
                f" {args.replicas} processes of points and of campaigns"
            )
            print(seeding, flush=True)
            bench = Bench(suite, args.members, args.seconds, Path(directory))
            asyncio.run(bench.run_suite_phases())
            # The floors run with the suite stopped, as the suite ran without them.
            suite.stop()
            suite = None
            # The processes' logs, to look into failed calls afterwards.
            shutil.rmtree(RESULTS / "logs", ignore_errors=True)
            shutil.copytree(Path(directory) / "logs", RESULTS / "logs")
            bench.run_floors()
    finally:
        if suite is not None:
            suite.stop()
        drop_databases(urls)
    text = report(bench, seeding)
    (RESULTS / "results.md").write_text(text + "\n")
    plot(bench.samples, RESULTS / "latency.png")
    print()
    print(text)
    print(f"\nwritten: {RESULTS / 'results.md'}, {RESULTS / 'latency.png'}")


if __name__ == "__main__":
    main()

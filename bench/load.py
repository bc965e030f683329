"""Load benchmark: the running suite on PostgreSQL under till traffic, against its baselines.

    python -m bench.load [--members 1000000] [--entries 10000000] [--seconds 20]

Starts the suite with its default process counts on fresh databases of the PostgreSQL at
LOYALTY_BENCH_PG (default the machine's), fills them with the scale data (bench.scale_data),
launches one campaign (dairy earns double: a club always has one live, so every purchase is
evaluated against it) and drives the suite over HTTP with an asyncio client (httpx) in phases:

1. mixed: tills visit members chosen with Zipf-skewed activity: identify by phone, a purchase
   with items, the balance, now and then a ledger page, and every fourth visit a redemption
   hold then capture;
2. purchases only, as fast as the suite answers (closed loop): the maximum purchase rate;
3. purchases at half that rate (open loop, latency counted from each call's planned start);
4. balance reads only, as fast as the suite answers.

In the same run it measures the baselines: pgbench's built-in tpcb-like transaction on the
same PostgreSQL, and a bare Flask route under the same HTTP server (gunicorn, gthread, the
gateway's worker and thread counts) driven by the same client. It prints a table with
throughput and p50/p95/p99 per operation and phase, the ratios to the baselines against the
targets, and writes bench-results/results.md, bench-results/latency.png and the processes' logs
(bench-results/logs/).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
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
from urllib.parse import urlparse

import httpx
import numpy as np
import psycopg

from bench import scale_data
from deploy.local import ROOT, SERVICES, Suite, free_port, start_isolated
from gateway.config import GatewayConfig
from services.runtime.config import Env

ADMIN_URL = Env().str("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = Env().str("LOYALTY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
RESULTS = ROOT / "bench-results"
CONCURRENCY = 32
LOAD_ZIPF_S = 0.8


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

    client: httpx.AsyncClient

    def __init__(self, samples: Samples, members: int) -> None:
        self.samples = samples
        weights = 1.0 / np.arange(1, members + 1, dtype=np.float64) ** LOAD_ZIPF_S
        rng = np.random.default_rng(11)
        self._picks = rng.choice(members, size=200_000, p=weights / weights.sum())
        self._next = 0
        self._rng = np.random.default_rng(13)

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
    ) -> httpx.Response | None:
        """One call; its latency counts from `planned` when given (open loop), else from now."""
        started = planned if planned is not None else time.perf_counter()
        try:
            response = await self.client.request(method, path, json=json)
        except httpx.HTTPError as error:
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


def _code(response: httpx.Response) -> str:
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


def new_client(base_url: str, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY)
    return httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30)


@dataclass
class Bench:
    suite: Suite
    members: int
    seconds: float
    samples: Samples = field(default_factory=Samples)
    figures: dict[str, float] = field(default_factory=dict)

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

    async def run_suite_phases(self) -> None:
        self.launch_campaign()
        key = self.pos_key()
        tills = Tills(self.samples, self.members)

        async def phase(name: str, run: Callable[[], Awaitable[None]]) -> None:
            # A fresh client per phase: a pooled connection that the phase before left idle
            # longer than the server keeps it would fail the first call to reuse it.
            async with new_client(self.suite.gateway_url, key) as client:
                tills.client = client
                self.samples.start_phase(name)
                await run()

        await phase("warm-up", lambda: closed_loop(5, tills.visit))
        await phase("mixed", lambda: closed_loop(self.seconds, tills.visit))
        buy = tills.purchase
        await phase(
            "purchases, max", lambda: closed_loop(self.seconds, lambda _n: buy(tills.member()))
        )
        latencies, _ = self.samples.of("purchases, max", "purchase")
        max_rate = len(latencies) / self.seconds
        self.figures["purchase max rate"] = max_rate
        await phase(
            "purchases, half rate",
            lambda: open_loop(
                self.seconds, max_rate / 2, lambda planned: buy(tills.member(), planned)
            ),
        )
        await phase(
            "balance, max",
            lambda: closed_loop(self.seconds, lambda _n: tills.balance(tills.member())),
        )

    async def run_bare_flask(self) -> None:
        config = GatewayConfig.load(Env(self.suite.env))
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread"]
        command += ["--workers", str(config.workers), "--threads", str(config.threads)]
        command += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        server = subprocess.Popen([*command, "bench.bare_flask:app"], cwd=ROOT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(url + "/ping")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            async with new_client(url) as client:

                async def ping(_n: int) -> None:
                    started = time.perf_counter()
                    response = await client.get("/ping")
                    self.samples.add("bare flask", started, response.status_code == 200)

                self.samples.start_phase("bare flask, max")
                await closed_loop(self.seconds, ping)
        finally:
            server.terminate()
            server.wait(20)


def pgbench_tps(seconds: float) -> float:
    """TPS of pgbench's tpcb-like transaction on a scale-10 database of its own."""
    name = f"loyalty_bench_pgbench_{uuid.uuid4().hex[:8]}"
    parsed = urlparse(ADMIN_URL)
    connection = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432)]
    connection += ["-U", parsed.username or "postgres"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            ["pgbench", *connection, "-i", "-s", "10", "-q", name],
            check=True,
            capture_output=True,
        )
        run = subprocess.run(
            ["pgbench", *connection, "-c", "8", "-j", "2", "-T", str(int(seconds)), name],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    found = re.search(r"tps = ([0-9.]+)", run.stdout)
    if not found:
        raise RuntimeError(f"pgbench printed no tps: {run.stdout}")
    return float(found.group(1))


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


def report(bench: Bench, pgbench: float, seeding: str) -> str:
    samples = bench.samples
    lines = [
        f"Scale data: {seeding}. Client: {CONCURRENCY} concurrent asyncio callers (httpx).",
        "",
        "| phase | operation | calls | per second | p50 ms | p95 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rates: dict[tuple[str, str], float] = {}
    seen = []
    for _, phase, *_ in samples.rows:
        if phase not in seen and phase != "warm-up":
            seen.append(phase)
    for phase in seen:
        operations = []
        for operation, row_phase, *_ in samples.rows:
            if row_phase == phase and operation not in operations:
                operations.append(operation)
        for operation in operations:
            latencies, failed = samples.of(phase, operation)
            rate = len(latencies) / bench.seconds
            rates[(phase, operation)] = rate
            p50, p95, p99 = percentiles(latencies)
            lines.append(
                f"| {phase} | {operation} | {len(latencies)} | {rate:,.0f} "
                f"| {p50:.1f} | {p95:.1f} | {p99:.1f} | {failed} |"
            )
    lines.append(f"| baseline | pgbench tpcb-like (8 clients) | | {pgbench:,.0f} TPS | | | | |")
    purchase_max = rates.get(("purchases, max", "purchase"), 0.0)
    balance_max = rates.get(("balance, max", "balance"), 0.0)
    flask = rates.get(("bare flask, max", "bare flask"), 0.0)
    half, _ = samples.of("purchases, half rate", "purchase")
    half_p99 = percentiles(half)[2]
    purchase_ratio = purchase_max / pgbench
    balance_ratio = balance_max / flask
    targets = [
        ("purchases/s ÷ pgbench TPS", f"{purchase_ratio:.2f}", "≥ 0.2", purchase_ratio >= 0.2),
        (
            f"purchase p99 at half the max rate ({purchase_max / 2:,.0f}/s)",
            f"{half_p99:.1f} ms",
            "< 50 ms",
            half_p99 < 50,
        ),
        ("balance reads/s ÷ bare Flask/s", f"{balance_ratio:.2f}", "≥ 0.4", balance_ratio >= 0.4),
    ]
    if samples.failures:
        lines += ["", "Failed calls by answer:"]
        lines += [f"- {op}: {why} × {n}" for (op, why), n in samples.failures.most_common(10)]
    lines += ["", "| target | measured | required | met |", "|---|---|---|---|"]
    for name, shown, required, met in targets:
        lines.append(f"| {name} | {shown} | {required} | {'yes' if met else 'NO'} |")
    # What the purchase target asks for, set against the cheapest route this server can answer.
    lines += [
        "",
        f"0.2 × pgbench is {0.2 * pgbench:,.0f} purchases/s; the bare Flask route, which does no"
        f" work at all, answered {flask:,.0f}/s under the same server and client.",
    ]
    return "\n".join(lines)


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
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    urls = create_databases()
    suite = None
    try:
        with tempfile.TemporaryDirectory(prefix="loyalty-bench-") as directory:
            suite = start_isolated(
                Path(directory), urls, REDIS_URL, f"bench-{uuid.uuid4().hex[:8]}"
            )
            started = time.perf_counter()
            with psycopg.connect(urls["identity"]) as conn:
                scale_data.write_members(conn, args.members, suite.env["IDENTITY_PII_KEY"])
            with psycopg.connect(urls["points"]) as conn:
                scale_data.write_ledger(conn, args.members, args.entries)
            settle(urls)
            seeding = (
                f"{args.members:,} members, {args.entries:,} ledger entries,"
                f" written and vacuumed in {time.perf_counter() - started:.0f} s"
            )
            print(seeding, flush=True)
            bench = Bench(suite, args.members, args.seconds)
            asyncio.run(bench.run_suite_phases())
            suite.stop()
            suite = None
            # The processes' logs, to look into failed calls afterwards.
            shutil.rmtree(RESULTS / "logs", ignore_errors=True)
            shutil.copytree(Path(directory) / "logs", RESULTS / "logs")
            asyncio.run(bench.run_bare_flask())
            pgbench = pgbench_tps(args.seconds)
    finally:
        if suite is not None:
            suite.stop()
        drop_databases(urls)
    text = report(bench, pgbench, seeding)
    (RESULTS / "results.md").write_text(text + "\n")
    plot(bench.samples, RESULTS / "latency.png")
    print()
    print(text)
    print(f"\nwritten: {RESULTS / 'results.md'}, {RESULTS / 'latency.png'}")


if __name__ == "__main__":
    main()

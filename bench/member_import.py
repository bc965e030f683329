"""Member import at scale, on PostgreSQL: a club file of a million members imported with
`python -m gateway.cli import-members`, then imported again.

    python -m bench.member_import [--rows 1000000] [--bad 0.001]

Starts the suite on fresh databases of the PostgreSQL at LOYALTY_BENCH_PG (default the
machine's), writes a CSV file of `--rows` members (names, e-mail, a Jalali birth date, an SMS
consent, an opening balance with an expiry, a tier for one in ten; a share of them with a bad
phone), imports it, imports it again (nothing may change), checks the books with
`python -m services.points check` and prints the times and rates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.identify_latency import create_databases, drop_databases
from deploy.local import DEFAULT_REDIS_URL, ROOT, Suite, start_isolated
from gateway.member_import import COLUMNS


def write_file(path: Path, rows: int, bad_share: float) -> int:
    """The club file; answers how many of its rows are bad."""
    chance = random.Random(rows)
    bad = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for n in range(rows):
            good = chance.random() >= bad_share
            # A bad phone is too long to be any number ("0" and a few digits may be one).
            phone = f"0913{n:07d}" if good else f"0913{n:09d}"
            bad += not good
            tier = "silver" if n % 10 == 0 else ""
            out.write(
                f"{phone},OLD-{n},,Name{n},Family{n % 977},m{n}@example.com,"
                f"13{60 + n % 20}/{1 + n % 12:02d}/{1 + n % 28:02d},City{n % 31},"
                f"yes,1402/01/15,,,{n % 500},2030-12-31,{tier}\n"
            )
    return bad


def import_file(suite: Suite, path: Path) -> tuple[dict, float]:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "--json",
            "import-members",
            str(path),
            "--report",
            str(path.with_suffix(".bad.csv")),
        ],
        env=suite.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed: {done.stderr}")
    return json.loads(done.stdout), took


def analyse_without_autovacuum(urls: dict[str, str]) -> bool:
    """ANALYZE of the new tables when the server runs no autovacuum (as on a CI machine), as
    autovacuum would have done while a million rows went in: without statistics the planner
    looked up each batch's existing members by a sequential scan, 26 s a batch."""
    with psycopg.connect(urls["identity"], autocommit=True) as conn:
        if conn.execute("SHOW autovacuum").fetchone() != ("off",):
            return False
    for service in ("identity", "points"):
        with psycopg.connect(urls[service], autocommit=True) as conn:
            conn.execute("ANALYZE")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bad", type=float, default=0.001, help="share of rows with a bad phone")
    args = parser.parse_args()

    urls = create_databases()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "club.csv"
        bad = write_file(path, args.rows, args.bad)
        size = path.stat().st_size / 2**20
        suite = start_isolated(
            Path(directory), urls, DEFAULT_REDIS_URL, f"bench-{uuid.uuid4().hex[:8]}"
        )
        try:
            first, first_took = import_file(suite, path)
            analysed = analyse_without_autovacuum(urls)
            again, again_took = import_file(suite, path)
            check = subprocess.run(
                [sys.executable, "-m", "services.points", "check"],
                env=suite.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
        finally:
            suite.stop()
            drop_databases(urls)

    print(f"member import, PostgreSQL, {args.rows:,} rows ({size:.0f} MiB), {bad} bad")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'run':<10}{'seconds':>10}{'rows/s':>10}{'created':>10}{'existing':>10}{'opened':>10}")
    for name, report, took in (("first", first, first_took), ("again", again, again_took)):
        print(
            f"{name:<10}{took:>10.0f}{args.rows / took:>10.0f}{report['created']:>10}"
            f"{report['existing']:>10}{report['opened']:>10}"
        )
    if analysed:
        print("autovacuum is off on this server: the tables were analysed between the imports")
    print("books check:", "passed" if check.returncode == 0 else f"FAILED\n{check.stdout}")
    assert first["rejected"] == bad and first["created"] == args.rows - bad, first
    assert (again["created"], again["opened"]) == (0, 0), again


if __name__ == "__main__":
    main()

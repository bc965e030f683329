"""`python -m gateway.cli`: set-up without curl, over gRPC with the gateway's own settings.

    python -m gateway.cli create-store "Tehran - Valiasr"
    python -m gateway.cli create-key STORE_ID
    python -m gateway.cli create-staff maryam@example.com --role marketer   (asks the password)
    python -m gateway.cli seed-demo
    python -m gateway.cli import-members members.csv --dry-run --report bad-rows.csv

Every command prints what it made, one `name: value` per line (`--json` for one JSON object).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import grpc

from gateway.clients import Clients, connect
from gateway.config import GatewayConfig
from gateway.member_import import ImportFileError, ImportReport, bad_rows_csv, import_members
from gateway.problems import Problem
from services.runtime.config import ConfigError

ROLES = ("admin", "marketer", "support")
DEMO_STORE = "Demo store"
# Numbers in a range no one is issued in practice; a second run finds the same members again.
DEMO_MEMBERS = [
    ("09350000001", "Sara", "Ahmadi", "Tehran"),
    ("09350000002", "Reza", "Karimi", "Isfahan"),
    ("09350000003", "Maryam", "Hosseini", "Shiraz"),
    ("09350000004", "Ali", "Rezaei", "Tabriz"),
    ("09350000005", "Neda", "Moradi", "Mashhad"),
]
DEMO_AMOUNTS = ("1250000", "480000", "2300000", "760000")
# What a call to a service that is not there ends with.
UNREACHED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def create_store(clients: Clients, args: argparse.Namespace) -> dict:
    store = clients.identity.create_store(args.name)
    return {"store_id": store["id"], "name": store["name"]}


def create_key(clients: Clients, args: argparse.Namespace) -> dict:
    return clients.identity.create_api_key(args.store_id)


def read_password(args: argparse.Namespace) -> str:
    """From standard input with --password-stdin (for scripts), else asked twice, unechoed."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


def create_staff(clients: Clients, args: argparse.Namespace) -> dict:
    staff = clients.identity.create_staff(args.email, read_password(args), args.role)
    return {"staff_id": staff["id"], "email": staff["email"], "role": staff["role"]}


def demo_member(clients: Clients, store_id: str, phone: str, first: str, last: str, city: str):
    details = {"phone": phone, "first_name": first, "last_name": last, "city": city}
    try:
        return clients.identity.enrol(details, {"sms": True}, store_id=store_id, source="admin")
    except Problem as problem:
        if problem.status != 409:
            raise
        return clients.identity.identify("phone", phone)


def seed_demo(clients: Clients, args: argparse.Namespace) -> dict:
    """A store with a POS key, and members with a few weeks of purchases and a redemption."""
    currency = GatewayConfig.load().currency
    store = clients.identity.create_store(DEMO_STORE)
    key = clients.identity.create_api_key(store["id"])
    now = datetime.now(UTC).replace(microsecond=0)
    # Ids of their own on every run, so no two demo stores share a till id.
    run = store["id"][:8]
    members = []
    for index, (phone, first, last, city) in enumerate(DEMO_MEMBERS[: args.members]):
        member = demo_member(clients, store["id"], phone, first, last, city)
        for visit in range(index + 2):
            clients.points.record_purchase(
                store["id"],
                {
                    "transaction_id": f"DEMO-{run}-{index}-{visit}",
                    "member_id": member["id"],
                    "amount": DEMO_AMOUNTS[(index + visit) % len(DEMO_AMOUNTS)],
                    "currency": currency,
                    "occurred_at": (now - timedelta(days=7 * visit + index)).isoformat(),
                },
            )
        if index % 2 == 0:
            clients.points.hold(
                store["id"],
                {
                    "redemption_id": f"DEMO-RD-{run}-{index}",
                    "member_id": member["id"],
                    "points": 20,
                    "capture": True,
                },
            )
        members.append(f"{first} {last} {phone} card {member['card_number']}")
    return {
        "store_id": store["id"],
        "store": store["name"],
        "api_key": key["api_key"],
        "members": members,
    }


def progress_bar(total_bytes: int, stream: BinaryIO) -> Callable[[ImportReport], None]:
    """Draws `[#####     ]  42%  120000 rows  12 bad` on standard error as the file is read."""
    width = 30

    def draw(report: ImportReport) -> None:
        done = stream.tell() / total_bytes if total_bytes else 1.0
        filled = round(width * done)
        print(
            f"\r[{'#' * filled}{' ' * (width - filled)}] {done:4.0%}"
            f"  {report.rows} rows  {len(report.bad)} bad",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return draw


def import_file(clients: Clients, args: argparse.Namespace) -> dict:
    """Imports (or with --dry-run checks) a members CSV file; bad rows go to --report."""
    path = Path(args.file)
    try:
        with path.open("rb") as stream:
            drawn = args.progress and sys.stderr.isatty()
            draw = progress_bar(path.stat().st_size, stream) if drawn else None
            report = import_members(
                clients, stream, dry_run=args.dry_run, progress=draw or (lambda report: None)
            )
    except (OSError, ImportFileError) as error:
        raise Problem(422, "invalid-import-file", str(error)) from None
    if draw:
        print(file=sys.stderr)
    if args.report:
        with open(args.report, "w", newline="", encoding="utf-8") as out:
            out.write(bad_rows_csv(report.bad))
    summary = report.as_json()
    bad_rows = summary.pop("bad_rows")
    if not args.report:
        summary["bad_rows"] = [f"line {b['line']}: {b['code']}: {b['reason']}" for b in bad_rows]
    return summary


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m gateway.cli", description=__doc__.split("\n")[0])
    main.add_argument("--json", action="store_true", help="print one JSON object")
    commands = main.add_subparsers(dest="command", required=True)
    store = commands.add_parser("create-store", help="create a store")
    store.add_argument("name")
    store.set_defaults(run=create_store)
    key = commands.add_parser("create-key", help="issue a POS key for a store (shown once)")
    key.add_argument("store_id")
    key.set_defaults(run=create_key)
    staff = commands.add_parser("create-staff", help="create a staff account")
    staff.add_argument("email")
    staff.add_argument("--role", choices=ROLES, required=True)
    staff.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    staff.set_defaults(run=create_staff)
    demo = commands.add_parser("seed-demo", help="a demo store, its POS key, members with history")
    demo.add_argument("--members", type=int, default=len(DEMO_MEMBERS), choices=range(1, 6))
    demo.set_defaults(run=seed_demo)
    imports = commands.add_parser(
        "import-members", help="import members from a CSV file (docs/operations.md)"
    )
    imports.add_argument("file")
    imports.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    imports.add_argument("--report", help="write the bad rows (line, code, reason) to this CSV")
    imports.add_argument(
        "--no-progress", dest="progress", action="store_false", help="draw no progress bar"
    )
    imports.set_defaults(run=import_file)
    return main


def show(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for name, value in result.items():
        if isinstance(value, list):
            print(f"{name}:")
            for item in value:
                print(f"  {item}")
        else:
            print(f"{name}: {value}")


def unreached(clients: Clients, config: GatewayConfig) -> list[str]:
    """`name at address (VARIABLE)` for each service that does not answer a health check."""
    addresses = {
        "identity": config.identity_addr,
        "points": config.points_addr,
        "campaigns": config.campaigns_addr,
        "webhooks": config.webhooks_addr,
    }
    return [
        f"{name} at {addresses[name]} ({name.upper()}_ADDR)"
        for name, status in clients.health().items()
        if status != "SERVING"
    ]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The command says what failed in one line of its own; the clients' log lines are for
    # the services' logs, not for an operator's terminal.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        config = GatewayConfig.load()
        clients = connect(config)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    run: Callable[[Clients, argparse.Namespace], dict] = args.run
    try:
        result = run(clients, args)
    except Problem as problem:
        failed = problem.__cause__
        silent = (
            unreached(clients, config)
            if isinstance(failed, grpc.RpcError) and failed.code() in UNREACHED
            else []
        )
        if silent:
            print(
                f"error: {failed.code().name.lower()}: no answer from {', '.join(silent)};"
                " is the suite running there?",
                file=sys.stderr,
            )
        elif isinstance(failed, grpc.RpcError):
            print(f"error: {failed.code().name.lower()}: {failed.details()}", file=sys.stderr)
        else:
            print(f"error: {problem.code}: {problem.detail}", file=sys.stderr)
        return 1
    finally:
        clients.close()
    show(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

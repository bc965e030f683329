"""Redemption drills: members keep redeeming rewards while a process on the redemption path (the
gateway, points) is killed with SIGKILL and restarted.

    python -m bench.reward_drills [--short] [kill-gateway kill-points]

The suite runs on a PostgreSQL and a Redis of its own (bench/drills.py's site). Members log in
as the portal does and redeem, each redemption retried with the same request_id until the club
answers, as a page does. Afterwards every redemption must have both its coupon and its points
spent or neither (checked in the points database: each coupon bought with points has exactly
one `redeem` posting of its cost, and no such posting lacks its coupon), each member's balance
must equal their purchases less the coupons they were answered, every answered redemption
sent again must answer the same coupon, and `python -m services.points check` must pass.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from bench.drills import (
    FULL,
    SHORT,
    Site,
    Timing,
    books,
    close_site,
    kill,
    markdown_table,
    new_store,
    open_site,
)

COST = 5
POINTS_EACH = 200
MUTATION_DEADLINE = 90.0


DRILLS: dict[str, Callable[[Site, float], None]] = {
    "kill-gateway": kill("gateway", "gateway"),
    "kill-points": kill("points", "services.points"),
}


@dataclass
class Redemption:
    member_id: str
    token: str
    request_id: str
    answer: dict | None = None
    refused: str = ""


@dataclass
class Load:
    gateway: str
    reward_id: str
    members: list[tuple[str, str]]
    calls: int = 0
    errors: int = 0
    redemptions: list[Redemption] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def redeemer(self, number: int, stop: threading.Event) -> None:
        session = requests.Session()
        turn = number
        while not stop.is_set():
            member_id, token = self.members[turn % len(self.members)]
            turn += 7
            redemption = Redemption(member_id, token, f"drill-{uuid.uuid4().hex[:16]}")
            with self.lock:
                self.redemptions.append(redemption)
            response = self.until_answered(session, redemption)
            if response is None:
                continue
            if response.status_code == 201:
                redemption.answer = response.json()
            else:
                redemption.refused = response.json().get("code", "")

    def until_answered(
        self, session: requests.Session, redemption: Redemption
    ) -> requests.Response | None:
        path = f"/v1/me/rewards/{self.reward_id}/redemptions"
        deadline = time.monotonic() + MUTATION_DEADLINE
        while time.monotonic() < deadline:
            try:
                response = session.post(
                    self.gateway + path,
                    json={"request_id": redemption.request_id},
                    headers={"Authorization": f"Bearer {redemption.token}"},
                    timeout=10,
                )
            except requests.RequestException:
                response = None
            with self.lock:
                self.calls += 1
                if response is None or response.status_code >= 500:
                    self.errors += 1
            if response is not None and response.status_code < 500:
                if response.status_code not in (201, 422):
                    with self.lock:
                        self.unexpected.append(f"{response.status_code} {response.text[:80]}")
                return response
            time.sleep(0.1)
        with self.lock:
            self.unexpected.append("never answered")
        return None


@dataclass
class Outcome:
    drill: str
    calls: int
    errors: int
    redemptions: int
    coupons: int
    coupon_without_points: int
    points_without_coupon: int
    balances_off: int
    replays_differing: int
    books_balance: bool
    unexpected: list[str]

    @property
    def passed(self) -> bool:
        return (
            self.coupon_without_points == 0
            and self.points_without_coupon == 0
            and self.balances_off == 0
            and self.replays_differing == 0
            and self.books_balance
            and not self.unexpected
        )


def log_in(site: Site, phone: str) -> str:
    """A member session, got with the code the development sender wrote down."""
    url = site.suite.gateway_url
    sent = requests.post(url + "/v1/auth/otp", json={"phone": phone}, timeout=10)
    sent.raise_for_status()
    outbox = Path(site.suite.env["LOYALTY_DATA_DIR"]) / "outbox" / "sms.jsonl"
    to = "+98" + phone.removeprefix("0")
    messages = [json.loads(line) for line in outbox.read_text().splitlines() if line]
    body = next(m["body"] for m in reversed(messages) if m["to"] == to)
    code = re.search(r"\b(\d{6})\b", body)
    assert code is not None
    verified = requests.post(
        url + "/v1/auth/otp/verify", json={"phone": phone, "code": code.group(1)}, timeout=10
    )
    verified.raise_for_status()
    return verified.json()["token"]


def prepare(site: Site, members: int) -> tuple[str, list[tuple[str, str]]]:
    """A reward and members with POINTS_EACH points each, logged in: (reward id, [(id,
    token)])."""
    url = site.suite.gateway_url
    admin = {"Authorization": f"Bearer {site.suite.env['LOYALTY_ADMIN_TOKEN']}"}
    reward = requests.post(
        url + "/v1/marketing/rewards",
        json={
            "name": "drill coupon",
            "points_cost": COST,
            "coupon": {"type": "percent", "value": "5"},
        },
        headers=admin,
        timeout=10,
    )
    reward.raise_for_status()
    api_key, enrolled = new_store(site, members)
    pos = {"Authorization": f"Bearer {api_key}"}
    logged_in = []
    for member_id, phone in enrolled:
        bought = requests.post(
            url + "/v1/purchases",
            json={
                "transaction_id": f"T-{uuid.uuid4().hex[:12]}",
                "member_id": member_id,
                "amount": str(POINTS_EACH * 10000),
                "currency": "IRR",
            },
            headers=pos,
            timeout=10,
        )
        bought.raise_for_status()
        logged_in.append((member_id, log_in(site, phone)))
    return reward.json()["id"], logged_in


def run_drill(site: Site, name: str, timing: Timing) -> Outcome:
    reward_id, members = prepare(site, timing.members)
    load = Load(site.suite.gateway_url, reward_id, members)
    stop = threading.Event()
    threads = [
        threading.Thread(target=load.redeemer, args=(n, stop), daemon=True)
        for n in range(timing.tills)
    ]
    for thread in threads:
        thread.start()
    time.sleep(timing.before)
    DRILLS[name](site, timing.outage)
    site.suite.wait_ready(120)
    time.sleep(timing.after)
    stop.set()
    for thread in threads:
        thread.join(MUTATION_DEADLINE + 30)
    return verify(site, name, load)


def verify(site: Site, name: str, load: Load) -> Outcome:
    url = site.suite.gateway_url
    differing = 0
    for redemption in load.redemptions:
        if redemption.answer is None and not redemption.refused:
            # The page gave up: sending it again gives its answer.
            again = requests.post(
                url + f"/v1/me/rewards/{load.reward_id}/redemptions",
                json={"request_id": redemption.request_id},
                headers={"Authorization": f"Bearer {redemption.token}"},
                timeout=30,
            )
            if again.status_code == 201:
                redemption.answer = again.json()
    answered = [r for r in load.redemptions if r.answer is not None]
    for redemption in answered:
        again = requests.post(
            url + f"/v1/me/rewards/{load.reward_id}/redemptions",
            json={"request_id": redemption.request_id},
            headers={"Authorization": f"Bearer {redemption.token}"},
            timeout=30,
        )
        assert redemption.answer is not None
        first = redemption.answer["coupon"]["code"]
        if again.status_code != 201 or again.json()["coupon"]["code"] != first:
            differing += 1
    with psycopg.connect(site.suite.env["POINTS_DATABASE_URL"]) as conn:
        without_points = conn.execute(
            "SELECT COUNT(*) FROM coupons c WHERE c.reward_id = %s AND ("
            " SELECT COUNT(*) FROM postings p JOIN entries e ON e.posting_id = p.id"
            " WHERE p.kind = 'redeem' AND p.source_type = 'reward'"
            " AND p.source_id = c.id::text AND e.account = 'program:redeemed'"
            " AND e.amount = c.points_spent) <> 1",
            (load.reward_id,),
        ).fetchone()[0]
        without_coupon = conn.execute(
            "SELECT COUNT(*) FROM postings p WHERE p.kind = 'redeem'"
            " AND p.source_type = 'reward'"
            " AND NOT EXISTS (SELECT 1 FROM coupons c WHERE c.id::text = p.source_id)"
        ).fetchone()[0]
        coupons = dict(
            conn.execute(
                "SELECT member_id::text, COUNT(*) FROM coupons WHERE reward_id = %s"
                " GROUP BY member_id",
                (load.reward_id,),
            ).fetchall()
        )
    answered_per_member: dict[str, set[str]] = {}
    for redemption in answered:
        assert redemption.answer is not None
        code = redemption.answer["coupon"]["code"]
        answered_per_member.setdefault(redemption.member_id, set()).add(code)
    off = 0
    admin = {"Authorization": f"Bearer {site.suite.env['LOYALTY_ADMIN_TOKEN']}"}
    for member_id, _token in load.members:
        count = coupons.get(member_id, 0)
        balance = requests.get(
            url + f"/v1/members/{member_id}/points", headers=admin, timeout=30
        ).json()
        promised = len(answered_per_member.get(member_id, ()))
        if balance["available"] != POINTS_EACH - COST * count or count != promised:
            off += 1
    check = site.suite.run_module("services.points", "check")
    return Outcome(
        drill=name,
        calls=load.calls,
        errors=load.errors,
        redemptions=len(load.redemptions),
        coupons=sum(coupons.values()),
        coupon_without_points=without_points,
        points_without_coupon=without_coupon,
        balances_off=off,
        replays_differing=differing,
        books_balance=check.returncode == 0,
        unexpected=load.unexpected,
    )


def run(directory: Path, timing: Timing, names: list[str] | None = None) -> list[Outcome]:
    # Every member logs in from this one address.
    site = open_site(directory, IDENTITY_CODE_SENDS_PER_CLIENT="100000")
    try:
        return [run_drill(site, name, timing) for name in names or list(DRILLS)]
    finally:
        close_site(site)


def table(outcomes: list[Outcome]) -> str:
    header = (
        "drill", "calls", "errors seen", "redemptions", "coupons", "coupon without points",
        "points without coupon", "balances off", "replays differing", "books",
    )  # fmt: skip
    rows = [
        (o.drill, o.calls, o.errors, o.redemptions, o.coupons, o.coupon_without_points,
         o.points_without_coupon, o.balances_off, o.replays_differing, books(o.books_balance))
        for o in outcomes
    ]  # fmt: skip
    notes = [f"{o.drill}: unexpected answer {p}" for o in outcomes for p in o.unexpected[:5]]
    return markdown_table(header, rows, notes)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reward_drills")
    parser.add_argument("--short", action="store_true", help="seconds per drill, not tens")
    parser.add_argument("drills", nargs="*", choices=[[], *DRILLS], help="default: all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loyalty-reward-drills-") as directory:
        outcomes = run(Path(directory), SHORT if args.short else FULL, args.drills or None)
    print(table(outcomes))
    ok = all(o.passed for o in outcomes)
    print("every drill: each redemption whole or not at all" if ok else "A DRILL FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

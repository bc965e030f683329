"""`python -m gateway.cli`: an operator sets up stores, keys, staff and demo data without curl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from deploy.local import ROOT, Suite, free_port, suite_env
from tests.support import Api, run_check


def cli(suite: Suite, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=suite.env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_json(suite: Suite, *args: str, stdin: str = "") -> dict:
    done = cli(suite, "--json", *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_store_and_its_key_work_at_the_till(sqlite_suite: Suite) -> None:
    store = cli_json(sqlite_suite, "create-store", "Shiraz - Zand")
    assert store["name"] == "Shiraz - Zand"
    key = cli_json(sqlite_suite, "create-key", store["store_id"])
    till = Api(sqlite_suite.gateway_url, key["api_key"])
    member = till.post("/v1/members", {"phone": "09351112233"})
    assert member.status_code in (201, 409), member.text
    found = till.get("/v1/members/identify", params={"phone": "09351112233"})
    assert found.status_code == 200


def test_plain_output_names_each_value(sqlite_suite: Suite) -> None:
    done = cli(sqlite_suite, "create-store", "Yazd")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert lines["name"] == "Yazd" and uuid.UUID(lines["store_id"])


def test_a_staff_account_can_log_in(sqlite_suite: Suite) -> None:
    email = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    staff = cli_json(
        sqlite_suite,
        "create-staff",
        email,
        "--role",
        "marketer",
        "--password-stdin",
        stdin="a long passphrase\n",
    )
    assert (staff["email"], staff["role"]) == (email, "marketer")
    login = Api(sqlite_suite.gateway_url).post(
        "/v1/staff/login", {"email": email, "password": "a long passphrase"}
    )
    assert login.status_code == 200, login.text
    assert login.json()["role"] == "marketer"


def test_seed_demo_gives_the_pages_data_and_can_run_again(sqlite_suite: Suite) -> None:
    first = cli_json(sqlite_suite, "seed-demo")
    assert len(first["members"]) == 5
    till = Api(sqlite_suite.gateway_url, first["api_key"])
    sara = till.get("/v1/members/identify", params={"phone": "09350000001"}).json()
    points = till.get(f"/v1/members/{sara['member_id']}/points").json()
    history = till.get(f"/v1/members/{sara['member_id']}/ledger").json()["items"]
    assert points["available"] > 0
    assert {entry["kind"] for entry in history} >= {"earn"}
    assert len(history) >= 3  # two purchases and a redemption

    second = cli_json(sqlite_suite, "seed-demo", "--members", "2")
    assert second["store_id"] != first["store_id"]
    assert second["members"][0] == first["members"][0]  # the same member, found again
    assert run_check(sqlite_suite.env).returncode == 0  # the books balance after both runs


def test_errors_are_one_line_and_exit_non_zero(sqlite_suite: Suite) -> None:
    done = cli(sqlite_suite, "create-key", str(uuid.uuid4()))
    assert done.returncode == 1
    assert done.stderr.startswith("error: not_found") and "Traceback" not in done.stderr
    weak = cli(sqlite_suite, "create-staff", "x@example.com", "--role", "admin", "--password-stdin")
    assert weak.returncode == 1 and "Traceback" not in weak.stderr


def test_a_suite_that_is_not_there_is_named_by_the_address_tried(tmp_path: Path) -> None:
    identity, points = (f"127.0.0.1:{free_port()}" for _ in range(2))
    env = suite_env(os.environ) | {
        "LOYALTY_DATA_DIR": str(tmp_path),
        "IDENTITY_ADDR": identity,
        "POINTS_ADDR": points,
        "GATEWAY_RPC_TIMEOUT": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "create-store", "Qom"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"no answer from identity at {identity} (IDENTITY_ADDR)" in done.stderr
    assert f"points at {points} (POINTS_ADDR)" in done.stderr

"""An existing club brought in from a CSV file with `python -m gateway.cli import-members`:
members enrolled once however often the file is imported, bad rows reported by line without
stopping the others, opening balances posted once and spendable at the till at once, and the
books still right."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from deploy.local import ROOT, Suite
from services.identity.identifiers import luhn_check_digit
from tests.support import Pos, run_check

HEADER = (
    "phone,external_id,card_number,first_name,last_name,email,birth_date,city,"
    "sms_consent,sms_consent_date,email_consent,email_consent_date,points,points_expire_on,tier"
)


def import_file(suite: Suite, path: Path, *args: str, timeout: int = 60) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--json", "import-members", str(path), *args],
        env=suite.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def card(body: str) -> str:
    return body + luhn_check_digit(body)


def persian(digits: str) -> str:
    return digits.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def test_a_club_file_imports_once_and_its_members_spend_at_the_till(
    sqlite_suite: Suite, tmp_path: Path
) -> None:
    run = f"{random.randrange(10**4):04d}"
    phone = f"0936{run}"  # and three more digits per row
    kept_card = card(f"6{run}{random.randrange(10**10):010d}")
    wrong_card = kept_card[:-1] + str((int(kept_card[-1]) + 1) % 10)
    rows = [
        # Persian digits, a Jalali birth date, a card whose check digit is right, consents,
        # an opening balance and a tier.
        f"{persian(phone + '001')},EXT-{run}-1,{kept_card},Sara,Ahmadi,sara{run}@example.com,"
        f"{persian('1370/01/31')},Tehran,yes,1402/05/01,no,,{persian('1500')},2099-12-31,silver",
        # A phone in international form with spaces, a card with a wrong check digit.
        f"+98 936 {run[:3]} {run[3]}{'002'},EXT-{run}-2,{wrong_card},Reza,,,1990-02-03,,,,,,250,,",
        "not-a-phone,EXT-bad-1,,,,,,,,,,,,,",  # line 4
        f"{phone}004,EXT-{run}-4,,,,,1990-02-31,,,,,,,,",  # no such day: line 5
        f"{phone}005,EXT-{run}-5,,,,,,,maybe,,,,,,",  # line 6
        f"{phone}006,EXT-{run}-6,,,,,,,,,,,12x,,",  # line 7
        f"{phone}007,EXT-{run}-7,,,,,,,,,,,10,,platinum",  # line 8: no such tier
    ]
    path = tmp_path / "club.csv"
    path.write_bytes(("\ufeff" + "\n".join([HEADER, *rows]) + "\n").encode())

    dry = import_file(sqlite_suite, path, "--dry-run")
    assert (dry["created"], dry["rejected"]) == (3, 5)
    pos = Pos(sqlite_suite)
    missing = pos.api.get("/v1/members/identify", params={"phone": phone + "001"})
    assert missing.status_code == 404  # a dry run writes nothing

    first = import_file(sqlite_suite, path)
    assert (first["rows"], first["created"], first["existing"]) == (7, 3, 0)
    assert first["cards_replaced"] == 1
    assert first["opened"] == 2  # the platinum row's member is enrolled, its balance refused
    bad = {int(line.split(":")[0].removeprefix("line ")): line for line in first["bad_rows"]}
    assert sorted(bad) == [4, 5, 6, 7, 8]
    assert "invalid-phone" in bad[4] and "invalid-birth-date" in bad[5]
    assert "invalid-consent" in bad[6] and "invalid-points" in bad[7]
    assert "unknown-tier" in bad[8]

    sara = pos.api.get("/v1/members/identify", params={"card": kept_card}).json()
    assert sara["display_name"] == "Sara A."
    export = pos.admin.get(f"/v1/support/members/{sara['member_id']}/export").json()
    member = export["identity"]["member"]
    assert (member["birth_date"], member["external_id"]) == ("1991-04-20", f"EXT-{run}-1")
    (sms,) = [c for c in member["consents"] if c["channel"] == "sms"]
    assert sms["granted"] is True and sms["updated_at"].startswith("2023-07-23")
    assert [e["kind"] for e in export["ledger"]] == ["opening"]
    points = pos.balance(sara["member_id"])
    assert (points["available"], points["tier"]["name"]) == (1500, "silver")
    reza = pos.api.get("/v1/members/identify", params={"phone": f"0936{run}002"}).json()
    assert pos.balance(reza["member_id"])["available"] == 250
    reza_card = pos.admin.get(f"/v1/support/members/{reza['member_id']}/export").json()
    assert reza_card["identity"]["member"]["card_number"] not in ("", wrong_card)

    # Spent at the till straight after the import.
    spent = pos.api.post(
        "/v1/redemptions",
        {
            "redemption_id": f"IMP-{run}",
            "member_id": sara["member_id"],
            "points": 1200,
            "capture": True,
        },
    )
    assert spent.status_code == 201, spent.text
    assert pos.balance(sara["member_id"])["available"] == 300

    # The same file again, and again with another balance: nothing changes, nothing doubles.
    again = import_file(sqlite_suite, path)
    assert (again["created"], again["existing"], again["opened"]) == (0, 3, 0)
    path.write_text(path.read_text(encoding="utf-8-sig").replace(persian("1500"), "9000"))
    changed = import_file(sqlite_suite, path)
    assert (changed["created"], changed["opened"]) == (0, 0)
    assert pos.balance(sara["member_id"])["available"] == 300
    assert run_check(sqlite_suite.env).returncode == 0


def test_accounting_reads_the_ledger_and_what_is_owed_per_day_as_csv(
    sqlite_suite: Suite,
) -> None:
    pos = Pos(sqlite_suite)
    member = pos.enrol()
    pos.purchase(member["id"], amount="2500000")
    today = datetime.now(UTC).date().isoformat()
    period = {"from": today, "to": today}

    ledger = pos.admin.get("/v1/admin/exports/ledger.csv", params=period)
    assert ledger.status_code == 200 and ledger.headers["Content-Type"].startswith("text/csv")
    entries = list(csv.DictReader(io.StringIO(ledger.text.removeprefix("\ufeff"))))
    mine = [e for e in entries if e["member_id"] == member["id"]]
    assert mine and all(e["kind"] == "earn" for e in mine)
    by_posting: dict[str, int] = {}
    for entry in entries:
        by_posting[entry["posting_id"]] = by_posting.get(entry["posting_id"], 0) + int(
            entry["points"]
        )
    assert set(by_posting.values()) == {0}  # every posting balances

    owed = pos.admin.get("/v1/admin/exports/liability.csv", params=period)
    (day,) = list(csv.DictReader(io.StringIO(owed.text.removeprefix("\ufeff"))))
    report = pos.admin.get("/v1/admin/reports/points", params=period).json()
    liability = report["liability"]
    assert (
        int(day["outstanding"]) == liability["available"] + liability["pending"] + liability["held"]
    )
    assert int(day["earned"]) >= int(mine[0]["points"]) > 0

    backwards = pos.admin.get(
        "/v1/admin/exports/ledger.csv", params={"from": today, "to": "2020-01-01"}
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid-period")


def test_a_file_with_an_unknown_column_is_refused_whole(
    sqlite_suite: Suite, tmp_path: Path
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("phone,nickname\n09361234567,Sas\n")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "import-members", str(path)],
        env=sqlite_suite.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "unknown column 'nickname'" in done.stderr


def test_a_hundred_thousand_rows_with_bad_ones_import_on_postgres(
    postgres_suite: Suite, tmp_path: Path
) -> None:
    """100,000 rows, 500 of them bad at known lines: the others are enrolled with their
    balances, each bad row is reported with its line, a second import changes nothing. (`make
    bench` imports a million rows the same way.)"""
    rows, bad, bad_lines = 100_000, 500, set()
    block = f"{random.randrange(100):02d}"
    planted = set(random.Random(block).sample(range(rows), bad))
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,external_id,first_name,points\n")
        for index in range(rows):
            if index in planted:
                # Too long to be a phone ("09" and three digits can be a valid short number).
                out.write(f"0912{index:09d},BIG-{block}-{index},Bad,5\n")
                bad_lines.add(index + 2)
            else:
                out.write(f"0937{block}{index:05d},BIG-{block}-{index},Member,{index % 50 + 1}\n")
    started = time.monotonic()
    first = import_file(postgres_suite, path, "--report", str(tmp_path / "bad.csv"), timeout=900)
    took = time.monotonic() - started
    print(f"{rows:,} rows imported on PostgreSQL in {took:.0f} s")
    assert (first["created"], first["rejected"]) == (rows - bad, bad)
    assert first["opened"] == rows - bad
    reported = (tmp_path / "bad.csv").read_text().splitlines()[1:]
    assert {int(line.split(",")[0]) for line in reported} == bad_lines
    assert all(",invalid-phone," in line for line in reported)

    again = import_file(postgres_suite, path, timeout=900)
    assert (again["created"], again["existing"], again["opened"]) == (0, rows - bad, 0)
    assert run_check(postgres_suite.env).returncode == 0

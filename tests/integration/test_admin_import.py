"""The admin console's member import: a CSV file uploaded with the page's token, checked by a
dry run, imported in the background with its progress on the page, and its bad rows shown and
downloadable by line."""

from __future__ import annotations

import csv
import io
import random

import requests

from deploy.local import Suite
from tests.integration.test_member_import import HEADER
from tests.integration.test_staff_pages import StaffBrowser
from tests.support import Pos, eventually


def upload(
    admin: StaffBrowser, content: bytes, token: bool = True, **form: str
) -> requests.Response:
    data = {"csrf_token": admin.token, **form} if token else form
    return admin.session.post(
        admin.url + "/admin/import",
        data=data,
        files={"file": ("club.csv", content, "text/csv")},
        timeout=15,
    )


def finished(admin: StaffBrowser) -> bool:
    page = admin.get("/admin/import").text
    return 'id="import-status">Finished.' in page


def test_an_admin_imports_a_file_from_the_console_and_downloads_its_bad_rows(
    sqlite_suite: Suite,
) -> None:
    admin = StaffBrowser(sqlite_suite, "admin")
    run = f"{random.randrange(10**4):04d}"
    rows = [
        f"0937{run}001,EXT-C{run}-1,,Mina,<b>Rad</b>,,,,,,,,300,,",
        "12345,EXT-C-bad,,,,,,,,,,,,,",  # line 3: not a phone
        f"0937{run}003,EXT-C{run}-3,,,,,,,,,,,7q,,",  # line 4: not a number of points
    ]
    content = ("\n".join([HEADER, *rows]) + "\n").encode()

    refused = upload(admin, content, token=False)
    assert refused.status_code in (400, 403)

    dry = upload(admin, content, dry_run="1")
    assert dry.status_code == 200 and "club.csv" in dry.text
    assert eventually(lambda: finished(admin), within=30)
    pos = Pos(sqlite_suite)
    unknown = pos.api.get("/v1/members/identify", params={"phone": f"0937{run}001"})
    assert unknown.status_code == 404

    upload(admin, content)
    assert eventually(lambda: finished(admin), within=30)
    page = admin.get("/admin/import").text
    assert "Line" in page and "invalid-phone" in page and "invalid-points" in page
    member = pos.api.get("/v1/members/identify", params={"phone": f"0937{run}001"})
    assert member.status_code == 200, member.text
    assert pos.balance(member.json()["member_id"])["available"] == 300
    # Imported again: nothing changes.
    upload(admin, content)
    assert eventually(lambda: finished(admin), within=30)
    again = admin.get("/admin/import").text
    assert "<th>New members</th><td>0</td>" in again

    download = admin.get("/admin/import/bad-rows.csv")
    assert download.headers["Content-Type"].startswith("text/csv")
    bad = list(csv.reader(io.StringIO(download.text)))
    assert bad[0] == ["line", "code", "reason"]
    assert [(line, code) for line, code, _ in bad[1:]] == [
        ("3", "invalid-phone"),
        ("4", "invalid-points"),
    ]

    marketer = StaffBrowser(sqlite_suite, "marketer")
    assert marketer.get("/admin/import").status_code == 403
    assert marketer.get("/admin/import/bad-rows.csv").status_code == 403

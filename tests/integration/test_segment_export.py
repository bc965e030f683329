"""A segment's contacts exported as CSV by marketing staff: only the members of that segment
who consented to the channel, each export recorded in the admin's audit trail with who and how
many; staff without the marketing role get nothing."""

from __future__ import annotations

import csv
import io

from deploy.local import Suite
from tests.integration.test_staff_pages import StaffBrowser
from tests.support import Api, Pos, e164, eventually, member_view_caught_up, new_email, new_phone


def exported(browser: StaffBrowser, segment_id: str, channel: str) -> list[dict]:
    answer = browser.get(f"/v1/marketing/segments/{segment_id}/export.csv?channel={channel}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_a_segment_export_gives_only_its_consented_contacts_and_is_audited(
    sqlite_suite: Suite,
) -> None:
    pos = Pos(sqlite_suite)
    api = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    phone = new_phone()
    texting = pos.enrol(phone=phone, first_name="Sara", consents={"sms": True})
    both = pos.enrol(first_name="Ali", email=new_email(), consents={"sms": True, "email": True})
    silent = pos.enrol(first_name="Reza", consents={"sms": False})
    outsider = pos.enrol(first_name="Nima", consents={"sms": True})
    members = [texting, both, silent]
    segment = api.post(
        "/v1/marketing/segments", {"name": "export pilot", "member_ids": [m["id"] for m in members]}
    ).json()
    assert eventually(lambda: member_view_caught_up(api), within=30)

    marketer = StaffBrowser(sqlite_suite, "marketer")
    assert (
        f"/v1/marketing/segments/{segment['id']}/export.csv?channel=sms"
        in marketer.get("/console/segments").text
    )
    sms = exported(marketer, segment["id"], "sms")
    assert sorted(row["member_id"] for row in sms) == sorted([texting["id"], both["id"]])
    phones = {row["member_id"]: row["phone"] for row in sms}
    assert phones[texting["id"]] == e164(phone)
    assert outsider["id"] not in phones and silent["id"] not in phones
    emails = exported(marketer, segment["id"], "email")
    assert [row["member_id"] for row in emails] == [both["id"]]
    assert set(emails[0]) == {"member_id", "first_name", "email"}

    refused = marketer.get(f"/v1/marketing/segments/{segment['id']}/export.csv?channel=fax")
    assert refused.status_code == 422 and refused.json()["code"] == "invalid-channel"

    admin = StaffBrowser(sqlite_suite, "admin")
    trail = admin.get("/admin/audit").text
    assert trail.count("Segment contacts exported") >= 2
    assert "sms: 2 rows" in trail and "email: 1 rows" in trail
    assert marketer.email in trail

    support = StaffBrowser(sqlite_suite, "support")
    denied = support.get(f"/v1/marketing/segments/{segment['id']}/export.csv?channel=sms")
    assert denied.status_code == 403
    assert "phone" not in denied.text

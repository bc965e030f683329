"""Webhooks through the running suite: an endpoint registered by the admin, a real HTTP
receiver on this machine that is down for a while, then too slow to answer in time, then back.
Every event of the test's members arrives, in order per member, signed as README.md says, a
repeat under the same event id, and without personal data the endpoint was not allowed."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deploy.local import ROOT, Suite, free_port
from tests.integration.test_console import signed_in
from tests.integration.test_web_security import form_token
from tests.support import Api, Pos, eventually


@dataclass
class Receipt:
    event: dict
    body: bytes
    signature: str


@dataclass
class Receiver:
    """An integrator's endpoint: records every request, answering 204 — or, while `slow`,
    only after the sender's timeout has passed."""

    port: int
    slow: bool = False
    receipts: list[Receipt] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.receipts.append(
                        Receipt(json.loads(body), body, self.headers["Loyalty-Signature"])
                    )
                    slow = receiver.slow
                if slow:
                    time.sleep(2.5)  # past WEBHOOKS_TIMEOUT (1 s in the tests' suites)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def of(self, member_ids: set[str]) -> list[Receipt]:
        with self.lock:
            return [r for r in self.receipts if r.event["member_id"] in member_ids]


def readme_recipe() -> Callable[[str, str, bytes], bool]:
    """The signature check README.md gives integrators, run as they would copy it."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Webhooks", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README.md's webhooks section has no Python recipe"
    namespace: dict = {}
    exec(found.group(1), namespace)
    return namespace["verify"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(free_port())
    yield found
    found.stop()


def _log(admin: Api, endpoint_id: str) -> list[dict]:
    items: list[dict] = []
    before = ""
    while True:
        page = admin.get(
            f"/v1/admin/webhooks/{endpoint_id}/deliveries?limit=200&before={before}"
        ).json()["items"]
        items += page
        if len(page) < 200:
            return items
        before = page[-1]["id"]


def test_every_event_arrives_in_order_per_member_signed_after_an_outage_and_a_slow_spell(
    suite: Suite, pos: Pos, receiver: Receiver
) -> None:
    admin = pos.admin
    created = admin.post(
        "/v1/admin/webhooks",
        {"url": f"http://127.0.0.1:{receiver.port}/loyalty", "event_types": ["*"]},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    secret = endpoint["secret"]
    listed = admin.get("/v1/admin/webhooks").json()
    assert all("secret" not in item for item in listed["items"])
    try:
        # The receiver is down: members enrol and buy meanwhile.
        members = [pos.enrol(first_name=f"Sara{i}")["id"] for i in range(3)]
        for member_id in members:
            for _ in range(2):
                assert pos.purchase(member_id).status_code == 201
        mine = set(members)

        def failed_once() -> bool:
            log = [d for d in _log(admin, endpoint["id"]) if d["member_id"] in mine]
            return any(d["attempts"] >= 2 and d["last_error"] for d in log)

        assert eventually(failed_once, within=60)

        # Up, but slower than the sender waits: requests arrive and count as failed.
        receiver.slow = True
        receiver.start()
        assert eventually(lambda: len(receiver.of(mine)) >= 3, within=60)
        receiver.slow = False

        def all_delivered() -> bool:
            log = [d for d in _log(admin, endpoint["id"]) if d["member_id"] in mine]
            return bool(log) and all(d["status"] == "delivered" for d in log)

        assert eventually(all_delivered, within=60)
        log = sorted(
            (d for d in _log(admin, endpoint["id"]) if d["member_id"] in mine),
            key=lambda d: int(d["id"]),
        )
        receipts = receiver.of(mine)

        # Every event arrived, each signature verifies, a repeat is the same event.
        assert {r.event["id"] for r in receipts} == {d["event_id"] for d in log}
        verify = readme_recipe()
        assert all(verify(secret, r.signature, r.body) for r in receipts)
        assert not verify(secret, receipts[0].signature, receipts[0].body + b" ")
        assert not verify("whsec_another", receipts[0].signature, receipts[0].body)
        by_id: dict[str, dict] = {}
        for receipt in receipts:
            assert by_id.setdefault(receipt.event["id"], receipt.event) == receipt.event
        assert len(receipts) > len(by_id), "the slow spell should have caused a repeat"

        for member_id in members:
            sent = [d["event_id"] for d in log if d["member_id"] == member_id]
            arrived: list[str] = []
            for receipt in receipts:
                if receipt.event["member_id"] == member_id and receipt.event["id"] not in arrived:
                    arrived.append(receipt.event["id"])
            assert arrived == sent
            types = [by_id[event_id]["type"] for event_id in sent]
            assert types[0] == "member.enrolled"
            assert types.count("purchase.recorded") == 2
            assert "points.changed" in types

        enrolled = [e for e in by_id.values() if e["type"] == "member.enrolled"]
        assert enrolled and all("first_name" not in e["data"] for e in enrolled)

        # Sent again by hand: the same event id once more.
        first = log[0]
        again = admin.post(
            f"/v1/admin/webhooks/{endpoint['id']}/deliveries/{first['id']}/redeliver"
        )
        assert again.status_code == 202, again.text
        assert again.json()["event_id"] == first["event_id"]
        assert eventually(
            lambda: (
                sum(r.event["id"] == first["event_id"] for r in receiver.of(mine))
                > sum(r.event["id"] == first["event_id"] for r in receipts)
            ),
            within=60,
        )
    finally:
        switched_off = admin.patch(f"/v1/admin/webhooks/{endpoint['id']}", {"enabled": False})
        assert switched_off.status_code == 200
        assert switched_off.json()["status"] == "disabled"


def test_a_bad_endpoint_is_refused_with_its_code(sqlite_suite: Suite) -> None:
    admin = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    bad_url = admin.post("/v1/admin/webhooks", {"url": "ftp://x", "event_types": ["*"]})
    assert (bad_url.status_code, bad_url.json()["code"]) == (422, "invalid-url")
    bad_type = admin.post(
        "/v1/admin/webhooks", {"url": "https://example.com/h", "event_types": ["nope"]}
    )
    assert (bad_type.status_code, bad_type.json()["code"]) == (422, "invalid-event-types")
    missing = admin.get("/v1/admin/webhooks/not-an-id/deliveries")
    assert (missing.status_code, missing.json()["code"]) == (404, "endpoint-not-found")


def test_the_console_lets_an_administrator_register_an_endpoint_and_read_its_log(
    sqlite_suite: Suite,
) -> None:
    marketer, _ = signed_in(sqlite_suite, "marketer")
    refused = marketer.get(sqlite_suite.gateway_url + "/console/webhooks", timeout=10)
    assert refused.status_code == 403
    assert "/console/webhooks" not in marketer.get(sqlite_suite.gateway_url + "/console").text

    browser, _ = signed_in(sqlite_suite, "admin")
    page = browser.get(sqlite_suite.gateway_url + "/console/webhooks", timeout=10)
    assert page.status_code == 200 and 'name="event_types"' in page.text
    without_token = browser.post(
        sqlite_suite.gateway_url + "/console/webhooks",
        data={"url": "https://crm.example.com/<b>x</b>", "event_types": "*"},
        timeout=10,
    )
    assert without_token.status_code == 403
    created = browser.post(
        sqlite_suite.gateway_url + "/console/webhooks",
        data={
            "csrf_token": form_token(page.text),
            "url": "https://crm.example.com/<b>x</b>",
            "description": "CRM <script>",
            "event_types": ["member.enrolled", "tier.changed"],
        },
        timeout=10,
    )
    assert created.status_code == 201
    secret = re.search(r'id="endpoint-secret"[^>]*>(whsec_[\w-]+)<', created.text)
    assert secret, "the secret is shown on the answer page"
    assert "<b>x</b>" not in created.text and "&lt;b&gt;x&lt;/b&gt;" in created.text
    assert "CRM <script>" not in created.text

    listed = browser.get(sqlite_suite.gateway_url + "/console/webhooks", timeout=10).text
    assert secret.group(1) not in listed
    endpoint_id = re.search(r'class="endpoint" data-id="([\w-]+)"', listed)
    assert endpoint_id
    log_page = browser.get(
        f"{sqlite_suite.gateway_url}/console/webhooks/{endpoint_id.group(1)}", timeout=10
    )
    assert log_page.status_code == 200
    switched = browser.post(
        f"{sqlite_suite.gateway_url}/console/webhooks/{endpoint_id.group(1)}/enabled",
        data={"csrf_token": form_token(log_page.text), "enabled": "0"},
        timeout=10,
    )
    assert switched.status_code == 200
    assert 'class="status disabled"' in switched.text

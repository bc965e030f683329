"""Texts through the SMS provider: identity in this process, sending to a local stand-in that
speaks Kavenegar's HTTP API (form fields under /v1/{api-key}/…, JSON answers with `return` and
`entries`) and checks each request's shape as the provider would."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest

from loyalty.identity.v1 import identity_pb2 as pb
from services.identity.models import SmsDelivery
from services.identity.provider_sms import ProviderSmsSender, local_id
from services.identity.settings import ProviderSmsSettings
from services.runtime.db import Database
from services.runtime.errors import ERROR_CODE_METADATA_KEY
from tests.unit.identity_support import Identity, running_identity

API_KEY = "test-api-key-0001"
SENDER_LINE = "10004346"
TEMPLATE = "club-login"
REQUIRED = {
    "verify/lookup.json": {"receptor", "token", "template"},
    "sms/send.json": {"receptor", "message", "sender"},
    "sms/status.json": {"messageid"},
}


class Provider:
    """Kavenegar as seen from outside: accepts well-formed calls, drops a repeated local id,
    and answers a scripted error status for the next calls when told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.failures: list[int] = []
        self.delivered: set[str] = set()
        self._by_local_id: dict[str, int] = {}
        self.last_id = 8792343
        self._lock = threading.Lock()

    def answer(self, path: str, fields: dict[str, str]) -> tuple[int, dict]:
        with self._lock:
            prefix = f"/v1/{API_KEY}/"
            if not path.startswith(prefix) or path[len(prefix) :] not in REQUIRED:
                return 404, _status(404, "method not found")
            method = path[len(prefix) :]
            if not REQUIRED[method] <= {k for k, v in fields.items() if v}:
                return 400, _status(400, "parameters incomplete")
            if method == "sms/status.json":
                entries = [
                    {"messageid": int(i), "status": 10 if i in self.delivered else 4}
                    for i in fields["messageid"].split(",")
                ]
                return 200, {**_status(200, "ok"), "entries": entries}
            if self.failures:
                status = self.failures.pop(0)
                return status, _status(status, "refused")
            self.calls.append((method, fields))
            local = fields.get("localid")
            if local and local in self._by_local_id:
                message_id = self._by_local_id[local]
            else:
                self.last_id += 1
                message_id = self.last_id
                if local:
                    self._by_local_id[local] = message_id
            entry = {"messageid": message_id, "status": 1, "receptor": fields["receptor"]}
            return 200, {**_status(200, "ok"), "entries": [entry]}


def _status(status: int, message: str) -> dict:
    return {"return": {"status": status, "message": message}}


@pytest.fixture
def provider() -> Iterator[tuple[Provider, str]]:
    stand_in = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert self.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
            length = int(self.headers["Content-Length"])
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            status, body = stand_in.answer(self.path, {k: v[0] for k, v in form.items()})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def identity(tmp_path: Path, provider: tuple[Provider, str]) -> Iterator[Identity]:
    env = {
        "IDENTITY_SMS_SENDER": "kavenegar",
        "IDENTITY_SMS_API_KEY": API_KEY,
        "IDENTITY_SMS_SENDER_LINE": SENDER_LINE,
        "IDENTITY_SMS_CODE_TEMPLATE": TEMPLATE,
        "IDENTITY_SMS_API_URL": provider[1],
        "IDENTITY_SMS_RETRY_PAUSE": "0",
        "IDENTITY_SMS_STATUS_POLL_INTERVAL": "0",
    }
    with running_identity(tmp_path, env) as running:
        yield running


def _consenting(identity: Identity, phone: str) -> str:
    consent = pb.Consent(channel=pb.CONSENT_CHANNEL_SMS, granted=True)
    return identity.enrol(phone, consents=[consent]).id


def _send(identity: Identity, message_id: str, member_id: str, body: str) -> int:
    request = pb.SendMessageRequest(
        message_id=message_id, member_id=member_id, channel=pb.MESSAGE_CHANNEL_SMS, body=body
    )
    return identity.stub.SendMessage(request).status


def test_a_login_code_goes_through_the_verify_template(
    identity: Identity, provider: tuple[Provider, str]
) -> None:
    stand_in, _ = provider
    identity.stub.StartLogin(pb.StartLoginRequest(phone="09121230001", client_address="10.0.0.1"))
    [(method, fields)] = stand_in.calls
    assert method == "verify/lookup.json"
    assert fields["receptor"] == "09121230001"
    assert fields["template"] == TEMPLATE
    assert fields["token"].isdigit()
    # The code sent is the code that logs in.
    login = identity.stub.VerifyLogin(
        pb.VerifyLoginRequest(phone="09121230001", code=fields["token"], client_address="x")
    )
    assert login.member.id


def test_a_campaign_text_goes_from_the_sender_line_once(
    identity: Identity, provider: tuple[Provider, str]
) -> None:
    stand_in, _ = provider
    member_id = _consenting(identity, "09121230002")
    first = _send(identity, "campaign-7:m1", member_id, "Double points this week")
    again = _send(identity, "campaign-7:m1", member_id, "Double points this week")
    assert first == again == pb.MESSAGE_STATUS_SENT
    [(method, fields)] = stand_in.calls
    assert method == "sms/send.json"
    assert fields == {
        "receptor": "09121230002",
        "message": "Double points this week\nلغو۱۱",  # marketing texts say how to stop them
        "sender": SENDER_LINE,
        "localid": str(local_id("campaign-7:m1")),
    }


def test_a_provider_that_cannot_answer_is_tried_again(
    identity: Identity, provider: tuple[Provider, str]
) -> None:
    stand_in, _ = provider
    member_id = _consenting(identity, "09121230003")
    stand_in.failures = [409, 502]
    assert _send(identity, "m-retry", member_id, "Hello") == pb.MESSAGE_STATUS_SENT
    assert [method for method, _ in stand_in.calls] == ["sms/send.json"]


def _refusal(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    codes = [v for k, v in raised.value.trailing_metadata() or () if k == ERROR_CODE_METADATA_KEY]
    return raised.value.code(), codes[0] if codes else ""


def test_a_refusal_is_reported_and_not_sent_again_and_an_outage_is_reported(
    identity: Identity, provider: tuple[Provider, str]
) -> None:
    stand_in, _ = provider
    member_id = _consenting(identity, "09121230004")
    stand_in.failures = [418]  # no credit left
    refused = _refusal(lambda: _send(identity, "m-refused", member_id, "Hello"))
    assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "sender-refused")
    assert _refusal(lambda: _send(identity, "m-refused", member_id, "Hello")) == refused
    assert stand_in.calls == []

    stand_in.failures = [500, 500, 500]
    down = _refusal(lambda: _send(identity, "m-down", member_id, "Hello"))
    assert down == (grpc.StatusCode.UNAVAILABLE, "sender-unavailable")
    # Handed over again once the provider answers: the text goes, once.
    assert _send(identity, "m-down", member_id, "Hello") == pb.MESSAGE_STATUS_SENT
    assert _send(identity, "m-down", member_id, "Hello") == pb.MESSAGE_STATUS_SENT
    assert len(stand_in.calls) == 1


def test_the_delivery_status_is_read_from_the_provider(
    identity: Identity, provider: tuple[Provider, str]
) -> None:
    stand_in, url = provider
    member_id = _consenting(identity, "09121230005")
    _send(identity, "m-status", member_id, "Hello")
    database = Database(f"sqlite:///{identity.data_dir / 'identity.db'}")
    sender = ProviderSmsSender(
        database, ProviderSmsSettings(API_KEY, SENDER_LINE, TEMPLATE, url, retry_pause=0)
    )

    def status() -> str:
        with database.read() as session:
            row = session.get(SmsDelivery, "m-status")
            assert row is not None
            return row.status

    try:
        assert status() == "queued"
        assert sender.poll_statuses() == 1
        assert status() == "sent-to-operator"
        stand_in.delivered.add(str(stand_in.last_id))
        assert sender.poll_statuses() == 1
        assert status() == "delivered"
        # Final: no longer asked about.
        assert sender.poll_statuses() == 0
    finally:
        database.dispose()

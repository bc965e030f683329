"""Helpers the tests share: starting real suites and talking to them like a POS would."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import grpc
import psycopg
import pytest
import redis
import requests
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families

from deploy.local import ROOT, SERVICES, Suite, postgres_bin, start_isolated
from services.identity.sessions import Sessions
from services.runtime.cache import Cache
from services.runtime.config import Env, database_url
from services.runtime.db import Database
from services.runtime.service_auth import (
    CREDENTIAL_HEADER,
    GATEWAY,
    SECRET_VARIABLE,
    ServiceCredentials,
)

PG_ADMIN_URL = os.environ.get("LOYALTY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("LOYALTY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(what: str) -> None:
    """In CI a missing PostgreSQL or Redis fails the run; on a laptop it skips the test."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not reachable, and CI requires it")
    pytest.skip(f"{what} is not reachable")


def needs_private_servers() -> None:
    """The drills start a PostgreSQL and a Redis of their own: both must be installed."""
    if not shutil.which("redis-server"):
        unavailable("redis-server")
    try:
        postgres_bin("initdb")
    except RuntimeError:
        unavailable("PostgreSQL's initdb")


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_reachable(url: str = REDIS_TEST_URL) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A database of its own on the machine's PostgreSQL, dropped afterwards: its URL."""
    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresDatabases:
    """A throw-away database per service on the machine's PostgreSQL."""

    def __init__(self) -> None:
        self.names = {name: f"loyalty_test_{uuid.uuid4().hex[:10]}_{name}" for name in SERVICES}
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        self.urls = {name: f"{base}/{db}" for name, db in self.names.items()}
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for db in self.names.values():
                conn.execute(f'CREATE DATABASE "{db}"')

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for db in self.names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


WEBHOOK_TEST_TIMINGS = {
    "WEBHOOKS_TIMEOUT": "1",
    "WEBHOOKS_RETRY_BASE": "0.2",
    "WEBHOOKS_RETRY_MAX": "1",
    "WEBHOOKS_FEED_INTERVAL": "0.3",
    "WEBHOOKS_DELIVERY_INTERVAL": "0.2",
}


def start_suite(
    tmp: Path,
    database_urls: dict[str, str] | None = None,
    redis_url: str = REDIS_TEST_URL,
    **extra_env: str,
) -> Suite:
    """The whole suite on free ports, its data and logs under `tmp`.

    Every test's client is 127.0.0.1, so the per-address limits on login codes and on failed
    staff sign-ins are raised here;
    the tests of that limit set their own. Webhook deliveries time out and are retried within
    a second or so."""
    extra_env.setdefault("IDENTITY_CODE_SENDS_PER_CLIENT", "10000")
    # Tests that sign in wrongly on purpose would otherwise lock the next test's staff out.
    extra_env.setdefault("IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE", "10000")
    # Webhook retries in a fraction of a second, not half a minute.
    for name, value in WEBHOOK_TEST_TIMINGS.items():
        extra_env.setdefault(name, value)
    # Messages go out at whatever hour the tests run (the quiet hours have tests of their own).
    extra_env.setdefault("CAMPAIGNS_QUIET_HOURS", "")
    return start_isolated(
        tmp, database_urls, redis_url, f"test-{uuid.uuid4().hex[:8]}", **extra_env
    )


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SignedCalls(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, credential: Callable[[], str]) -> None:
        self._credential = credential

    def _signed(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), (CREDENTIAL_HEADER, self._credential())]
        return _CallDetails(  # type: ignore[return-value]
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._signed(client_call_details), request)

    def intercept_stream_stream(self, continuation, client_call_details, requests):  # type: ignore[no-untyped-def]
        return continuation(self._signed(client_call_details), requests)


def service_channel(
    suite: Suite, service: str, caller: str = GATEWAY, credential: str | None = None
) -> grpc.Channel:
    """A plain channel to one of the suite's services whose calls carry `credential`, by default
    the one `caller` signs with the suite's secret."""
    signer = ServiceCredentials(caller, suite.env[SECRET_VARIABLE]).credential
    channel = grpc.insecure_channel(suite.env[f"{service.upper()}_ADDR"])
    return grpc.intercept_channel(
        channel, _SignedCalls(signer if credential is None else lambda: credential)
    )


def metrics_of(suite: Suite, process: str) -> dict[tuple[str, frozenset], float]:
    """What `process` (gateway, identity, points, campaigns) serves on /metrics now: each
    sample's value by (name, its labels)."""
    port = suite.env[f"{process.upper()}_METRICS_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def logs_of(suite: Suite) -> str:
    assert suite.log_dir is not None
    return "\n".join(p.read_text(errors="replace") for p in suite.log_dir.glob("*.log"))


@contextmanager
def identity_sessions(suite: Suite) -> Iterator[Sessions]:
    """The identity service's sessions on the suite's own database and Redis, as identity sees
    them: for opening or revoking a session the way a login or an erasure inside identity does."""
    env = Env(suite.env)
    database = Database(database_url(env, "identity"))
    cache = Cache(suite.env["REDIS_URL"], f"{suite.env['LOYALTY_CACHE_PREFIX']}:identity")
    try:
        yield Sessions(database, cache)
    finally:
        cache.close()
        database.dispose()


_phone_counter = random.randrange(10**6)


def new_phone() -> str:
    """A fresh valid Iranian mobile number in the local format a cashier types: 0912xxxxxxx."""
    global _phone_counter
    _phone_counter += 1
    return f"0912{(_phone_counter * 7919) % 10**7:07d}"


class Api:
    """An HTTP client for the gateway that checks every answer against /openapi.json."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.token = token
        spec = requests.get(base_url + "/openapi.json", timeout=5).json()
        self._operations = _spec_operations(spec)

    def with_token(self, token: str | None) -> Api:
        other = Api.__new__(Api)
        other.base_url, other.session, other.token = self.base_url, requests.Session(), token
        other._operations = self._operations
        return other

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs.setdefault("timeout", 15)
        response = self.session.request(method, self.base_url + path, headers=headers, **kwargs)
        self._check_against_spec(method, path.split("?")[0], response)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def _check_against_spec(self, method: str, path: str, response: requests.Response) -> None:
        operation = next(
            (
                operation
                for pattern, spec_method, operation in self._operations
                if spec_method == method.lower() and pattern.fullmatch(path)
            ),
            None,
        )
        if operation is None:
            if response.status_code != 404:
                raise AssertionError(f"{method} {path} answered but is not in /openapi.json")
            return
        documented = operation["responses"].get(str(response.status_code))
        assert documented, f"{method} {path}: status {response.status_code} is not documented"
        for content_type, media in documented.get("content", {}).items():
            assert response.headers["Content-Type"].startswith(content_type), (
                f"{method} {path}: {response.status_code} should be {content_type}"
            )
            body = response.json() if "json" in content_type else response.text
            errors = list(Draft202012Validator(media["schema"]).iter_errors(body))
            assert not errors, f"{method} {path}: body breaks its schema: {errors[0].message}"


def _spec_operations(spec: dict) -> list[tuple[re.Pattern, str, dict]]:
    operations = []
    for path, methods in spec["paths"].items():
        parts = re.split(r"(\{[^/]+\})", path)
        pattern = re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))
        for method, operation in methods.items():
            operations.append((pattern, method, operation))
    return operations


class Pos:
    """A store with its own POS key, ready to enrol members and sell."""

    def __init__(self, suite: Suite) -> None:
        admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
        store = admin.post("/v1/admin/stores", {"name": f"store {uuid.uuid4().hex[:6]}"})
        assert store.status_code == 201, store.text
        self.store_id = store.json()["id"]
        self.store_name = store.json()["name"]
        key = admin.post(f"/v1/admin/stores/{self.store_id}/api-keys")
        assert key.status_code == 201, key.text
        self.api_key = key.json()["api_key"]
        self.admin = admin
        self.api = admin.with_token(self.api_key)

    def enrol(self, **fields: Any) -> dict:
        fields.setdefault("phone", new_phone())
        response = self.api.post("/v1/members", fields)
        assert response.status_code == 201, response.text
        return response.json()

    def purchase(
        self,
        member_id: str,
        transaction_id: str | None = None,
        amount: str = "1250000",
        **extra: Any,
    ) -> requests.Response:
        body = {
            "transaction_id": transaction_id or f"T-{uuid.uuid4().hex[:12]}",
            "member_id": member_id,
            "amount": amount,
            "currency": "IRR",
            **extra,
        }
        return self.api.post("/v1/purchases", body)

    def refund(self, transaction_id: str, amount: str) -> None:
        """Refunds `amount` of the purchase, under a refund id of its own."""
        body = {"refund_id": f"RF-{uuid.uuid4().hex[:8]}", "amount": amount}
        refunded = self.api.post(f"/v1/purchases/{transaction_id}/refunds", body)
        assert refunded.status_code == 201, refunded.text

    def balance(self, member_id: str) -> dict:
        response = self.api.get(f"/v1/members/{member_id}/points")
        assert response.status_code == 200, response.text
        return response.json()


STAFF_PASSWORD = "correct horse battery staple"


def new_email() -> str:
    return f"staff-{uuid.uuid4().hex[:10]}@example.com"


def staff_login(suite: Suite, role: str, email: str | None = None) -> Api:
    """A new staff account with `role`, created by the admin, logged in: its API client."""
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    email = email or new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": role}
    )
    assert created.status_code == 201, created.text
    login = admin.with_token(None).post(
        "/v1/staff/login", {"email": email, "password": STAFF_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return admin.with_token(login.json()["token"])


def db_url(suite: Suite, service: str) -> str:
    return database_url(Env(suite.env), service)


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The points service's audit of its books, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "services.points", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sent_messages(suite: Suite, channel: str = "sms") -> list[dict]:
    """What the development sender handed to the (stand-in) SMS or e-mail provider."""
    path = Path(suite.env["LOYALTY_DATA_DIR"]) / "outbox" / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def last_code(suite: Suite, phone_e164: str) -> str:
    """The one-time code most recently sent to a phone."""
    for message in reversed(sent_messages(suite)):
        if message["to"] == phone_e164:
            found = re.search(r"\b(\d{6})\b", message["body"])
            assert found, "the message holds no code"
            return found.group(1)
    raise AssertionError("no code was sent to this phone")


T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` to its end on an event loop of its own thread: a browser test that ran
    earlier in the same test process leaves Playwright's loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def e164(local_phone: str) -> str:
    """`09121234567` → `+989121234567`."""
    return "+98" + local_phone.removeprefix("0")


def log_in(suite: Suite, local_phone: str) -> str:
    """A member session token, got the way the portal gets one."""
    api = Api(suite.gateway_url)
    sent = api.post("/v1/auth/otp", {"phone": local_phone})
    assert sent.status_code == 202, sent.text
    code = last_code(suite, e164(local_phone))
    verified = api.post("/v1/auth/otp/verify", {"phone": local_phone, "code": code})
    assert verified.status_code == 200, verified.text
    return verified.json()["token"]


def eventually(check: Callable[[], bool], within: float = 5.0) -> bool:
    """Whether `check` comes true within `within` seconds: for what the suite promises to do
    within a bound, such as every gateway process refusing a revoked session."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def member_view_caught_up(marketer: Api) -> bool:
    """Whether campaigns' member view has applied every event written so far (not yet, while a
    suite just started cannot say: its callers wait and ask again)."""
    answer = marketer.get("/v1/marketing/member-view")
    if answer.status_code == 503:
        return False
    assert answer.status_code == 200, answer.text
    feeds = answer.json()["feeds"]
    return bool(feeds) and all(feed["pending"] == 0 for feed in feeds)

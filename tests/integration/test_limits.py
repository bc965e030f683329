"""Login throttling and request rate limits, on a suite of their own with low limits and one
trusted proxy, so that each test can speak from addresses of its own (X-Forwarded-For)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis

from deploy.local import Suite, free_port, start_private_redis
from services.runtime.cache import Cache
from tests.support import (
    STAFF_PASSWORD,
    Api,
    Pos,
    identity_sessions,
    new_email,
    new_phone,
    start_suite,
    unavailable,
)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, redis_available: None) -> Iterator[Suite]:
    suite = start_suite(
        tmp_path_factory.mktemp("limited-suite"),
        GATEWAY_PROXY_HOPS="1",
        IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE="5",
        GATEWAY_RATE_PER_POS_KEY="8",
        GATEWAY_RATE_PER_MEMBER="5",
        GATEWAY_RATE_PER_IP="12",
        IDENTITY_CODE_SENDS_PER_CLIENT="3",
    )
    yield suite
    suite.stop()


def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def account(suite: Suite) -> str:
    email = new_email()
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    )
    assert created.status_code == 201
    return email


def login(suite: Suite, email: str, password: str, ip: str):
    return Api(suite.gateway_url).post(
        "/v1/staff/login",
        {"email": email, "password": password},
        headers={"X-Forwarded-For": ip},
    )


def test_the_sixth_wrong_login_in_a_minute_is_throttled(limited: Suite) -> None:
    email, ip = account(limited), address()
    wrong = [login(limited, email, "not the password", ip) for _ in range(5)]
    assert [w.status_code for w in wrong] == [401] * 5
    sixth = login(limited, email, "not the password", ip)
    assert (sixth.status_code, sixth.json()["code"]) == (429, "login-throttled")
    assert 1 <= int(sixth.headers["Retry-After"]) <= 60
    # The right password does not get through while throttled, from here or from elsewhere.
    assert login(limited, email, STAFF_PASSWORD, ip).status_code == 429
    assert login(limited, email, STAFF_PASSWORD, address()).status_code == 429
    # Other people log in as usual.
    assert login(limited, account(limited), STAFF_PASSWORD, address()).status_code == 200


def test_sixty_concurrent_wrong_passwords_check_at_most_five(limited: Suite) -> None:
    email = account(limited)
    with ThreadPoolExecutor(30) as pool:
        answers = list(
            pool.map(lambda _: login(limited, email, "not the password", address()), range(60))
        )
    codes = [(a.status_code, a.json()["code"]) for a in answers]
    assert codes.count((401, "invalid-credentials")) == 5
    assert codes.count((429, "login-throttled")) == 55
    # The minute's five checks are used up: the right password is not checked either.
    assert login(limited, email, STAFF_PASSWORD, address()).status_code == 429


def test_failed_logins_from_one_address_are_throttled_across_accounts(limited: Suite) -> None:
    ip = address()
    for _ in range(5):
        assert login(limited, new_email(), STAFF_PASSWORD, ip).status_code == 401
    mine = account(limited)
    assert login(limited, mine, STAFF_PASSWORD, ip).status_code == 429
    assert login(limited, mine, STAFF_PASSWORD, address()).status_code == 200


def test_successful_logins_are_not_counted(limited: Suite) -> None:
    email, ip = account(limited), address()
    for _ in range(7):
        assert login(limited, email, STAFF_PASSWORD, ip).status_code == 200


def test_each_pos_key_has_its_own_limit(limited: Suite) -> None:
    busy, quiet = Pos(limited), Pos(limited)
    member = busy.enrol()  # one request of the busy key's budget
    answers = [busy.api.get(f"/v1/members/{member['id']}/points") for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 7 + [429]
    assert answers[-1].json()["code"] == "rate-limited"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert quiet.api.get(f"/v1/members/{member['id']}/points").status_code == 200
    # The admin is not limited.
    assert busy.admin.get(f"/v1/members/{member['id']}/points").status_code == 200


def test_each_member_has_their_own_limit(limited: Suite) -> None:
    pos = Pos(limited)
    first, second = pos.enrol(), pos.enrol()
    with identity_sessions(limited) as sessions:
        tokens = [
            sessions.open("member", uuid.UUID(m["id"]), None, timedelta(minutes=5))
            for m in (first, second)
        ]
    api = Api(limited.gateway_url)
    first_calls = [api.with_token(tokens[0]).get("/v1/session") for _ in range(6)]
    assert [a.status_code for a in first_calls] == [200] * 5 + [429]
    assert api.with_token(tokens[1]).get("/v1/session").status_code == 200


def test_guessing_credentials_is_limited_by_address(limited: Suite) -> None:
    ip = address()
    api = Api(limited.gateway_url, "lk_" + "guess" * 8)
    answers = [
        api.get("/v1/members/identify?card=1", headers={"X-Forwarded-For": ip}) for _ in range(13)
    ]
    assert [a.status_code for a in answers] == [401] * 12 + [429]
    assert api.get("/healthz", headers={"X-Forwarded-For": ip}).status_code == 200


def test_login_codes_asked_from_one_address_are_limited(limited: Suite) -> None:
    ip, api = address(), Api(limited.gateway_url)
    answers = [
        api.post("/v1/auth/otp", {"phone": new_phone()}, headers={"X-Forwarded-For": ip})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["code"] == "too-many-codes"
    assert int(answers[-1].headers["Retry-After"]) > 0
    elsewhere = {"X-Forwarded-For": address()}
    assert api.post("/v1/auth/otp", {"phone": new_phone()}, headers=elsewhere).status_code == 202


def test_limits_keep_counting_after_redis_forgets_the_counting_script() -> None:
    # As after a restart or a failover: Redis knows no script until it is sent again.
    if not shutil.which("redis-server"):
        unavailable("redis-server")
    port = free_port()
    server = start_private_redis(port)
    try:
        cache = Cache(f"redis://127.0.0.1:{port}/0", "t")
        assert cache.hit("pos:key-1", limit=2, window_seconds=60).used == 1
        redis.Redis(port=port).script_flush()
        decisions = [cache.hit("pos:key-1", limit=2, window_seconds=60) for _ in range(2)]
        assert [(d.used, d.allowed) for d in decisions] == [(2, True), (3, False)]
    finally:
        server.terminate()
        server.wait()

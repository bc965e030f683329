"""The suite's service credential: who signed it, for how long it holds, what it lets do."""

from __future__ import annotations

import grpc
import pytest

from gateway.problems import from_rpc_error
from services.runtime import errors
from services.runtime.config import ConfigError, Env
from services.runtime.interceptors import domain_error_of
from services.runtime.service_auth import (
    CLOCK_SKEW_SECONDS,
    SERVICE_NOT_ALLOWED,
    SERVICE_UNAUTHENTICATED,
    VALID_SECONDS,
    ServiceCredentials,
    load_service_secret,
)

SECRET = "s" * 40
ADJUST = "/loyalty.points.v1.PointsService/AdjustPoints"
MERGE = "/loyalty.points.v1.PointsService/MergeMembers"
CAMPAIGN_POINTS = "/loyalty.points.v1.PointsService/ChangeCampaignPoints"
GRANT = "/loyalty.points.v1.PointsService/GrantReward"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_credential_holds_for_its_lifetime_and_not_a_second_longer() -> None:
    clock = Clock(1_800_000_030.0)
    credential = ServiceCredentials("identity", SECRET, clock).credential()
    points = ServiceCredentials("points", SECRET, clock)
    issued = int(credential.split(".")[1])
    assert points.check(credential, MERGE) == "identity"
    clock.now = issued + VALID_SECONDS - 0.5
    assert points.check(credential, MERGE) == "identity"  # now known, looked up
    clock.now = issued + VALID_SECONDS
    with pytest.raises(errors.Unauthenticated):
        points.check(credential, MERGE)


def test_a_credential_from_a_clock_far_ahead_is_refused() -> None:
    ahead = ServiceCredentials("identity", SECRET, Clock(1_800_000_000 + 2 * CLOCK_SKEW_SECONDS))
    points = ServiceCredentials("points", SECRET, Clock(1_800_000_000))
    with pytest.raises(errors.Unauthenticated):
        points.check(ahead.credential(), MERGE)


def test_the_signer_renews_its_credential_before_it_runs_out() -> None:
    clock = Clock(1_800_000_000.0)
    signer = ServiceCredentials("gateway", SECRET, clock)
    points = ServiceCredentials("points", SECRET, clock)
    for _ in range(3 * VALID_SECONDS):
        clock.now += 1
        assert points.check(signer.credential(), ADJUST) == "gateway"


@pytest.mark.parametrize(
    "credential",
    ["", "gateway", "gateway.1800000000", "stranger.1800000000.00", "gateway.x.00"],
)
def test_malformed_credentials_are_refused(credential: str) -> None:
    points = ServiceCredentials("points", SECRET, Clock(1_800_000_000))
    with pytest.raises(errors.Unauthenticated):
        points.check(credential, ADJUST)


def test_a_caller_may_make_only_its_own_calls() -> None:
    clock = Clock(1_800_000_000)
    points = ServiceCredentials("points", SECRET, clock)
    identity = ServiceCredentials("identity", SECRET, clock).credential()
    assert points.check(identity, MERGE) == "identity"
    with pytest.raises(errors.PermissionDenied):
        points.check(identity, ADJUST)
    # Campaigns pays missions and sells draw chances through a call of its own, and may not
    # adjust points as staff do.
    campaigns = ServiceCredentials("campaigns", SECRET, clock).credential()
    assert points.check(campaigns, CAMPAIGN_POINTS) == "campaigns"
    with pytest.raises(errors.PermissionDenied):
        points.check(campaigns, ADJUST)


@pytest.mark.parametrize("method", [GRANT, CAMPAIGN_POINTS])
def test_a_campaigns_reward_or_points_come_from_campaigns_alone_not_even_the_gateway(
    method: str,
) -> None:
    clock = Clock(1_800_000_000)
    points = ServiceCredentials("points", SECRET, clock)
    campaigns = ServiceCredentials("campaigns", SECRET, clock).credential()
    assert points.check(campaigns, method) == "campaigns"
    gateway = ServiceCredentials("gateway", SECRET, clock).credential()
    assert points.check(gateway, ADJUST) == "gateway"
    with pytest.raises(errors.PermissionDenied):
        points.check(gateway, method)


def test_a_short_secret_stops_start_up() -> None:
    with pytest.raises(ConfigError) as error:
        load_service_secret(Env({"LOYALTY_SERVICE_SECRET": "too-short"}))
    assert "LOYALTY_SERVICE_SECRET" in str(error.value)


class Refused(grpc.RpcError):
    def __init__(self, status: grpc.StatusCode, code: str) -> None:
        self._status, self._code = status, code

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return "refused"

    def trailing_metadata(self) -> tuple:
        return ((errors.ERROR_CODE_METADATA_KEY, self._code),)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, SERVICE_UNAUTHENTICATED),
        (grpc.StatusCode.PERMISSION_DENIED, SERVICE_NOT_ALLOWED),
    ],
)
def test_a_refused_service_credential_is_the_suites_fault_not_the_callers(
    status: grpc.StatusCode, code: str
) -> None:
    # Secrets that differ between processes: a member or cashier must not read it as their
    # own login having failed.
    assert from_rpc_error(Refused(status, code)).status == 500
    assert isinstance(domain_error_of(Refused(status, code)), errors.Unavailable)
    # A refusal of the caller's own login still reaches them as such.
    own = 401 if status == grpc.StatusCode.UNAUTHENTICATED else 403
    assert from_rpc_error(Refused(status, "invalid-session")).status == own

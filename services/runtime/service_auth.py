"""Who may call which service: a short-lived credential each process of the suite signs with the
suite's shared secret (`LOYALTY_SERVICE_SECRET`) and sends with every gRPC call.

A credential is `<caller>.<issued unix time>.<hex HMAC-SHA256(secret, "<caller>|<issued>")>`
in the `x-loyalty-service` metadata. Callers sign once a minute, every replica of a caller the
same value, so a service verifies each distinct credential once and then knows it by a dict
look-up. Health checks need none (Kubernetes probes them); everything else, reflection
included, is refused without one (UNAUTHENTICATED) or when the caller may not make that call
(PERMISSION_DENIED).

    python -m services.runtime.service_auth [caller]

prints a credential for `grpcurl -H "x-loyalty-service: …"`, made from the secret of this
environment (or of `$LOYALTY_DATA_DIR/service-secret`).
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from collections.abc import Callable

from services.runtime import errors
from services.runtime.config import ConfigError, Env, load_or_create_secret

CREDENTIAL_HEADER = "x-loyalty-service"
SECRET_VARIABLE = "LOYALTY_SERVICE_SECRET"
MIN_SECRET_LENGTH = 32
GATEWAY = "gateway"
# Which caller may make which calls of each service. The gateway, the suite's front door, may
# make them all; the services only the ones they make of each other. deploy/k8s's
# NetworkPolicies admit the same callers.
CALLERS: dict[str, dict[str, frozenset[str] | None]] = {
    "identity": {
        GATEWAY: None,
        # Messages go out through identity; the member view reads its events.
        "campaigns": frozenset({"SendMessage", "ListEvents"}),
        # Points learns members from its events, and asks about one it has not seen yet.
        "points": frozenset({"GetMember", "ListEvents"}),
        # Webhooks delivers its events to other systems.
        "webhooks": frozenset({"ListEvents"}),
    },
    "points": {
        GATEWAY: None,
        # An enrolment with a referral code asks whether the program is on.
        "identity": frozenset({"MergeMembers", "ForgetMember", "GetReferralProgram"}),
        # The member view reads its events; a message's {expiry} reads a balance; a coupon
        # campaign issues its coupons; a completed mission credits its points and gives its
        # catalog reward (GrantReward, which only campaigns may call), one the catalog holds
        # (ListRewards, as the mission is saved); chances in a prize draw are bought with
        # points (and returned when it is cancelled).
        "campaigns": frozenset(
            {
                "ListEvents",
                "GetBalance",
                "IssueCoupon",
                "ChangeCampaignPoints",
                "GrantReward",
                "ListRewards",
            }
        ),
        "webhooks": frozenset({"ListEvents"}),
    },
    "campaigns": {
        GATEWAY: None,
        # A purchase's bonus; who may see a reward shown to segments or stages.
        "points": frozenset({"EvaluatePurchase", "MatchAudiences"}),
    },
    "webhooks": {
        GATEWAY: None,
    },
}
# Calls one service alone may make, the gateway included among those refused: a mission's
# catalog reward is given free and a campaign's points change follows campaigns' own records,
# so no route of the gateway may make them.
ONLY: dict[str, dict[str, str]] = {
    "points": {"GrantReward": "campaigns", "ChangeCampaignPoints": "campaigns"}
}
# Every valid caller may use reflection: it shows only the published protos.
OPEN_TO_EVERY_CALLER = "/grpc.reflection."
SIGN_EVERY_SECONDS = 60
VALID_SECONDS = 300
# How far ahead of this clock another host's may run.
CLOCK_SKEW_SECONDS = 60
SERVICE_UNAUTHENTICATED = "service-unauthenticated"
SERVICE_NOT_ALLOWED = "service-not-allowed"


def load_service_secret(env: Env) -> str:
    """`LOYALTY_SERVICE_SECRET`, else the one kept in the data dir (created on first use)."""
    secret = load_or_create_secret(env, SECRET_VARIABLE, "service-secret")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{SECRET_VARIABLE} must be at least {MIN_SECRET_LENGTH} characters")
    return secret


class ServiceCredentials:
    """One process's name in the suite and the shared secret: signs its own calls and checks
    the credentials of the calls it receives."""

    def __init__(self, name: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self._key = secret.encode()
        self._clock = clock
        self._signed = ""
        self._sign_again_at = 0.0
        # Credentials already verified: credential -> (caller, valid until).
        self._known: dict[str, tuple[str, float]] = {}

    @classmethod
    def load(cls, name: str, env: Env | None = None) -> ServiceCredentials:
        return cls(name, load_service_secret(env or Env()))

    def _mac(self, caller: str, issued: int) -> str:
        return hmac.new(self._key, f"{caller}|{issued}".encode(), hashlib.sha256).hexdigest()

    def credential(self) -> str:
        """This process's credential for an outgoing call; signed anew once a minute."""
        now = self._clock()
        if now >= self._sign_again_at:
            issued = int(now) // SIGN_EVERY_SECONDS * SIGN_EVERY_SECONDS
            self._signed = f"{self.name}.{issued}.{self._mac(self.name, issued)}"
            self._sign_again_at = issued + SIGN_EVERY_SECONDS
        return self._signed

    def caller_of(self, credential: str) -> str:
        """The caller a credential names, if this suite signed it and it is still valid."""
        now = self._clock()
        known = self._known.get(credential)
        if known is not None and now < known[1]:
            return known[0]
        caller, _, rest = credential.partition(".")
        issued_text, _, mac = rest.partition(".")
        issued = int(issued_text) if issued_text.isdigit() and len(issued_text) <= 12 else 0
        valid_until = issued + VALID_SECONDS
        if not (
            any(caller in callers for callers in CALLERS.values())
            and issued - CLOCK_SKEW_SECONDS <= now < valid_until
            and hmac.compare_digest(mac, self._mac(caller, issued))
        ):
            # One answer for missing, forged and expired alike.
            raise errors.Unauthenticated(
                "a valid service credential is required", SERVICE_UNAUTHENTICATED
            )
        if len(self._known) > 256:  # only valid credentials get here: a handful a minute
            self._known = {k: v for k, v in self._known.items() if now < v[1]}
        self._known[credential] = (caller, valid_until)
        return caller

    def check(self, credential: str, method: str) -> str:
        """The caller, if it may call `method` (`/package.Service/Method`) of this service."""
        caller = self.caller_of(credential)
        if method.startswith(OPEN_TO_EVERY_CALLER):
            return caller
        name = method.rpartition("/")[2]
        allowed = CALLERS[self.name].get(caller, frozenset())
        only = ONLY.get(self.name, {}).get(name, caller)
        if (allowed is not None and name not in allowed) or caller != only:
            raise errors.PermissionDenied(f"{caller} may not call {method}", SERVICE_NOT_ALLOWED)
        return caller


def main() -> None:
    caller = sys.argv[1] if len(sys.argv) > 1 else GATEWAY
    try:
        print(ServiceCredentials.load(caller).credential())
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""The identity service's settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from services.identity.senders import CHANNELS, SENDER_KINDS
from services.runtime.config import DEFAULT_ADDRS, ConfigError, Env, data_dir, load_or_create_secret

OPT_OUT_LINE = "لغو۱۱"


@dataclass(frozen=True)
class CodePolicy:
    """How long a one-time code works, how many tries it allows, and how many may be sent in a
    window per phone (or e-mail address) and per client address."""

    ttl_seconds: int = 300
    max_tries: int = 5
    sends_per_phone: int = 3
    sends_per_client: int = 20
    window_seconds: int = 600


@dataclass(frozen=True)
class SenderSettings:
    """Where one channel's messages leave the product: `dev` (a file per channel under the
    data dir's outbox folder) or `webhook` (POSTed to `webhook_url`)."""

    kind: str = "dev"
    webhook_url: str = ""
    webhook_timeout: float = 5.0


@dataclass(frozen=True)
class ProviderSmsSettings:
    """The SMS provider's account (IDENTITY_SMS_SENDER=kavenegar)."""

    api_key: str
    sender_line: str
    # The verify template the account defined for one-time codes (its %token is the code);
    # empty: codes go out as plain texts from the sender line.
    code_template: str = ""
    base_url: str = "https://api.kavenegar.com"
    timeout: float = 10.0
    attempts: int = 3
    # The pause before the second attempt; it doubles for each one after.
    retry_pause: float = 1.0
    # How often the delivery status of accepted texts is asked for (0: never).
    status_poll_interval: float = 60.0


@dataclass(frozen=True)
class IdentitySettings:
    # Keys the hashes under which phones, e-mails and codes are found, and signs QR tokens.
    pii_key: str
    # The country a phone number without a country code is read in.
    region: str = "IR"
    points_addr: str = DEFAULT_ADDRS["points"]
    qr_ttl_seconds: int = 120
    member_session: timedelta = timedelta(minutes=60)
    staff_session: timedelta = timedelta(hours=12)
    staff_login_failures_per_minute: int = 5
    merge_repair_interval: float = 60.0
    login_count_cleanup_interval: float = 300.0
    codes: CodePolicy = CodePolicy()
    senders: Mapping[str, SenderSettings] = field(
        default_factory=lambda: {channel: SenderSettings() for channel in CHANNELS}
    )
    # Where the `dev` senders write.
    dev_outbox: Path = Path(".data/outbox")
    # The line every marketing SMS ends with: how to stop them, as Iranian operators require.
    sms_opt_out_line: str = OPT_OUT_LINE
    sms_provider: ProviderSmsSettings | None = None

    @classmethod
    def from_env(cls, env: Env) -> IdentitySettings:
        return cls(
            pii_key=load_or_create_secret(env, "IDENTITY_PII_KEY", "identity-pii.key"),
            region=env.str("LOYALTY_DEFAULT_REGION", "IR").upper(),
            points_addr=env.target("POINTS_ADDR", DEFAULT_ADDRS["points"]),
            qr_ttl_seconds=env.int("IDENTITY_QR_TTL_SECONDS", 120, minimum=10),
            member_session=timedelta(
                minutes=env.int("IDENTITY_MEMBER_SESSION_MINUTES", 60, minimum=1)
            ),
            staff_session=timedelta(hours=env.int("IDENTITY_STAFF_SESSION_HOURS", 12, minimum=1)),
            staff_login_failures_per_minute=env.int(
                "IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE", 5, minimum=1
            ),
            merge_repair_interval=env.float("IDENTITY_MERGE_REPAIR_INTERVAL", 60.0),
            codes=CodePolicy(
                ttl_seconds=env.int("IDENTITY_CODE_TTL_SECONDS", 300, minimum=30),
                max_tries=env.int("IDENTITY_CODE_MAX_TRIES", 5, minimum=1),
                sends_per_phone=env.int("IDENTITY_CODE_SENDS_PER_PHONE", 3, minimum=1),
                sends_per_client=env.int("IDENTITY_CODE_SENDS_PER_CLIENT", 20, minimum=1),
                window_seconds=env.int("IDENTITY_CODE_WINDOW_SECONDS", 600, minimum=60),
            ),
            senders={channel: _sender(env, channel) for channel in CHANNELS},
            dev_outbox=data_dir(env) / "outbox",
            sms_opt_out_line=env.str("IDENTITY_SMS_OPT_OUT_LINE", OPT_OUT_LINE),
            sms_provider=_sms_provider(env),
        )


def _sender(env: Env, channel: str) -> SenderSettings:
    """IDENTITY_SMS_SENDER / IDENTITY_EMAIL_SENDER and their webhook's URL and timeout."""
    prefix = f"IDENTITY_{channel.upper()}"
    kind = env.str(f"{prefix}_SENDER", "dev")
    if kind not in SENDER_KINDS:
        raise ConfigError(f"{prefix}_SENDER must be dev, webhook or kavenegar, not {kind!r}")
    if kind == "kavenegar" and channel != "sms":
        raise ConfigError(f"{prefix}_SENDER kavenegar sends texts only: use it for SMS")
    if kind in ("dev", "kavenegar"):
        return SenderSettings(kind)
    url = env.str(f"{prefix}_WEBHOOK_URL")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{prefix}_WEBHOOK_URL must be an http(s) URL")
    return SenderSettings(kind, url, env.float(f"{prefix}_WEBHOOK_TIMEOUT", 5.0))


def _sms_provider(env: Env) -> ProviderSmsSettings | None:
    """The Kavenegar account's settings, when IDENTITY_SMS_SENDER is kavenegar."""
    if env.str("IDENTITY_SMS_SENDER", "dev") != "kavenegar":
        return None
    api_key = env.str("IDENTITY_SMS_API_KEY")
    sender_line = env.str("IDENTITY_SMS_SENDER_LINE")
    if not api_key or not sender_line:
        raise ConfigError("IDENTITY_SMS_API_KEY and IDENTITY_SMS_SENDER_LINE are needed")
    base_url = env.str("IDENTITY_SMS_API_URL", "https://api.kavenegar.com")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("IDENTITY_SMS_API_URL must be an http(s) URL")
    return ProviderSmsSettings(
        api_key=api_key,
        sender_line=sender_line,
        code_template=env.str("IDENTITY_SMS_CODE_TEMPLATE"),
        base_url=base_url,
        timeout=env.float("IDENTITY_SMS_API_TIMEOUT", 10.0),
        attempts=env.int("IDENTITY_SMS_ATTEMPTS", 3, minimum=1),
        retry_pause=env.float("IDENTITY_SMS_RETRY_PAUSE", 1.0),
        status_poll_interval=env.float("IDENTITY_SMS_STATUS_POLL_INTERVAL", 60.0),
    )

"""Domain errors: raised by business code, mapped to a gRPC status in one interceptor.

Each carries a stable `code` (kebab-case) that callers can branch on; the gateway turns it into
the `code` of its problem+json answer.
"""

from __future__ import annotations

ERROR_CODE_METADATA_KEY = "loyalty-error-code"
RETRY_AFTER_METADATA_KEY = "loyalty-retry-after"


class DomainError(Exception):
    code = "invalid-request"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class InvalidArgument(DomainError):
    """The request itself is malformed."""


class FailedPrecondition(DomainError):
    """Well formed, but not acceptable in the current state (e.g. insufficient points)."""

    code = "unprocessable"


class NotFound(DomainError):
    code = "not-found"


class AlreadyExists(DomainError):
    code = "already-exists"


class Conflict(DomainError):
    """The request clashes with what already happened (e.g. capturing a voided hold)."""

    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class PermissionDenied(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    code = "unavailable"


class ResourceExhausted(DomainError):
    """Too many attempts: the caller may try again after `retry_after` seconds."""

    code = "rate-limited"

    def __init__(self, detail: str, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code)
        self.retry_after = max(1, retry_after)

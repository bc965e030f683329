"""Errors as RFC 9457 problem+json, with a stable `code` callers can branch on.

Status rules: a request that does not match its schema is 400; a value a service refuses
(INVALID_ARGUMENT, FAILED_PRECONDITION) is 422; the rest follow the gRPC status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import grpc
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from services.runtime.errors import ERROR_CODE_METADATA_KEY, RETRY_AFTER_METADATA_KEY
from services.runtime.interceptors import refused_service_credential

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/problem+json"

HTTP_STATUS_OF = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.FAILED_PRECONDITION: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
FALLBACK_CODE = {
    503: "service-unavailable",
    504: "upstream-timeout",
    500: "internal",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_document(problem: Problem) -> dict[str, Any]:
    return {
        "type": f"/problems/{problem.code}",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        **problem.extra,
    }


def problem_response(problem: Problem) -> Response:
    return Response(
        json.dumps(problem_document(problem)),
        status=problem.status,
        content_type=CONTENT_TYPE,
        headers=problem.headers,
    )


def from_rpc_error(error: grpc.RpcError) -> Problem:
    """The problem a caller sees for a failed call to a service."""
    # A service refused the gateway's own credential: the suite's secrets differ, which is no
    # fault of the caller's and nothing they could fix.
    status = 500 if refused_service_credential(error) else HTTP_STATUS_OF.get(error.code(), 500)
    code = ""
    retry_after = ""
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_CODE_METADATA_KEY:
            code = value
        elif key == RETRY_AFTER_METADATA_KEY:
            retry_after = value
    if status >= 500 or not code:
        # Never pass on an upstream's internal wording.
        code = code or FALLBACK_CODE.get(status, "upstream-error")
        detail = {
            503: "a service is unavailable, try again shortly",
            504: "a service did not answer in time, try again",
        }.get(status, "the request could not be completed")
        return Problem(status, code, detail)
    problem = Problem(status, code, error.details() or HTTPStatus(status).phrase)
    if retry_after.isdigit():
        problem.headers["Retry-After"] = retry_after
    return problem


def register(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        code = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            status, "bad-request" if status < 500 else "internal"
        )
        response = problem_response(Problem(status, code, error.description or ""))
        if status == 405 and isinstance(error.valid_methods, list):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return problem_response(Problem(500, "internal", "the request could not be completed"))

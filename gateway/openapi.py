"""The OpenAPI 3.1 document, built from the operations the routes declare."""

from __future__ import annotations

from typing import Any

from gateway.api import OPERATIONS, PROBLEM_SCHEMA
from gateway.auth import GUARDS, describe

SCHEME_OF_GRANT = {
    "admin": "adminToken",
    "pos": "posKey",
    "member": "memberSession",
    "staff:admin": "staffSession",
    "staff:marketer": "staffSession",
    "staff:support": "staffSession",
}
AUTH_PROBLEMS = {
    401: "Missing or invalid credentials",
    403: "The credentials are valid but not for this route",
}


def security(guard: str) -> list[dict[str, list]]:
    schemes = sorted({SCHEME_OF_GRANT[grant] for grant in GUARDS[guard]})
    return [{scheme: []} for scheme in schemes]


def document(currency: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        for status, (description, schema) in sorted(op.responses.items()):
            content_type = "application/problem+json" if status >= 400 else op.media_type
            entry: dict[str, Any] = {"description": description}
            if schema is None and status >= 400:
                schema = PROBLEM_SCHEMA
            if schema is not None:
                media = {"schema": schema}
                if status in op.response_examples:
                    media["example"] = op.response_examples[status]
                entry["content"] = {content_type: media}
            responses[str(status)] = entry
        problems = (
            {400: "The body or a parameter does not match the schema"}
            if (op.request_schema or op.parameters)
            else {}
        )
        if op.request_schema:
            problems[415] = "The body is not application/json"
            problems[413] = "The body is larger than 2 MiB"
        if op.auth:
            problems.update(AUTH_PROBLEMS)
        if op.rate_limited:
            problems[429] = "Too many requests: wait the seconds in `Retry-After`"
        problems.update(
            {
                408: "The request's head or body was not received in time",
                500: "Unexpected error",
                503: "A service is unavailable",
                504: "A service did not answer in time",
            }
        )
        for status, description in problems.items():
            responses.setdefault(
                str(status),
                {
                    "description": description,
                    "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
                },
            )
        spec: dict[str, Any] = {
            "summary": op.summary,
            "description": f"Callers: {describe(op.auth)}." if op.auth else "Callers: anyone.",
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}".replace(
                "{", ""
            )
            .replace("}", "")
            .replace(".", "_")
            .replace("-", "_"),
            "tags": [op.tag],
            "responses": responses,
            "security": security(op.auth) if op.auth else [],
        }
        if op.parameters:
            spec["parameters"] = op.parameters
        if op.request_schema:
            media: dict[str, Any] = {"schema": op.request_schema}
            if op.example:
                media["example"] = op.example
            spec["requestBody"] = {"required": True, "content": {"application/json": media}}
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty club API",
            "version": "1.0.0",
            "description": (
                "Money is a decimal string in the currency's major unit "
                f"(the program runs in {currency}); points are integers. "
                "Errors are application/problem+json with a stable `code`."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer"},
                "posKey": {"type": "http", "scheme": "bearer"},
                "staffSession": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "From `POST /v1/staff/login`; the role decides the routes",
                },
                "memberSession": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "From `POST /v1/auth/otp/verify`",
                },
            },
            "schemas": {"Problem": PROBLEM_SCHEMA},
        },
    }

"""Routes declared once: each carries its OpenAPI description, and its request schema both
documents the body and validates it, so the spec and the behaviour cannot drift apart."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from flask import Blueprint, g, request
from jsonschema import Draft202012Validator

from gateway import limits
from gateway.auth import GUARDS, authenticate
from gateway.problems import Problem

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable error code, e.g. `invalid-amount`"},
    },
}


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    auth: str | None
    rate_limited: bool
    request_schema: dict | None
    responses: dict[int, tuple[str, dict | None]]
    parameters: list[dict] = field(default_factory=list)
    example: dict | None = None
    response_examples: dict[int, Any] = field(default_factory=dict)
    # What a successful answer is: JSON, or a file such as text/csv.
    media_type: str = "application/json"


OPERATIONS: list[Operation] = []
# Ids, phones, cursors and tokens are all far shorter; so a request line stays well within the
# 8190 bytes the HTTP server accepts even when every character is percent-encoded UTF-8.
TEXT_PARAMETER = {"type": "string", "maxLength": 300}
# Far deeper than any body a route declares.
MAX_JSON_DEPTH = 64
_TOO_DEEP = f"the body nests lists or objects more than {MAX_JSON_DEPTH} deep"


def _openapi_path(rule: str) -> str:
    """`/v1/members/<member_id>/points` → `/v1/members/{member_id}/points`."""
    return rule.replace("<", "{").replace(">", "}")


def _path_parameters(rule: str) -> list[dict]:
    names = [part[1:-1].split(":")[-1] for part in rule.split("/") if part.startswith("<")]
    return [{"name": n, "in": "path", "required": True, "schema": TEXT_PARAMETER} for n in names]


def operation(
    blueprint: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    auth: str | None,
    responses: dict[int, tuple[str, dict | None]],
    request_schema: dict | None = None,
    query: list[dict] | None = None,
    example: dict | None = None,
    response_examples: dict[int, Any] | None = None,
    rate_limited: bool = True,
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a route on `blueprint` and its description in the OpenAPI document.

    `auth` names the guard of `gateway.auth.GUARDS` that says who may call (None: anyone); the
    caller is checked first and left in `g.caller`, then the request is counted against the
    caller's rate limit (`gateway.limits`) unless `rate_limited` is False (probes, the spec).
    With `request_schema`, the JSON body is then checked against it (400 `invalid-request`
    naming the field) and only its declared properties reach the view, as the keyword argument
    `body`.
    """
    if auth is not None and auth not in GUARDS:
        raise ValueError(f"{rule}: unknown guard {auth!r}")
    validator = _BodyValidator(request_schema) if request_schema else None
    OPERATIONS.append(
        Operation(
            method=method,
            path=_openapi_path(rule),
            summary=summary,
            tag=tag,
            auth=auth,
            rate_limited=rate_limited,
            request_schema=request_schema,
            responses=responses,
            parameters=_path_parameters(rule) + (query or []),
            example=example,
            response_examples=response_examples or {},
            media_type=media_type,
        )
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            caller = None
            if auth is not None:
                try:
                    caller = g.caller = authenticate(auth)
                except Problem as problem:
                    # Guessing credentials counts against the guesser's address.
                    if rate_limited and problem.status == 401:
                        limits.charge(None)
                    raise
            if rate_limited:
                limits.charge(caller)
            if validator is not None:
                kwargs["body"] = validator.validated(json_body())
            return view(*args, **kwargs)

        blueprint.add_url_rule(rule, view.__name__, wrapped, methods=[method])
        return wrapped

    return decorate


def json_body() -> Any:
    """The request's JSON body: 415 `unsupported-media-type` if it is not declared JSON, 400
    `invalid-json` if it is not JSON, nests deeper than MAX_JSON_DEPTH or holds a string that
    is not Unicode."""
    if not request.is_json:
        raise Problem(415, "unsupported-media-type", "send the body as application/json")
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except RecursionError:
        raise Problem(400, "invalid-json", _TOO_DEEP) from None
    except ValueError:
        raise Problem(400, "invalid-json", "the body is not valid JSON") from None
    # Every list or object opens with a bracket, and every escape with a backslash, each a
    # byte of that value in any encoding JSON may come in: a body with few brackets cannot
    # nest deeply, one without a backslash cannot spell a surrogate, and the usual body skips
    # both checks below.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and not _nests_at_most(
        body, MAX_JSON_DEPTH
    ):
        raise Problem(400, "invalid-json", _TOO_DEEP)
    if b"\\" in raw:
        try:
            # JSON escapes can spell lone surrogates, which are not text anywhere downstream.
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise Problem(
                400, "invalid-json", "the body holds a string that is not valid Unicode"
            ) from None
    return body


def _nests_at_most(value: Any, depth: int) -> bool:
    """Whether lists and objects nest at most `depth` deep in `value`; without recursion, as
    everything that walks the body afterwards may recurse."""
    level: list[Any] = [value]
    for _ in range(depth + 1):
        containers = [item for item in level if isinstance(item, list | dict)]
        if not containers:
            return True
        level = [
            item
            for container in containers
            for item in (container.values() if isinstance(container, dict) else container)
        ]
    return False


class _BodyValidator:
    """Checks bodies against one request schema, built once for its route.

    jsonschema's validator is the judge, and names the first wrong field; a compiled one
    (jsonschema-rs, same draft) answers whether a body is valid some hundred times faster, so a
    valid body, the usual one, is passed by it alone. A body it refuses is judged again by
    jsonschema, so a body the two drafts' implementations would see differently is answered as
    jsonschema answers it.
    """

    def __init__(self, schema: dict) -> None:
        self._schema = schema
        self._judge = Draft202012Validator(schema)
        # Formats are annotations in draft 2020-12, as jsonschema (without a format checker)
        # treats them.
        self._fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=False)

    def validated(self, body: Any) -> dict:
        """`body`'s declared properties, if it is valid; else 400 `invalid-request` naming the
        first wrong field."""
        if not self._passes(body):
            errors = sorted(self._judge.iter_errors(body), key=lambda e: list(e.absolute_path))
            if errors:
                first = errors[0]
                where = ".".join(str(p) for p in first.absolute_path) or "body"
                raise Problem(400, "invalid-request", f"{where}: {first.message}", field=where)
        declared = self._schema.get("properties", {})
        return {
            key: _as_declared(value, declared[key])
            for key, value in body.items()
            if key in declared
        }

    def _passes(self, body: Any) -> bool:
        try:
            return self._fast.is_valid(body)
        except (ValueError, TypeError, OverflowError):  # a value it cannot take, like NaN
            return False


def _as_declared(value: Any, schema: dict) -> Any:
    """`5.0` is an integer to JSON Schema, but the services take Python ints."""
    if isinstance(value, float) and schema.get("type") == "integer":
        return int(value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: _as_declared(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_as_declared(item, schema["items"]) for item in value]
    return value


def query_param(
    name: str, description: str, schema: dict | None = None, example: Any = None
) -> dict:
    parameter = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or TEXT_PARAMETER,
    }
    if example is not None:
        parameter["example"] = example
    return parameter

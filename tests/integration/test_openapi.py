"""/openapi.json describes every route the gateway serves, and is a valid OpenAPI 3.1 document."""

from __future__ import annotations

import re

import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from deploy.local import Suite
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.web import PAGE_BLUEPRINTS
from services.runtime.config import Env


def test_the_document_is_valid_openapi(sqlite_suite: Suite) -> None:
    spec = requests.get(sqlite_suite.gateway_url + "/openapi.json", timeout=5).json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_api_route_the_gateway_serves_is_documented(sqlite_suite: Suite) -> None:
    spec = requests.get(sqlite_suite.gateway_url + "/openapi.json", timeout=5).json()
    documented = {
        (method.upper(), path) for path, methods in spec["paths"].items() for method in methods
    }
    app = create_app(GatewayConfig.load(Env({"REDIS_URL": ""})))
    served = {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and rule.endpoint.split(".")[0] not in PAGE_BLUEPRINTS
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert served == documented
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert operation["summary"], (method, path)
            for status, response in operation["responses"].items():
                # 204 No Content is the one answer without a body.
                assert ("content" in response) == (status != "204"), (method, path, status)


def test_request_bodies_are_documented_with_an_example(sqlite_suite: Suite) -> None:
    spec = requests.get(sqlite_suite.gateway_url + "/openapi.json", timeout=5).json()
    bodies = [
        (path, operation["requestBody"]["content"]["application/json"])
        for path, methods in spec["paths"].items()
        for operation in methods.values()
        if "requestBody" in operation
    ]
    assert {path for path, _ in bodies} >= {"/v1/purchases", "/v1/members", "/v1/redemptions"}
    for path, body in bodies:
        assert body["schema"]["type"] == "object", path
        assert "example" in body, path


def test_every_pos_route_has_examples_that_match_their_schemas(sqlite_suite: Suite) -> None:
    spec = requests.get(sqlite_suite.gateway_url + "/openapi.json", timeout=5).json()
    pos_routes = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if {"posKey": []} in operation["security"]
    ]
    assert len(pos_routes) >= 10
    for method, path, operation in pos_routes:
        if "requestBody" in operation:
            media = operation["requestBody"]["content"]["application/json"]
            assert not list(Draft202012Validator(media["schema"]).iter_errors(media["example"]))
        successes = [s for s in operation["responses"] if s.startswith("2")]
        assert successes, (method, path)
        for status in successes:
            media = operation["responses"][status]["content"]["application/json"]
            assert "example" in media, (method, path, status)
            errors = list(Draft202012Validator(media["schema"]).iter_errors(media["example"]))
            assert not errors, (method, path, status, errors[0].message)

"""Schema-based fuzzing: schemathesis sends generated requests to every operation of
/openapi.json on a running suite; no answer may be a 5xx or break its documented schema.

Bounded: a fixed number of valid and of invalid requests per operation (about a minute)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from deploy.local import Suite
from tests.support import Pos, log_in, new_phone, start_suite

VALID_PER_OPERATION = 15
INVALID_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_suite(
    tmp_path_factory: pytest.TempPathFactory, redis_available: None
) -> Iterator[Suite]:
    """A suite of its own: the fuzzer enrols the documented example phone, among much else."""
    suite = start_suite(tmp_path_factory.mktemp("fuzzed-suite"))
    yield suite
    suite.stop()


def world(suite: Suite) -> tuple[dict[str, str], dict[str, str]]:
    """The admin token and a POS key; the ids of that key's store and of a member with points."""
    pos = Pos(suite)
    phone = new_phone()
    member = pos.enrol(phone=phone)
    assert pos.purchase(member["id"]).status_code == 201
    tokens = {
        "adminToken": suite.env["LOYALTY_ADMIN_TOKEN"],
        "posKey": pos.api_key,
        "memberSession": log_in(suite, phone),
    }
    return tokens, {"member_id": member["id"], "store_id": pos.store_id}


def headers_for(operation: schemathesis.APIOperation, tokens: dict[str, str]) -> dict[str, str]:
    # A POS key where the route admits one (so the store's own rules run), else the admin token,
    # else the member's session. Logging out would end that session for the routes after it.
    schemes = {name for option in operation.definition.raw.get("security", []) for name in option}
    if operation.path.endswith("/logout"):
        schemes = set()
    preferred = ("posKey", "adminToken", "memberSession")
    token = next((tokens[s] for s in preferred if s in schemes), None)
    return {"Authorization": f"Bearer {token}"} if token else {}


def fuzz(
    operation: schemathesis.APIOperation, strategy: st.SearchStrategy, headers: dict, count: int
) -> str | None:
    """The first failure hypothesis finds for this operation, shrunk, or None."""

    @given(case=strategy)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        # The same examples on every run: CI's answer is the one a developer reproduces.
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None  # nothing to make invalid: an operation without parameters or body
    except Exception as failure:
        return f"{operation.label}: {failure}"
    return None


def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(fuzzed_suite: Suite) -> None:
    tokens, known = world(fuzzed_suite)
    schema = schemathesis.openapi.from_url(fuzzed_suite.gateway_url + "/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = headers_for(operation, tokens)
        strategies = [
            (operation.as_strategy(GenerationMode.POSITIVE), VALID_PER_OPERATION),
            (operation.as_strategy(GenerationMode.NEGATIVE), INVALID_PER_OPERATION),
        ]
        # Random ids mostly meet 404s; with real ones the request reaches the ledger itself.
        path_names = {p.name for p in operation.path_parameters}
        if path_names and path_names <= known.keys():
            real = {name: known[name] for name in path_names}
            strategies.append((operation.as_strategy(path_parameters=real), VALID_PER_OPERATION))
        for strategy, count in strategies:
            failure = fuzz(operation, strategy, headers, count)
            if failure:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)

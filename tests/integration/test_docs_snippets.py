"""Every shell snippet of the README, docs/ and deploy/README.md runs as written against a suite
started as `make run` starts it, and answers what the document shows.

A ```sh block is run unless the line before it says why not (`<!-- not run: needs Docker -->`).
A document's blocks run in order in one shell, as a reader would type them in one terminal, from a
directory holding the suite's `.data` and `.venv`. A comment line of a block that is JSON
(`# {"id":"…","role":"marketer"}`) or a `name: value` line (`# api_key: lk_…`) is an answer the
document shows: some answer of that block must have those fields with those values, `…` standing
for what varies. An error (problem+json) the document does not show fails the block.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from deploy.local import ROOT
from tests.support import Suite, start_suite

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy/README.md"]
SHELLS = {"sh", "bash", "shell"}
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)
NOT_RUN = re.compile(r"<!-- not run: (\S.*?) -->")
# Commands no test can run here: they start the suite itself or need what a test machine lacks.
UNRUNNABLE = re.compile(
    r"(^|[|;&(]\s*|\$\()\s*(make|docker|kubectl|kind|minikube|kustomize|grpcurl|pg_dump|pg_restore)\b",
    re.M,
)
JSON_ANSWER = re.compile(r"^\s*#\s*([\[{].*)$", re.M)
LINE_ANSWER = re.compile(r"^\s*#\s*([a-z_]+):(?: (.*))?$", re.M)
ANY = "…"


@dataclass
class Snippet:
    document: Path
    line: int
    code: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def snippets(document: Path) -> Iterator[Snippet]:
    text = document.read_text()
    for fence in FENCE.finditer(text):
        if fence.group(2) not in SHELLS:
            continue
        indent = len(fence.group(1))
        code = "".join(line[indent:] for line in fence.group(3).splitlines(keepends=True))
        before = text[: fence.start()].rstrip("\n").rpartition("\n")[2].strip()
        mark = NOT_RUN.fullmatch(before)
        line = text.count("\n", 0, fence.start()) + 1
        yield Snippet(document, line, code, mark.group(1) if mark else None)


def runnable(document: Path) -> list[Snippet]:
    return [snippet for snippet in snippets(document) if snippet.not_run is None]


def answers(output: str) -> list[Any]:
    """Every JSON value in `output`, also several on one line (curl adds no newline)."""
    decoder = json.JSONDecoder()
    found, index = [], 0
    while index < len(output):
        if output[index] in "{[":
            try:
                value, index = decoder.raw_decode(output, index)
            except json.JSONDecodeError:
                index += 1
            else:
                found.append(value)
                continue
        index += 1
    return found


def matches(shown: Any, actual: Any) -> bool:
    """`actual` has every field `shown` has, with its value; `…` in a string is anything."""
    if isinstance(shown, str) and ANY in shown:
        if shown == ANY:
            return True
        pattern = ".*".join(re.escape(part) for part in shown.split(ANY))
        return isinstance(actual, str) and re.fullmatch(pattern, actual, re.S) is not None
    if isinstance(shown, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in shown.items()
        )
    if isinstance(shown, list):
        if not isinstance(actual, list) or (not shown and actual):
            return False
        return all(any(matches(item, other) for other in actual) for item in shown)
    return type(shown) is type(actual) and shown == actual


def check_answers(snippet: Snippet, output: str) -> int:
    """Asserts the answers `snippet` shows are in its `output`; returns how many it shows."""
    got = answers(output)
    shown = [json.loads(text) for text in JSON_ANSWER.findall(snippet.code)]
    for expected in shown:
        assert any(matches(expected, value) for value in got), (
            f"{snippet}: no answer like {expected}\n{output}"
        )
    for value in got:
        if isinstance(value, dict) and str(value.get("type", "")).startswith("/problems/"):
            assert any(matches(expected, value) for expected in shown), (
                f"{snippet}: an error the document does not show: {value}"
            )
    lines = LINE_ANSWER.findall(snippet.code)
    printed = output.splitlines()
    for name, value in lines:
        assert any(matches(f"{name}: {value}".rstrip(), line.rstrip()) for line in printed), (
            f"{snippet}: no line like '{name}: {value}'\n{output}"
        )
    return len(shown) + len(lines)


def test_every_snippet_is_run_or_says_why_not() -> None:
    for document in DOCUMENTS:
        for snippet in snippets(document):
            if snippet.not_run is None:
                assert not UNRUNNABLE.search(snippet.code), (
                    f"{snippet} cannot run here: mark it <!-- not run: why -->"
                )
    assert runnable(ROOT / "README.md") and runnable(ROOT / "deploy/README.md")


def test_the_checker_refuses_a_different_answer() -> None:
    shown = '# {"role":"marketer","id":"ls_…"}\n# key: lk_…\n'
    snippet = Snippet(ROOT / "README.md", 1, shown, None)
    assert check_answers(snippet, '{"role":"marketer","id":"ls_1","extra":1}\nkey: lk_2\n') == 2
    for wrong in (
        '{"role":"support","id":"ls_1"}\nkey: lk_2',
        '{"role":"marketer","id":"x_1"}\nkey: lk_2',
        '{"role":"marketer","id":"ls_1"}\nkey: other',
        '{"role":"marketer","id":"ls_1"}{"type":"/problems/forbidden","status":403}\nkey: lk_2',
    ):
        with pytest.raises(AssertionError):
            check_answers(snippet, wrong)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    suite = start_suite(tmp_path_factory.mktemp("docs-suite"))
    try:
        yield suite
    finally:
        suite.stop()


@pytest.mark.parametrize(
    "document",
    [document for document in DOCUMENTS if runnable(document)],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_the_documents_snippets_answer_as_shown(
    document: Path, suite: Suite, tmp_path: Path
) -> None:
    blocks = runnable(document)
    # The directory a reader types in: the repository's `.venv` and the suite's `.data`.
    (tmp_path / ".data").symlink_to(suite.env["LOYALTY_DATA_DIR"])
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    admin = {"Authorization": f"Bearer {suite.env['LOYALTY_ADMIN_TOKEN']}"}
    store = requests.post(
        f"{suite.gateway_url}/v1/admin/stores", json={"name": "Docs store"}, headers=admin
    ).json()["id"]
    key = requests.post(
        f"{suite.gateway_url}/v1/admin/stores/{store}/api-keys", headers=admin
    ).json()["key_id"]
    # What the operator's guide assumes is at hand: the store and the key it retires.
    env = {**suite.env, "PYTHONPATH": str(ROOT), "STORE_ID": store, "KEY_ID": key}
    port = suite.env["GATEWAY_PORT"]
    script = "".join(
        f"printf '\\n@@snippet {index}@@\\n'\n{block.code}\n" for index, block in enumerate(blocks)
    ).replace("localhost:8080", f"localhost:{port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    outputs = re.split(r"\n@@snippet \d+@@\n", result.stdout)[1:]
    failed = blocks[len(outputs) - 1] if outputs else blocks[0]
    assert result.returncode == 0, f"{failed} failed:\n{result.stdout[-2000:]}\n{result.stderr}"
    assert len(outputs) == len(blocks)
    shown = sum(check_answers(block, output) for block, output in zip(blocks, outputs, strict=True))
    assert shown, f"{document.relative_to(ROOT)} shows no answer to check"

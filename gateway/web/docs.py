"""`/docs`: the API reference, rendered on the server from /openapi.json's own document.

Each operation lists its parameters, request and response schemas with examples, and has a
"try it" form; a small script (static/docs.js) sends it with the token typed at the top.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from gateway.openapi import document
from gateway.web import pages

bp = Blueprint("docs", __name__)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def operations(spec: dict) -> list[dict]:
    listed = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            request = op.get("requestBody", {}).get("content", {}).get("application/json")
            responses = []
            for status, answer in op["responses"].items():
                media = next(iter(answer.get("content", {}).values()), {})
                responses.append(
                    {
                        "status": status,
                        "description": answer["description"],
                        "schema": pretty(media["schema"]) if "schema" in media else "",
                        "example": pretty(media["example"]) if "example" in media else "",
                    }
                )
            listed.append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op["summary"],
                    "description": op.get("description", ""),
                    "tag": op["tags"][0],
                    "parameters": op.get("parameters", []),
                    "request_schema": pretty(request["schema"]) if request else "",
                    "request_example": pretty(request.get("example", {})) if request else "",
                    "responses": responses,
                }
            )
    return listed


@bp.get("/docs")
def show() -> Response:
    spec = document(current_app.config["LOYALTY"].currency)
    return pages.page("docs.html", info=spec["info"], operations=operations(spec))

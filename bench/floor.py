"""The floors of the load benchmark: what this stack (Flask under the gateway's own gunicorn
settings, psycopg, PostgreSQL) answers when a route does only a call's essential work.

    python -m bench.floor        (GATEWAY_PORT and FLOOR_DATABASE_URL from the environment)

- `POST /v1/purchases`: a purchase's essential work in one PostgreSQL transaction
  (bench.floor_work);
- `GET /v1/members/<id>/points`: one SELECT of a balance;
- `GET /ping`: nothing at all;
- `GET /hops/<n>`: nothing but a call that crosses n gRPC servers doing nothing (bench.relay,
  addresses in FLOOR_RELAYS, the first calling the next): a balance read's one hop, a
  purchase's two, with no work anywhere;
- `POST /relayed/v1/purchases` and `GET /relayed/v1/members/<id>/points`: the purchase floor's
  transaction run by the last of two relays, the balance floor's SELECT by the last relay after
  one hop: the suite's shape with nothing but each call's essential work in it.

The routes and bodies are the suite's, so one load script drives both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from flask import Flask, jsonify, request

from bench import floor_work, relay
from gateway.__main__ import GatewayServer
from gateway.config import GatewayConfig
from services.runtime.config import Env

DATABASE_VARIABLE = relay.DATABASE_VARIABLE
RELAYS_VARIABLE = "FLOOR_RELAYS"

SCHEMA = """
CREATE TABLE floor_balances (member_id uuid PRIMARY KEY, points bigint NOT NULL);
CREATE TABLE floor_purchases (
    transaction_id text PRIMARY KEY, member_id uuid NOT NULL, amount bigint NOT NULL,
    points bigint NOT NULL);
CREATE TABLE floor_entries (
    id bigserial PRIMARY KEY, member_id uuid NOT NULL, transaction_id text NOT NULL,
    points bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""


def create_schema(url: str, members: int) -> None:
    """The floor's tables, with a balance row for each of the scale data's members."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO floor_balances"
            " SELECT md5('member-' || i)::uuid, 0 FROM generate_series(0, %s - 1) i",
            (members,),
        )
        conn.execute("VACUUM (ANALYZE)")


def create_app(url: str, relays: Sequence[str] = ()) -> Flask:
    """The floor's routes on the database at `url`; `relays`: the relays' addresses, the
    first calling the next."""
    app = Flask(__name__)
    local = threading.local()
    calls = [relay.caller(addr) for addr in relays]
    # The relayed routes enter the chain where a purchase crosses two relays, a balance read one.
    purchase_relay = relay.caller(relays[-2], relay.PURCHASE) if len(relays) >= 2 else None
    balance_relay = relay.caller(relays[-1], relay.BALANCE) if relays else None

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(url)
        return conn

    @app.get("/ping")
    def ping() -> Any:
        return jsonify(status="ok")

    @app.get("/hops/<int:count>")
    def hops(count: int) -> Any:
        if not 0 < count <= len(calls):
            return jsonify(code="no-such-relay"), 404
        return jsonify(answer=calls[-count](b"floor").decode())

    @app.get("/v1/members/<member_id>/points")
    def balance(member_id: str) -> Any:
        found = floor_work.balance(connection(), member_id)
        return jsonify(found) if found else (jsonify(code="member-not-found"), 404)

    @app.post("/v1/purchases")
    def purchase() -> Any:
        return jsonify(floor_work.purchase(connection(), request.get_json())), 201

    @app.get("/relayed/v1/members/<member_id>/points")
    def relayed_balance(member_id: str) -> Any:
        if balance_relay is None:
            return jsonify(code="no-such-relay"), 404
        found = json.loads(balance_relay(member_id.encode()))
        return jsonify(found) if found else (jsonify(code="member-not-found"), 404)

    @app.post("/relayed/v1/purchases")
    def relayed_purchase() -> Any:
        if purchase_relay is None:
            return jsonify(code="no-such-relay"), 404
        answer = purchase_relay(request.get_data())
        return app.response_class(answer, status=201, mimetype="application/json")

    return app


class FloorServer(GatewayServer):
    """gunicorn exactly as the gateway runs it, serving the floor's routes instead."""

    def load(self) -> Any:
        env = Env()
        relays = [addr for addr in env.str(RELAYS_VARIABLE, "").split(",") if addr]
        return create_app(env.str(DATABASE_VARIABLE), relays)


def main() -> None:
    FloorServer(GatewayConfig.load()).run()


if __name__ == "__main__":
    main()

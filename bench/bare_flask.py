"""The baseline of the load benchmark: one bare Flask route, served by gunicorn exactly as the
gateway is (gthread workers), so the gateway's own cost can be read off the difference."""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify(status="ok")

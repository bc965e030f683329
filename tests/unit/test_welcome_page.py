"""`/` is a small page in English and Persian linking every other page, outside the JSON API."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.openapi import document
from services.runtime.config import Env

PAGES = ("/portal", "/till", "/console", "/docs")


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return create_app(GatewayConfig.load(Env({"REDIS_URL": ""}))).test_client()


def links(html: str) -> set[str]:
    return set(re.findall(r'<a href="([^"]+)"', html))


def test_the_welcome_page_links_every_page_in_english(client: FlaskClient) -> None:
    client.delete_cookie("lang")
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.content_type == "text/html; charset=utf-8"
    html = answer.get_data(as_text=True)
    assert links(html) >= set(PAGES)
    assert '<html lang="en" dir="ltr">' in html
    for title in ("My club", "Till", "Marketing console", "API reference"):
        assert f">{title}</a>" in html
    assert "record a purchase" in html


def test_the_welcome_page_reads_right_to_left_in_persian(client: FlaskClient) -> None:
    client.set_cookie("lang", "fa")
    html = client.get("/").get_data(as_text=True)
    client.delete_cookie("lang")
    assert '<html lang="fa" dir="rtl">' in html
    assert links(html) >= set(PAGES)
    assert "به باشگاه مشتریان خوش آمدید" in html
    assert ">صندوق</a>" in html
    assert 'id="switch-language">English<' in html


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("fa-IR,fa;q=0.9,en;q=0.5", "fa"),
        ("de,fa;q=0.5", "fa"),
        ("en-GB,fa;q=0.8", "en"),
        ("de", "en"),
    ],
)
def test_a_browser_set_to_persian_gets_persian_until_the_switch_says_otherwise(
    client: FlaskClient, accept: str, lang: str
) -> None:
    client.delete_cookie("lang")
    html = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{lang}"' in html
    client.set_cookie("lang", "en")
    chosen = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    client.delete_cookie("lang")
    assert '<html lang="en"' in chosen


def test_the_language_switch_comes_back_to_the_welcome_page(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/">' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    switched = client.post("/lang", data={"lang": "fa", "next": "/", "csrf_token": token})
    assert (switched.status_code, switched.headers["Location"]) == (303, "/")
    assert 'dir="rtl"' in client.get("/").get_data(as_text=True)
    client.delete_cookie("lang")


def test_the_welcome_page_runs_no_inline_script_and_loads_nothing_from_elsewhere(
    client: FlaskClient,
) -> None:
    answer = client.get("/")
    html = answer.get_data(as_text=True)
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "<script" not in html and "style=" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_the_welcome_page_is_not_part_of_the_json_api() -> None:
    assert "/" not in document("IRR")["paths"]

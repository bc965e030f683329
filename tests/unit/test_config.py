from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from services.points.settings import PointsSettings
from services.runtime import interpreter
from services.runtime.channels import grpc_target
from services.runtime.config import ConfigError, Env, ServiceConfig, load_or_create_secret


def test_defaults_give_each_service_its_own_sqlite_file(tmp_path: Path) -> None:
    env = Env({"LOYALTY_DATA_DIR": str(tmp_path)})
    urls = {name: ServiceConfig.load(name, env).database_url for name in ("identity", "points")}
    assert urls == {
        "identity": f"sqlite:///{tmp_path}/identity.db",
        "points": f"sqlite:///{tmp_path}/points.db",
    }
    assert ServiceConfig.load("points", env).listen_addr == "127.0.0.1:50052"
    assert ServiceConfig.load("points", env).redis_url == "redis://127.0.0.1:6379/0"


def test_plain_postgresql_urls_use_the_shipped_driver() -> None:
    env = Env({"POINTS_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/points"})
    url = ServiceConfig.load("points", env).database_url
    assert url == "postgresql+psycopg://postgres@127.0.0.1:5432/points"


def test_an_empty_redis_url_means_no_cache() -> None:
    assert ServiceConfig.load("points", Env({"REDIS_URL": ""})).redis_url is None


@pytest.mark.parametrize(
    "env",
    [
        {"POINTS_ADDR": "nowhere"},
        {"POINTS_WORKERS": "many"},
        {"POINTS_WORKERS": "0"},
        {"POINTS_DATABASE_URL": "mysql://x/y"},
        {"REDIS_URL": "http://cache"},
    ],
)
def test_a_bad_value_fails_fast_with_its_name(env: dict) -> None:
    with pytest.raises(ConfigError) as error:
        ServiceConfig.load("points", Env(env))
    assert next(iter(env)) in str(error.value)


@pytest.mark.parametrize(
    "env",
    [
        {"LOYALTY_CURRENCY": "rial"},
        {"GATEWAY_PORT": "http"},
        {"LOYALTY_DISPLAY_CURRENCY": "USD"},
        {"LOYALTY_CURRENCY": "EUR", "LOYALTY_DISPLAY_CURRENCY": "IRT"},
    ],
)
def test_gateway_settings_are_checked_too(env: dict) -> None:
    with pytest.raises(ConfigError):
        GatewayConfig.load(Env(env))


def test_a_secret_is_created_once_private_and_then_kept(tmp_path: Path) -> None:
    env = Env({"LOYALTY_DATA_DIR": str(tmp_path)})
    first = load_or_create_secret(env, "SOME_TOKEN", "token")
    assert load_or_create_secret(env, "SOME_TOKEN", "token") == first
    assert (tmp_path / "token").stat().st_mode & 0o077 == 0
    given = Env({"LOYALTY_DATA_DIR": str(tmp_path), "SOME_TOKEN": "from-env"})
    assert load_or_create_secret(given, "SOME_TOKEN", "token") == "from-env"


@pytest.mark.parametrize(
    "value",
    ["points:50052", "dns:///points:50052", "127.0.0.1:50052,127.0.0.1:50062"],
)
def test_a_service_is_found_by_name_or_by_a_list_of_replicas(value: str) -> None:
    assert PointsSettings.from_env(Env({"POINTS_ADDR": value, "CAMPAIGNS_ADDR": value}))


@pytest.mark.parametrize(
    "value", ["points", "points:50052,points-2:50052", "http://points:50052", "a:1,"]
)
def test_a_service_address_that_names_no_replica_fails_fast(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        GatewayConfig.load(Env({"CAMPAIGNS_ADDR": value}))
    assert "CAMPAIGNS_ADDR" in str(error.value)


def test_a_list_of_replicas_is_read_by_the_static_resolver_and_a_name_by_dns() -> None:
    assert grpc_target("127.0.0.1:1,127.0.0.1:2") == "ipv4:127.0.0.1:1,127.0.0.1:2"
    assert grpc_target("dns:///points:50052") == "dns:///points:50052"


@pytest.fixture
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switch_interval")
def test_threads_take_turns_at_the_interpreter_every_millisecond_unless_told() -> None:
    interpreter.take_turns_often(Env({}))
    assert sys.getswitchinterval() == pytest.approx(0.001)
    interpreter.take_turns_often(Env({"LOYALTY_SWITCH_INTERVAL_MS": "5"}))
    assert sys.getswitchinterval() == pytest.approx(0.005)
    for wrong in ("0", "-1", "soon", "5000"):
        with pytest.raises(ConfigError, match="LOYALTY_SWITCH_INTERVAL_MS"):
            interpreter.take_turns_often(Env({"LOYALTY_SWITCH_INTERVAL_MS": wrong}))
    assert sys.getswitchinterval() == pytest.approx(0.005)

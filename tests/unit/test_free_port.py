"""Ports for the processes a harness starts: never one an outgoing connection may hold."""

from __future__ import annotations

import socket

import pytest

from deploy import local


def test_ports_lie_below_the_ephemeral_range_and_are_not_repeated() -> None:
    ports = [local.free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(local._LOWEST_PORT <= port < local._ephemeral_floor() for port in ports)


def test_a_port_something_listens_on_is_passed_over() -> None:
    handed_out = local.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", handed_out + 1))
        listener.listen()
        following = local.free_port()
    assert following not in (handed_out, handed_out + 1)


def test_each_test_worker_has_its_own_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = local._slice()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = local._slice()
    assert set(first).isdisjoint(second)

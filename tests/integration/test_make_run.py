"""`make run` brings the suite up, the README's walk-through works as printed, Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deploy.local import ROOT, SERVICES, free_port, suite_env

PAGES = ("/", "/portal", "/till", "/console", "/docs")


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A purchase at the till, with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def processes_of(data_dir: Path) -> list[int]:
    """The live processes whose environment names `data_dir`: every one `make run` started for
    this test (its children inherit or are given it), and no other test's."""
    marker = f"LOYALTY_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "make run exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("make run did not become ready")


def test_make_run_serves_the_readme_walkthrough_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    gateway_port = free_port()
    ports = {name: free_port() for name in SERVICES}
    env = dict(os.environ)
    env.update(
        LOYALTY_DATA_DIR=str(tmp_path / ".data"),
        GATEWAY_PORT=str(gateway_port),
        # Nothing answers here, so `make run` must bring its own Redis.
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        **{f"{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in ports.items()},
    )
    for name in ("LOYALTY_ADMIN_TOKEN", "IDENTITY_PII_KEY", "MAKEFLAGS", "MFLAGS"):
        env.pop(name, None)
    log = (tmp_path / "make-run.log").open("w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{gateway_port}/readyz", process)
        # The services, the gateway, the private Redis, and make and its supervisor.
        assert len(processes_of(tmp_path / ".data")) > len(SERVICES) + 2
        for _ in range(50):  # the banner follows the first 200 from /readyz
            output = (tmp_path / "make-run.log").read_text()
            if "Press Ctrl-C" in output:
                break
            time.sleep(0.1)
        assert f"http://127.0.0.1:{gateway_port}" in output
        assert "started a private one" in output
        for page in PAGES:
            assert f"http://127.0.0.1:{gateway_port}{page} " in output

        script = walkthrough().replace("localhost:8080", f"localhost:{gateway_port}")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert '"display_name":"Sara A."' in out
        assert '"phone_masked":"+98 912 *** **67"' in out
        assert out.count('"points_earned":125') == 2
        assert '"balance":{"available":125,"pending":0}' in out
        points_then_ledger = r'"available":125,"pending":0,"held":0,"debt":0,.*\}\s*\{"items":\[\{'
        assert re.search(points_then_ledger, out)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        exit_code = process.wait(60)
        log.close()

    # Ctrl-C reaches make too, which then reports the interrupt itself, as make always does;
    # what counts is that the supervisor stopped every process and none failed.
    output = (tmp_path / "make-run.log").read_text()
    assert exit_code in (0, -signal.SIGINT), output[-2000:]
    assert output.rstrip().endswith("stopped"), output[-2000:]
    assert "exit codes:" not in output
    assert re.search(r"started a private one on port (\d+)", output)
    # Every process it started has ended, the private Redis too. (Their ports may already serve
    # a test running beside this one.)
    assert processes_of(tmp_path / ".data") == []


def read_terminal(fd: int, seconds: float) -> str:
    """What a process wrote to the terminal `fd` is the master of, over `seconds`."""
    chunks = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunks.append(os.read(fd, 65536))
            except OSError:  # the other end closed
                break
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def test_an_idle_suite_in_a_terminal_is_quiet_and_logs_a_request_in_one_short_line(
    tmp_path: Path,
) -> None:
    gateway_port = free_port()
    env = suite_env(os.environ)
    env.update(
        LOYALTY_DATA_DIR=str(tmp_path / ".data"),
        GATEWAY_PORT=str(gateway_port),
        LOYALTY_CACHE_PREFIX=f"idle-{gateway_port}",
        **{f"{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES},
    )
    for name in ("LOYALTY_ADMIN_TOKEN", "IDENTITY_PII_KEY", "LOYALTY_LOG_FORMAT"):
        env.pop(name, None)
    master, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.local"],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        started = ""
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in started:
            assert time.monotonic() < deadline and process.poll() is None, started[-2000:]
            started += read_terminal(master, 0.5)
        for page in PAGES:
            assert f"http://127.0.0.1:{gateway_port}{page} " in started
        # Whatever the start-up still had to say after the banner, then 20 s of nothing to do.
        started += read_terminal(master, 2)
        idle = read_terminal(master, 20).splitlines()
        assert len(idle) <= 5, idle

        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/", timeout=5) as answer:
            assert answer.status == 200
        lines = read_terminal(master, 2).splitlines()
        request = [line for line in lines if "route=/ " in line]
        assert len(request) == 1, lines
        assert re.fullmatch(
            r"\d\d:\d\d:\d\d\.\d{3} gateway +INFO +http method=GET route=/ status=200 "
            r"duration_ms=[\d.]+",
            request[0],
        ), request
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)
        read_terminal(master, 0.5)
        os.close(master)

"""`python -m deploy.local` (what `make run` runs): the whole suite as local processes.

Applies each service's migrations, makes sure a Redis answers (the one at REDIS_URL, else a
private `redis-server` if one is installed, else none: the suite then runs without its cache),
starts identity, points, campaigns, webhooks and the gateway, waits until /readyz answers 200
and prints the URLs. SIGINT or SIGTERM stops the gateway first, then the services, and exits 0.

`<SERVICE>_REPLICAS=n` (say POINTS_REPLICAS=2) starts n processes of that service, the first on
its configured address, the others on free ports (each with its own metrics port when metrics
are on); every other process is given the list, and its calls go round robin over them.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import redis

from services.runtime.config import (
    DEFAULT_ADDRS,
    DEFAULT_REDIS_URL,
    Env,
    data_dir,
    load_or_create_secret,
)
from services.runtime.service_auth import SECRET_VARIABLE, load_service_secret

SERVICES = ("identity", "points", "campaigns", "webhooks")
ROOT = Path(__file__).resolve().parent.parent


# Ports handed out lie below the kernel's ephemeral range: a port the kernel picked (bind to 0)
# can be taken as the local end of any outgoing connection before the process it was meant for
# binds it. Each test worker walks its own slice, and a process never hands out a port twice
# before its slice wraps.
_LOWEST_PORT = 10000
_SLICES = 8
_last_handed_out: int | None = None


@functools.cache
def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    index = int(worker) if worker.isdigit() else os.getpid()
    size = (_ephemeral_floor() - _LOWEST_PORT) // _SLICES
    start = _LOWEST_PORT + (index % _SLICES) * size
    return range(start, start + size)


def _binds(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on, for a process this one is about to start."""
    global _last_handed_out
    ports = _slice()
    if len(ports) < 100:  # the ephemeral range starts too low to leave room below it
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    first = os.getpid() if _last_handed_out is None else _last_handed_out + 1 - ports.start
    for step in range(len(ports)):
        port = ports.start + (first + step) % len(ports)
        if _binds(port):
            _last_handed_out = port
            return port
    raise RuntimeError(f"no free port in {ports.start}..{ports.stop - 1}")


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def start_private_redis(port: int, search_path: str | None = None) -> subprocess.Popen:
    server = shutil.which("redis-server", path=search_path)
    if server is None:
        raise RuntimeError("redis-server is not installed")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if redis_answers(url):
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the private redis-server did not start")


def postgres_bin(tool: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl): Debian keeps them out of PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), key=_version)
    if found:
        return str(found[-1])
    on_path = shutil.which(tool)
    if on_path is None:
        raise RuntimeError(f"{tool} is not installed (Debian: apt-get install postgresql)")
    return on_path


def _version(path: Path) -> int:
    name = path.parent.parent.name
    return int(name) if name.isdigit() else 0


class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary directory, on a free port, that may be
    restarted at will without touching the machine's server; `stop` removes it. Runs as the
    `postgres` user when started as root, since PostgreSQL refuses to run as root."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="loyalty-postgres-"))
        self.data = self.directory / "pgdata"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self._as_user, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
        )

    def start(self) -> None:
        if self._as_user:
            shutil.chown(self.directory, "postgres", "postgres")
        if not self.data.exists():
            self._run(
                postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                "-A", "trust", "-E", "UTF8", "--no-sync",
            )  # fmt: skip
        self._pg_ctl("start", "-w", "-t", "60")

    def _pg_ctl(self, action: str, *flags: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            " -c max_connections=300"
        )
        self._run(
            postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"),
            "-o", options, action, *flags,
        )  # fmt: skip

    def restart(self) -> None:
        """A fast restart: every session is cut, in-flight transactions roll back."""
        self._pg_ctl("restart", "-m", "fast", "-w", "-t", "60")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_databases(self, *names: str) -> dict[str, str]:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
        return {name: self.url(name) for name in names}


@dataclass(frozen=True)
class Replica:
    """One process of a service: its name ("points", "points-2"), address and metrics port."""

    name: str
    addr: str
    metrics_port: int


@dataclass
class Suite:
    """The five processes of the suite (and maybe a private Redis), started with one env."""

    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    redis_process: subprocess.Popen | None = None
    cache_note: str = ""
    # When set, each process writes its log lines to <log_dir>/<name>.log instead of stdout.
    log_dir: Path | None = None
    replicas: dict[str, list[Replica]] = field(default_factory=dict)
    # What a process's environment has of its own (a replica's address and metrics port).
    own_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('GATEWAY_PORT', '8080')}"

    def prepare(self) -> None:
        env = Env(self.env)
        directory = data_dir(env)
        directory.mkdir(parents=True, exist_ok=True)
        self.env["LOYALTY_DATA_DIR"] = str(directory)
        self.env["LOYALTY_ADMIN_TOKEN"] = load_or_create_secret(
            env, "LOYALTY_ADMIN_TOKEN", "admin-token"
        )
        self.env["IDENTITY_PII_KEY"] = load_or_create_secret(
            env, "IDENTITY_PII_KEY", "identity-pii.key"
        )
        # Every process signs its calls to the others with it, and checks theirs.
        self.env[SECRET_VARIABLE] = load_service_secret(env)
        url = self.env.get("REDIS_URL", DEFAULT_REDIS_URL)
        if url and redis_answers(url):
            self.cache_note = "cache: Redis at " + _without_password(url)
        elif shutil.which("redis-server", path=self.env.get("PATH")):
            port = free_port()
            self.redis_process = start_private_redis(port, self.env.get("PATH"))
            self.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            self.cache_note = f"cache: no Redis answered, started a private one on port {port}"
        else:
            self.env["REDIS_URL"] = ""
            self.cache_note = "cache: no Redis answered and none is installed; running without"

    def migrate(self) -> None:
        for name in SERVICES:
            subprocess.run(
                [sys.executable, "-m", f"services.{name}", "migrate"],
                env=self.env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )

    def place_replicas(self) -> None:
        """Gives each replica of a service its address, and the others the list of them."""
        if self.replicas:
            return
        env = Env(self.env)
        for service in SERVICES:
            prefix = service.upper()
            count = env.int(f"{prefix}_REPLICAS", 1, minimum=1)
            metrics_port = env.int(f"{prefix}_METRICS_PORT", 0, minimum=0)
            first = Replica(service, self.env[f"{prefix}_ADDR"], metrics_port)
            others = [
                Replica(
                    f"{service}-{n}",
                    f"127.0.0.1:{free_port()}",
                    free_port() if metrics_port else 0,
                )
                for n in range(2, count + 1)
            ]
            self.replicas[service] = [first, *others]
            if not others:
                continue
            self.env[f"{prefix}_ADDR"] = ",".join(r.addr for r in self.replicas[service])
            for replica in self.replicas[service]:
                self.own_env[replica.name] = {
                    f"{prefix}_ADDR": replica.addr,
                    f"{prefix}_METRICS_PORT": str(replica.metrics_port),
                }

    def start_process(self, name: str, module: str) -> None:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**self.env, **self.own_env.get(name, {})},
            cwd=ROOT,
            start_new_session=True,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        if output is not None:
            output.close()

    def start(self) -> None:
        self.place_replicas()
        for name in SERVICES:
            for replica in self.replicas[name]:
                self.start_process(replica.name, f"services.{name}")
        self.start_process("gateway", "gateway")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.gateway_url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError("the suite did not become ready in time")

    def run_module(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m <module> <args>` in the suite's environment, e.g. `services.points check`
        (with the environment of the service's first process)."""
        own = self.own_env.get(module.removeprefix("services."), {})
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            env={**self.env, **own},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def stop(self, timeout: float = 20.0) -> dict[str, int | None]:
        """Stops the gateway first so no new work reaches the services; returns exit codes."""
        codes: dict[str, int | None] = {}
        services = [name for name in self.processes if name != "gateway"]
        for group in (["gateway"], services):
            for name in group:
                process = self.processes.get(name)
                if process and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for name in group:
                process = self.processes.get(name)
                if process is None:
                    continue
                try:
                    codes[name] = process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    codes[name] = process.wait()
        if self.redis_process is not None:
            self.redis_process.terminate()
            self.redis_process.wait(10)
        return codes


def start_isolated(
    directory: Path,
    database_urls: Mapping[str, str] | None,
    redis_url: str,
    cache_prefix: str,
    **extra_env: str,
) -> Suite:
    """The whole suite on free ports with metrics on, data and logs under `directory`, its own
    secrets and cache prefix: for tests, benchmarks and drills beside anything else running."""
    env = suite_env(os.environ)
    env.update(
        LOYALTY_DATA_DIR=str(directory / "data"),
        GATEWAY_PORT=str(free_port()),
        REDIS_URL=redis_url,
        LOYALTY_CACHE_PREFIX=cache_prefix,
        GATEWAY_WORKERS="2",
        GATEWAY_METRICS_PORT=str(free_port()),
        **{f"{name.upper()}_ADDR": f"127.0.0.1:{free_port()}" for name in SERVICES},
        **{f"{name.upper()}_METRICS_PORT": str(free_port()) for name in SERVICES},
    )
    env.pop("LOYALTY_ADMIN_TOKEN", None)
    env.pop("IDENTITY_PII_KEY", None)
    env.pop(SECRET_VARIABLE, None)
    for name, url in (database_urls or {}).items():
        env[f"{name.upper()}_DATABASE_URL"] = url
    env.update(extra_env)
    suite = Suite(env, log_dir=directory / "logs")
    suite.prepare()
    suite.migrate()
    suite.start()
    try:
        suite.wait_ready()
    except Exception:
        suite.stop()
        raise
    return suite


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    return url if not parsed.password else url.replace(parsed.password, "***")


def suite_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    for name, addr in DEFAULT_ADDRS.items():
        env.setdefault(f"{name.upper()}_ADDR", addr)
    return env


# The web pages a person opens first, each with what it is for.
PAGES = (
    ("welcome", "/", "start here: a link to every page"),
    ("portal", "/portal", "members: points, card, offers"),
    ("till", "/till", "cashiers: find a member, record a purchase, redeem"),
    ("console", "/console", "marketers: segments, campaigns, reports"),
    ("API docs", "/docs", "the HTTP API, with /openapi.json"),
)


def banner(suite: Suite) -> str:
    data = suite.env["LOYALTY_DATA_DIR"]
    url = suite.gateway_url
    return (
        f"\nLoyalty club is up: open {url}/\n"
        + "".join(f"  {name:<11} {url + path:<32} {what}\n" for name, path, what in PAGES)
        + "".join(f"  {n:<11} {suite.env[f'{n.upper()}_ADDR']:<32} gRPC\n" for n in SERVICES)
        + f"  {suite.cache_note}\n"
        f"  data        {data}\n"
        f"  admin token in {data}/admin-token\n"
        f"Press Ctrl-C to stop.\n"
    )


def main() -> int:
    suite = Suite(suite_env(os.environ))
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        suite.prepare()
        suite.migrate()
        suite.start()
        suite.wait_ready()
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
        print(f"\nthe suite did not start: {error}", file=sys.stderr)
        suite.stop()
        return 1
    print(banner(suite), file=sys.stderr, flush=True)
    exit_code = 0
    while not stopping:
        try:
            suite.check_alive()
        except RuntimeError as error:
            print(f"\n{error}; stopping the suite", file=sys.stderr)
            exit_code = 1
            break
        time.sleep(0.3)
    print("\nstopping...", file=sys.stderr, flush=True)
    codes = suite.stop()
    failed = {name: code for name, code in codes.items() if code not in (0, None)}
    if failed:
        print(f"exit codes: {failed}", file=sys.stderr)
    print("stopped", file=sys.stderr)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

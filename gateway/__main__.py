"""`python -m gateway`: the gateway under gunicorn, threaded workers, graceful on SIGTERM; slow
clients cannot hold its threads (gateway.worker).

With `GATEWAY_METRICS_PORT` set, the workers write their metrics to files in one directory
(prometheus-client's multiprocess mode; `GATEWAY_METRICS_DIR`, else a fresh temporary one) and
the gunicorn master serves their sum on that port: one scrape sees every worker.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from gateway.config import MAX_BODY, GatewayConfig
from services.runtime import heap, interpreter, logs
from services.runtime.config import ConfigError

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class GatewayServer(BaseApplication):
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        super().__init__()

    def load_config(self) -> None:
        # Imported once the metrics directory is named: gateway.worker imports modules that count.
        from gateway.worker import BufferingWorker

        worker_class = BufferingWorker.configured(
            header_timeout=self._config.header_timeout,
            body_timeout=self._config.body_timeout,
            max_body=MAX_BODY,
        )
        settings: dict[str, Any] = {
            "bind": f"0.0.0.0:{self._config.port}",
            "workers": self._config.workers,
            "threads": self._config.threads,
            # gthread, with each request read whole before a thread takes it (gateway.worker).
            "worker_class": worker_class,
            "graceful_timeout": 10,
            "timeout": 30,
            "keepalive": 5,
            # The longest request line gunicorn allows; longer ones get its own HTML 414.
            "limit_request_line": 8190,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "loyalty-gateway",
            "post_worker_init": self._worker_ready,
        }
        if self._config.metrics_port:
            settings["when_ready"] = self._serve_metrics
            settings["child_exit"] = _worker_exited
        for key, value in settings.items():
            self.cfg.set(key, value)

    def _worker_ready(self, _worker: Any) -> None:
        logs.configure("gateway", self._config.log_level)
        heap.freeze_startup_objects()

    def _serve_metrics(self, _arbiter: Any) -> None:
        from services.runtime import metrics

        metrics.serve(self._config.metrics_port, registry=metrics.multiprocess_registry())

    def load(self) -> Any:
        # Each worker builds its own app, so gRPC channels are never shared across a fork.
        from gateway.app import create_app

        return create_app(self._config)


def _worker_exited(_arbiter: Any, worker: Any) -> None:
    from services.runtime import metrics

    metrics.worker_exited(worker.pid)


def metrics_directory() -> Path:
    """An empty directory for the workers' metric files, named in the environment before any
    module that counts is imported (prometheus-client reads it then)."""
    configured = os.environ.get("GATEWAY_METRICS_DIR", "").strip()
    if configured:
        directory = Path(configured)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    else:
        directory = Path(tempfile.mkdtemp(prefix="loyalty-gateway-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def main() -> None:
    try:
        config = GatewayConfig.load()
        # Set in the master, so every worker forked from it inherits it.
        interpreter.take_turns_often()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    logs.configure("gateway", config.log_level)
    directory = metrics_directory() if config.metrics_port else None
    master = os.getpid()
    try:
        GatewayServer(config).run()
    finally:
        # Workers leave through here too (gunicorn exits a forked worker with SystemExit).
        temporary = not os.environ.get("GATEWAY_METRICS_DIR")
        if directory is not None and temporary and os.getpid() == master:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`python -m gateway`: the gateway under gunicorn, threaded workers, graceful on SIGTERM."""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from gateway.config import GatewayConfig
from services.runtime import logs
from services.runtime.config import ConfigError


class GatewayServer(BaseApplication):
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        super().__init__()

    def load_config(self) -> None:
        settings: dict[str, Any] = {
            "bind": f"0.0.0.0:{self._config.port}",
            "workers": self._config.workers,
            "threads": self._config.threads,
            "worker_class": "gthread",
            "graceful_timeout": 10,
            "timeout": 30,
            "keepalive": 5,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "loyalty-gateway",
            "post_worker_init": lambda worker: logs.configure("gateway", self._config.log_level),
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Each worker builds its own app, so gRPC channels are never shared across a fork.
        from gateway.app import create_app

        return create_app(self._config)


def main() -> None:
    try:
        config = GatewayConfig.load()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    logs.configure("gateway", config.log_level)
    GatewayServer(config).run()


if __name__ == "__main__":
    main()

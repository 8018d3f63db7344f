"""Prefect's temporary API server for one `vidp process` when no Prefect server runs.

Prefect starts the same server itself when no API is set (`SubprocessASGIServer`), but only
after importing its whole server package into the calling process: 2.3 s of one core and 60 MB
that the run then keeps. Started here as its own process at once, it comes up while the
pipeline's modules load, and the run's process stays smaller.

`python -m vidp.cli.temporary_api PORT` serves Prefect's app as `prefect.server.api.server` builds it
for an ephemeral server: no UI, and only the services Prefect runs in ephemeral servers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

__all__ = ["TemporaryAPI"]

_NO_BLOCK_REGISTRATION = {
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}


class TemporaryAPI:
    """A temporary Prefect API server on a free loopback port, in its own process."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api"
        # Registering block types loads every installed collection (prefect-aws and boto3 among
        # them): 70 MB and 0.3 s here. A temporary server needs none: a block a run loads was
        # saved, with its type, against this database before. The user's settings win.
        env = {**_NO_BLOCK_REGISTRATION, **os.environ}
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(port)], stdout=subprocess.DEVNULL, env=env
        )

    def wait(self) -> bool:
        """Whether it answers /health within Prefect's ephemeral start-up timeout
        (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)."""
        import httpx
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    if client.get(f"{self.url}/health").is_success:
                        return True
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _serve(port: int) -> None:
    import uvicorn
    from prefect.server.api.server import create_app

    uvicorn.run(
        create_app(ephemeral=True, final=True),
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    _serve(int(sys.argv[1]))

"""A property-based run of the gateway's own OpenAPI description (schemathesis): no request it
describes, however odd, makes the gateway answer 5xx.

It runs schemathesis' own CLI (`st run`): its pytest plugin does not load under pytest 9. The
webhooks answer every generated request 401 (schemathesis cannot sign); their handlers are
tested with signed requests in test_webhooks.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.gateway import API_KEY, Gateway

pytestmark = pytest.mark.integration


def test_no_request_gets_a_server_error(gateway: Gateway, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{gateway.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            # With a valid key, so the generated requests reach the handlers, not only the check.
            "--header",
            f"X-API-Key: {API_KEY}",
            "--max-examples",
            "40",
            "--seed",
            "20261122",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # schemathesis keeps a cache folder where it runs
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " generated" in done.stdout and "Server error" not in done.stdout

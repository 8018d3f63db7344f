"""What an operator checks: /healthz per dependency, /metrics for Prometheus; and what callers see
while a dependency is down."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from helpers.gateway import API_KEY, SECRET, Gateway, gateway_process, notification, post, signed
from helpers.postgres import create_database, postgres_server
from helpers.processes import free_port, vidp
from helpers.s3 import put_upload

pytestmark = pytest.mark.integration


def test_healthz_checks_every_dependency(gateway: Gateway) -> None:
    answer = httpx.get(f"{gateway.url}/healthz", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ok",
        "checks": {"prefect": "ok", "database": "ok", "storage": "ok", "ffmpeg": "ok"},
    }


def test_healthz_names_what_is_down_and_callers_are_told_to_come_back(
    gateway: Gateway, s3, tmp_path
) -> None:
    """A second gateway whose Prefect API and database are unreachable says so, with 503; a
    webhook or an upload meanwhile is 503 with Retry-After, and keeps nothing."""
    env = {
        **gateway.env,
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "VIDP_CATALOG_URL": f"postgresql://vidp@127.0.0.1:{free_port()}/nowhere",
        "VIDP_GATEWAY_UPLOADS": str(tmp_path / "uploads"),
    }
    body = notification("prefect-down/clip.mp4", put_upload(s3, "prefect-down/clip.mp4"))
    with gateway_process(env, tmp_path / "gateway.log") as url:
        answer = httpx.get(f"{url}/healthz", timeout=60)
        webhook = httpx.post(f"{url}/webhooks/s3", content=body, headers=signed(body), timeout=120)
        upload = httpx.post(
            f"{url}/videos",
            files={"file": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")},
            headers={"X-API-Key": API_KEY},
            timeout=120,
        )
    for refused in (webhook, upload):
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "30"
        assert refused.json()["detail"].startswith("cannot reach Prefect's API now")
    assert not any((tmp_path / "uploads").rglob("*.mp4"))
    checks = answer.json()["checks"]
    assert answer.status_code == 503 and answer.json()["status"] == "failing"
    assert checks["storage"] == "ok" and checks["ffmpeg"] == "ok"
    assert checks["prefect"] != "ok" and checks["database"] != "ok"
    assert "\n" not in checks["database"]


def test_catalog_reads_come_through_a_database_restart_and_say_when_it_is_down(
    gateway: Gateway, tmp_path
) -> None:
    """The catalog's own PostgreSQL, restarted between two reads: the second is answered (its
    pooled connection is dead; the read is made again on a new one). While the database is down,
    a read or an edit is 503 with Retry-After; once it is back, reads are answered again."""
    with postgres_server() as server:
        url = create_database(server.url, "catalog")
        assert vidp("catalog", "upgrade", env={"VIDP_CATALOG_URL": url}).returncode == 0
        env = {**gateway.env, "VIDP_CATALOG_URL": url}
        with gateway_process(env, tmp_path / "gateway.log") as base:
            with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30) as c:

                def reads() -> list[int]:
                    return [c.get(p).status_code for p in ("/videos", "/videos/00000000000000aa")]

                assert reads() == [200, 404]
                subprocess.run([*server.pg_ctl, "restart"], check=True, capture_output=True)
                assert reads() == [200, 404]
                subprocess.run([*server.pg_ctl, "stop"], check=True, capture_output=True)
                down = [c.get("/videos"), c.patch("/videos/00000000000000aa", json={"tags": []})]
                subprocess.run([*server.pg_ctl, "start"], check=True, capture_output=True)
                assert reads() == [200, 404]
    for answer in down:  # a read, and an edit (its write goes through the other engine)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
        assert (
            answer.json()["detail"] == "cannot reach the catalog's database now: OperationalError"
        )


def test_metrics_count_requests_runs_and_rejects(gateway: Gateway, s3) -> None:
    put_upload(s3, "metrics/clip.mp4")
    body = b'{"source": "s3://uploads/metrics/clip.mp4"}'
    post(f"{gateway.url}/webhooks/run", body, signed(body))
    post(f"{gateway.url}/webhooks/run", body, signed(body, secret=SECRET + "x"))
    text = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    assert 'vidp_gateway_runs_triggered_total{via="/webhooks/run"}' in text
    assert 'vidp_gateway_webhook_rejects_total{endpoint="/webhooks/run"}' in text
    assert 'vidp_gateway_requests_total{method="POST",route="/webhooks/run",status="202"}' in text
    for status in ("queued", "running", "completed", "failed"):
        assert f'vidp_videos{{status="{status}"}}' in text
    assert "vidp_run_duration_seconds_bucket" in text

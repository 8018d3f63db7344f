"""Uploads, the catalog API and streaming, against the real gateway, Prefect server and a worker."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jsonschema
import pytest
from helpers.gateway import (
    API_KEY,
    DEPLOYMENT,
    MAX_UPLOAD,
    Gateway,
    gateway_process,
    stream_oversized_upload,
)
from helpers.prefect_stack import flow_runs
from helpers.processes import process_worker

from vidp.manifest import manifest_schema

pytestmark = pytest.mark.integration

AUTH = {"X-API-Key": API_KEY}
SCHEMA = manifest_schema()


def upload(gateway: Gateway, name: str, data: bytes | Path, headers=AUTH, **fields: str):
    content = data.read_bytes() if isinstance(data, Path) else data
    return httpx.post(
        f"{gateway.url}/videos",
        files={"file": (name, content, "video/mp4")},
        data=fields,
        headers=headers,
        timeout=60,
    )


def stored(gateway: Gateway) -> list[Path]:
    """Every file under the upload folder, partial ones included."""
    return (
        [p for p in gateway.uploads.rglob("*") if p.is_file()] if gateway.uploads.exists() else []
    )


def fake_video(size: int) -> bytes:
    """Bytes that start like an MP4 (the gateway sniffs the head), `size` long."""
    return b"\x00\x00\x00\x18ftypmp42" + os.urandom(size - 12)


class TestUpload:
    def test_needs_an_api_key(self, gateway: Gateway, cat_clip: Path) -> None:
        for headers in ({}, {"X-API-Key": "guessed"}):
            answer = upload(gateway, "cat.mp4", cat_clip, headers=headers)
            assert answer.status_code == 401
        assert httpx.get(f"{gateway.url}/videos", timeout=10).status_code == 401

    def test_over_the_limit_is_413_and_leaves_nothing(self, gateway: Gateway) -> None:
        before = stored(gateway)
        answer = upload(gateway, "big.mp4", fake_video(MAX_UPLOAD + 1024))
        assert answer.status_code == 413 and "larger than" in answer.json()["detail"]

        streamed = stream_oversized_upload(gateway.url, API_KEY)
        assert streamed.status_code == 413
        assert stored(gateway) == before, "nothing left in storage"

    @pytest.mark.parametrize(
        ("name", "data"),
        [("notes.mp4", b"these are my notes, not a video\n" * 200), ("clip.txt", fake_video(9000))],
    )
    def test_what_is_not_a_video_is_415(self, gateway: Gateway, name: str, data: bytes) -> None:
        before = stored(gateway)
        answer = upload(gateway, name, data)
        assert answer.status_code == 415 and answer.json()["detail"]
        assert stored(gateway) == before

    def test_without_the_deployment_is_503_and_stores_nothing(
        self, gateway: Gateway, cat_clip: Path, tmp_path: Path
    ) -> None:
        env = {
            **gateway.env,
            "VIDP_GATEWAY_DEPLOYMENT": "process-video/not-deployed",
            "VIDP_GATEWAY_UPLOADS": str(tmp_path / "uploads"),
        }
        with gateway_process(env, tmp_path / "gateway.log") as url:
            answer = upload(
                Gateway(url, tmp_path / "uploads", gateway.output, env), "a.mp4", cat_clip
            )
        assert answer.status_code == 503 and "vidp deploy" in answer.json()["detail"]
        assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").rglob("*.mp4"))

    def test_is_stored_whole_and_queued(self, gateway: Gateway, bus_clip: Path) -> None:
        answer = upload(gateway, "bus ride.mp4", bus_clip, title="Bus", tags="city, street")
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["video_id"] == hashlib.sha256(bus_clip.read_bytes()).hexdigest()[:16]
        assert Path(body["source"]).read_bytes() == bus_clip.read_bytes()
        assert body["run"]["url"].endswith(body["run"]["flow_run_id"])
        detail = httpx.get(f"{gateway.url}/videos/{body['video_id']}", headers=AUTH).json()
        assert (detail["status"], detail["title"], detail["tags"]) == (
            "queued",
            "Bus",
            ["city", "street"],
        )
        assert detail["run"]["state"] == "Scheduled" and detail["manifest"] is None


def test_the_same_bytes_uploaded_again_store_nothing_and_start_nothing(
    gateway: Gateway,
) -> None:
    video = fake_video(40_000)
    first = upload(gateway, "first.mp4", video)
    assert first.status_code == 202, first.text
    files_before, runs_before = stored(gateway), len(flow_runs(DEPLOYMENT))
    again = upload(gateway, "again under another name.mp4", video)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    for field in ("video_id", "source"):
        assert again.json()[field] == first.json()[field]
    assert again.json()["run"]["flow_run_id"] == first.json()["run"]["flow_run_id"]
    assert stored(gateway) == files_before, "the second copy is not kept"
    assert len(flow_runs(DEPLOYMENT)) == runs_before, "no second run"

    copies = [p for p in stored(gateway) if p.read_bytes() == video]
    assert copies == [Path(first.json()["source"])], "one stored object: delete_source removes it"


def test_the_same_bytes_uploaded_at_once_are_stored_once_and_run_once(gateway: Gateway) -> None:
    """Four uploads of the same bytes at the same moment: one is stored and starts the run; the
    others are answered as if they had come later."""
    video = fake_video(2_000_000)
    runs_before = len(flow_runs(DEPLOYMENT))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: upload(gateway, f"copy-{i}.mp4", video), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202], [a.text for a in answers]
    first = next(a.json() for a in answers if a.status_code == 202)
    for again in (a.json() for a in answers if a.status_code == 200):
        assert again["duplicate"] is True and again["source"] == first["source"]
        assert again["run"]["flow_run_id"] == first["run"]["flow_run_id"]
    assert [p for p in stored(gateway) if p.read_bytes() == video] == [Path(first["source"])]
    assert len(flow_runs(DEPLOYMENT)) == runs_before + 1


def test_a_run_that_crashed_before_its_flow_started_shows_as_failed(
    gateway: Gateway, spanish_clip: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    uploaded = upload(gateway, "es.mp4", spanish_clip).json()
    with get_client(sync_client=True) as client:  # as a worker reports a lost flow-run process
        client.set_flow_run_state(
            uploaded["run"]["flow_run_id"], Crashed(message="worker pod evicted"), force=True
        )
    detail = httpx.get(f"{gateway.url}/videos/{uploaded['video_id']}", headers=AUTH).json()
    assert (detail["status"], detail["error"]) == ("failed", "run crashed: worker pod evicted")
    failed = httpx.get(f"{gateway.url}/videos", params={"status": "failed"}, headers=AUTH).json()
    assert uploaded["video_id"] in [v["video_id"] for v in failed["items"]]


@pytest.mark.usefixtures("detector_weights")
def test_upload_to_stream_to_delete(gateway: Gateway, cat_clip: Path, tmp_path: Path) -> None:
    """One video through the whole API, processed by a real worker."""
    answer = upload(gateway, "cat.mp4", cat_clip, title="Cat")
    assert answer.status_code == 202, answer.text
    video_id, run_id = answer.json()["video_id"], answer.json()["run"]["flow_run_id"]
    broken = upload(gateway, "broken.mp4", fake_video(50_000)).json()  # an MP4 head, no video
    _drop_other_scheduled_runs(keep={run_id, broken["run"]["flow_run_id"]})
    with process_worker("gateway-test-pool", tmp_path / "worker.log", gateway.env):
        detail = _wait_for(gateway, video_id, "completed", timeout_s=300)
        failed = _wait_for(gateway, broken["video_id"], "failed", timeout_s=120)
    assert failed["error"] and "\n" not in failed["error"], "the reason, in one line"
    manifest = detail["manifest"]
    jsonschema.validate(manifest, SCHEMA)
    assert [a["label"] for a in manifest["animals"]] == ["cat"] and detail["run"] is None

    listed = httpx.get(f"{gateway.url}/videos", params={"status": "completed"}, headers=AUTH).json()
    assert video_id in [v["video_id"] for v in listed["items"]]

    final = Path(manifest["final_video"]["uri"]).read_bytes()
    ranged = httpx.get(
        f"{gateway.url}/videos/{video_id}/stream", headers={**AUTH, "Range": "bytes=100-1099"}
    )
    assert ranged.status_code == 206 and ranged.content == final[100:1100]
    assert ranged.headers["content-range"] == f"bytes 100-1099/{len(final)}"

    edited = httpx.patch(
        f"{gateway.url}/videos/{video_id}", json={"tags": ["pets"]}, headers=AUTH
    ).json()
    assert (edited["title"], edited["tags"]) == ("Cat", ["pets"])

    folder = Path(manifest["final_video"]["uri"]).parent
    assert httpx.delete(f"{gateway.url}/videos/{video_id}", headers=AUTH).status_code == 204
    assert not folder.exists(), "outputs removed"
    assert Path(detail["source_uri"]).is_file(), "the uploaded source is kept unless asked"
    assert httpx.get(f"{gateway.url}/videos/{video_id}", headers=AUTH).status_code == 404


def _drop_other_scheduled_runs(keep: set[str]) -> None:
    """Runs other tests left scheduled on the gateway's pool would keep the worker busy."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for run in flow_runs(DEPLOYMENT):
            if str(run.id) not in keep and run.state and run.state.is_scheduled():
                client.delete_flow_run(run.id)


def _wait_for(gateway: Gateway, video_id: str, status: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail = httpx.get(f"{gateway.url}/videos/{video_id}", headers=AUTH).json()
        if detail["status"] == status:
            return detail
        if detail["status"] == "failed":
            raise AssertionError(f"the run failed: {detail['error']}")
        time.sleep(2)
    raise AssertionError(f"video {video_id} is still {detail['status']}: {detail['run']}")

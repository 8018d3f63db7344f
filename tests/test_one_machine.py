"""The README's "On one machine" steps, as a new user runs them: `prefect server start` (SQLite in
PREFECT_HOME, with its scheduler and every other service), `vidp pools --type process`, `vidp
deploy` with an upload prefix, and `prefect worker start --pool vidp-cpu`. A clip dropped into the
bucket is published by the sweep's schedule, with nobody starting anything, and the server logs no
error from any service."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from conftest import flow_runs, prefect_server_process, process_worker, vidp
from prefect.settings import PREFECT_API_URL, temporary_settings

from vidp.manifest import validate_manifest
from vidp.sample import asset, make_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD_S = 60  # the shortest cron period; the default is five minutes


def test_a_clip_dropped_into_the_bucket_is_published_on_schedule(
    s3, tmp_path: Path, media_dir: Path
) -> None:
    s3.create_bucket(Bucket="media")
    home = tmp_path / "prefect-home"
    home.mkdir()
    with prefect_server_process(home) as api, temporary_settings({PREFECT_API_URL: api}):
        env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(home), "VIDP_SWEEP_CRON": "* * * * *"}
        assert vidp("pools", "--type", "process", env=env).returncode == 0
        uploads = {"VIDP_UPLOADS": "s3://media/uploads/", "VIDP_OUTPUT": "s3://media/processed"}
        deployed = vidp("deploy", env={**env, **uploads})
        assert deployed.returncode == 0, deployed.stderr[-2000:]

        # The scheduler service fills the sweep's schedule on its own.
        deadline = time.monotonic() + 60
        while not (upcoming := [r for r in flow_runs("sweep-uploads/default") if r.auto_scheduled]):
            assert time.monotonic() < deadline, "the scheduler scheduled no sweep"
            time.sleep(1)
        assert all(r.parameters["uploads"] == "s3://media/uploads/" for r in upcoming)

        clip = make_clip(
            media_dir / "one-machine.mp4", duration_s=4, size=(320, 180), still=asset("cat.jpg")
        )
        video_id = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
        with process_worker("vidp-cpu", tmp_path / "worker.log", env={**os.environ, **env}):
            s3.upload_file(str(clip), "media", "uploads/clip.mp4")
            dropped = time.monotonic()
            key = f"processed/{video_id}/manifest.json"
            while True:
                try:
                    manifest = json.loads(s3.get_object(Bucket="media", Key=key)["Body"].read())
                    break
                except s3.exceptions.NoSuchKey:
                    # The next sweep starts within one period; the run ends within another.
                    waited = time.monotonic() - dropped
                    assert waited < 2 * PERIOD_S, (
                        f"no manifest {waited:.0f} s after the drop; worker log: "
                        + (tmp_path / "worker.log").read_text()[-3000:]
                    )
                    time.sleep(2)
            print(f"published {time.monotonic() - dropped:.0f} s after the drop")

        validate_manifest(manifest)
        assert manifest["source"]["uri"] == "s3://media/uploads/clip.mp4"
        sweeps = [r for r in flow_runs("sweep-uploads/default") if r.state_name == "Completed"]
        assert sweeps and all(r.auto_scheduled for r in sweeps), "sweeps ran on their schedule"
        (run,) = flow_runs("process-video/default")
        etag = s3.head_object(Bucket="media", Key="uploads/clip.mp4")["ETag"].strip('"')
        assert run.state_name == "Completed"
        assert run.idempotency_key == f"media/uploads/clip.mp4/{etag}", "started by the sweep"

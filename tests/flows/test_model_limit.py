"""Model tasks hold a slot of their pool's global concurrency limit while they run."""

from __future__ import annotations

import contextvars
import threading
import time
from pathlib import Path

import pytest
from helpers.weights import TEST_WEIGHTS
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from prefect.concurrency.sync import concurrency

from vidp.tasks.animals import detect_batch, sample_video_frames
from vidp.tasks.media import ingest_video

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("detector_weights")]


@flow
def detect_first_frames(source: str) -> float:
    """Detect on two frames, bypassing the cache; return when detection finished."""
    video = ingest_video(source).ref
    frames = sample_video_frames(video, 1.0)[:2]
    detect_batch.with_options(refresh_cache=True)(frames, [0.0, 1.0], str(TEST_WEIGHTS), 0.5)
    return time.time()


def wait_for_running_detection(since: float, timeout_s: float = 120) -> None:
    """Until a detect_batch task run that started after `since` is running."""
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="detect_batch"))
            )
            if any(
                r.state_name == "Running" and r.start_time and r.start_time.timestamp() > since
                for r in runs
            ):
                return
            time.sleep(0.5)
    raise AssertionError("detection never started")


def test_a_model_task_waits_for_a_slot_of_its_pools_limit(
    prefect_server: str, vidp_env, cat_clip: Path
) -> None:
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name("models-test-pool", 1)
    vidp_env(VIDP_MODEL_LIMIT="models-test-pool")

    finished: list[float] = []
    with concurrency("models-test-pool", occupy=1):  # another run's model task holds the slot
        started = time.time()
        run = contextvars.copy_context().run  # the thread talks to the same Prefect server
        runner = threading.Thread(
            target=run, args=(lambda: finished.append(detect_first_frames(str(cat_clip))),)
        )
        runner.start()
        wait_for_running_detection(since=started)
        time.sleep(10)  # detecting on two frames takes about a second once it may
        assert not finished, "detection must wait while the pool's only slot is taken"
        released = time.time()
    runner.join(timeout=120)
    assert finished and finished[0] > released, "detection ran once the slot was free"
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("models-test-pool").active_slots == 0

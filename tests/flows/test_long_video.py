"""A long video spread over a pool's workers: `process-video` cuts it into segments, real process
workers run one `process-segment` run each (reading the source in place from the S3 work
store), and the joined result is the unsegmented run's, frame for frame and word for word."""

from __future__ import annotations

import contextvars
import difflib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import av
import jsonschema
import numpy as np
import pytest
from helpers.media import speech_track
from helpers.processes import process_worker
from helpers.repo import REPO
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterName,
    FlowRunFilterParentTaskRunId,
)
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

from vidp.flows.process_video import process_video
from vidp.manifest import Manifest, manifest_schema
from vidp.options import ProcessOptions
from vidp.sample import asset, make_clip
from vidp.speech import Transcript
from vidp.tasks.segments import ready_deployment

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("detector_weights"),
]
POOL = "segments-cpu"
OPTIONS = dict(resolutions=["360p"], whisper_model="base", sample_fps=0.5, thumbnails=3)


@pytest.fixture(scope="module")
def long_clip(media_dir: Path) -> Path:
    """29 s, 640x360: four sentences, in English, Spanish, German and English again, none
    said twice, with pauses of 1.5 s; the cat on screen from 5 s to 25 s."""
    folder = media_dir / "segments"
    folder.mkdir(exist_ok=True)
    keys = ["en", "es", "de", "en-park"]
    spoken = speech_track(keys, folder / "speech.wav", pause_s=1.5)
    return make_clip(
        folder / "long.mp4",
        duration_s=round(spoken[-1].end_s + 3),
        still=asset("cat.jpg"),
        still_window=(5, 25),
        speech=folder / "speech.wav",
    )


def deploy_segments(pool: str, env: dict[str, str]) -> None:
    """A process pool `pool`, with process-segment deployed on it (`VIDP_CPU_POOL` in `env`)."""
    for args in (
        ["prefect", "work-pool", "create", pool, "--type", "process", "--overwrite"],
        ["vidp.cli", "deploy", "--name", "process-segment/default"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def two_workers(
    prefect_server: str, shared_storage: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Path]]:
    """process-segment on its own pool, served by two real process workers, one run at a time
    each, each with a work folder of its own (two machines); yields the work folders."""
    base = tmp_path_factory.mktemp("segment-workers")
    env = {**os.environ, **shared_storage, "VIDP_CPU_POOL": POOL}
    deploy_segments(POOL, env)
    folders = [base / f"machine-{i}" for i in (1, 2)]
    logs = [base / f"worker-{i}.log" for i in (1, 2)]
    with ExitStack() as stack:
        for i, folder in enumerate(folders, start=1):
            stack.enter_context(
                process_worker(
                    POOL,
                    logs[i - 1],
                    {**env, "VIDP_WORK_DIR": str(folder)},
                    limit=1,
                )
            )
        yield folders
    for log in logs:  # the segments' runs logged no error on either worker
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def run(clip: Path, out: Path, segment_s: float) -> Manifest:
    state = process_video(
        source=str(clip),
        output=str(out),
        options=ProcessOptions(**OPTIONS, segment_s=segment_s),
        return_state=True,
    )
    assert state.is_completed(), state.message
    manifest: Manifest = state.result()
    jsonschema.validate(json.loads(Path(manifest.uri).read_text()), manifest_schema())
    return manifest


def frames(video: str) -> tuple[list[float], list[np.ndarray]]:
    times, lumas = [], []
    with av.open(video) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
            lumas.append(frame.to_ndarray(format="gray").astype(np.float64))
    return times, lumas


def words(manifest: Manifest, language: str) -> list[tuple[float, str]]:
    """The transcript's words in `language`, in time order, without case or punctuation."""
    assert manifest.transcript.uri
    text = Transcript.load(Path(manifest.transcript.uri))
    found = [
        (w.start, w.word.strip().lower().strip(".,!?¡¿"))
        for s in text.segments
        if s.language == language
        for w in s.words
    ]
    return sorted(found)


def segment_runs() -> list[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="segment-"))
        )
    return sorted(str(r.id) for r in runs)


def test_a_long_video_spreads_over_two_workers_and_joins_as_if_whole(
    two_workers: list[Path],
    shared_storage: dict[str, str],
    long_clip: Path,
    tmp_path: Path,
    vidp_env,
) -> None:
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "parent"), **shared_storage)
    whole = run(long_clip, tmp_path / "whole", segment_s=0)
    assert not whole.segments

    spread = run(long_clip, tmp_path / "spread", segment_s=10)
    # Three segments, end to end, each from a process-segment run, on both workers.
    assert len(spread.segments) == 3
    assert spread.segments[0].start_s == 0
    for a, b in zip(spread.segments, spread.segments[1:], strict=False):
        assert a.end_s == b.start_s
    assert spread.segments[-1].end_s == pytest.approx(spread.media.duration_s, abs=0.05)
    for machine in two_workers:
        assert list(machine.glob("*/part-*")), f"{machine.name} ran no segment"

    # The same frames as the whole run's, at the same times; renditions alike at every join.
    times, lumas = frames(spread.final_video.uri)
    whole_times, _ = frames(whole.final_video.uri)
    assert len(times) == len(whole_times)
    assert times == pytest.approx(whole_times, abs=1e-3)
    rendition, whole_rendition = (
        frames(spread.renditions[0].uri)[1],
        frames(whole.renditions[0].uri)[1],
    )
    fps = len(times) / spread.media.duration_s
    for segment in spread.segments[1:]:
        cut = round(segment.start_s * fps)
        for i in range(cut - 2, cut + 2):
            mse = float(np.mean((rendition[i] - whole_rendition[i]) ** 2))
            assert mse == 0 or 10 * np.log10(255**2 / mse) >= 35, f"frame {i} at a join"
    with av.open(spread.final_video.uri) as container:
        audio, video = container.streams.audio[0], container.streams.video[0]
        audio_end = float((audio.start_time + audio.duration) * audio.time_base)
        video_end = float((video.start_time + video.duration) * video.time_base)
    assert abs(audio_end - video_end) <= 1024 / 48000 + 1 / fps

    # The words the whole run heard, in order, each in its stretch's language.
    # The same languages, stretch by stretch; the English words the same (Whisper base mishears
    # espeak's Spanish and German, a word changing with what it hears around it, cut or not).
    assert [s.code for s in spread.languages] == [s.code for s in whole.languages]
    assert [s.code for s in spread.languages] == ["en", "es", "de", "en"]
    assert spread.transcript.uri
    text = Transcript.load(Path(spread.transcript.uri))
    times = [w.start for s in text.segments for w in s.words]  # as the transcript has them
    assert all(a < b for a, b in zip(times, times[1:], strict=False)), "word times go back"
    said, whole_said = words(spread, "en"), words(whole, "en")
    edits = difflib.SequenceMatcher(None, [w for _, w in whole_said], [w for _, w in said])
    changed = sum(
        max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in edits.get_opcodes() if op != "equal"
    )
    assert changed <= 0.02 * len(whole_said), (said, whole_said)
    assert [a.label for a in spread.animals] == ["cat"]
    assert len(spread.thumbnails) == 3

    # Again, the same options: served segment by segment from the runs already made.
    before = segment_runs()
    again = run(long_clip, tmp_path / "again", segment_s=10)
    assert segment_runs() == before
    assert [s.flow_run_id for s in again.segments] == [s.flow_run_id for s in spread.segments]

    # Again with --refresh-cache: new segment runs, each remaking every step (none Cached).
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):
        fresh = run(long_clip, tmp_path / "fresh", segment_s=10)
    ids = [s.flow_run_id for s in fresh.segments]
    assert len(ids) == 3 and not set(ids) & set(before)
    with get_client(sync_client=True) as client:
        steps = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
    assert steps
    assert [t.name for t in steps if t.state_name != "Completed"] == []


BEAT_S = 30  # Prefect's shortest heartbeat period


@pytest.mark.minutes  # three heartbeats of 30 s before the killed segment's run is Crashed
@pytest.mark.timeout(1200)
def test_a_worker_killed_mid_segment_costs_that_segment_only(
    prefect_server: str,
    shared_storage: dict[str, str],
    long_clip: Path,
    tmp_path: Path,
    vidp_env,
) -> None:
    pool = "segments-faults"
    env = {
        **os.environ,
        **shared_storage,
        "VIDP_CPU_POOL": pool,
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(BEAT_S),
    }
    deploy_segments(pool, env)
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "parent"), **shared_storage)
    options = ProcessOptions(**OPTIONS, segment_s=10, crf=30)  # options no other test used

    # The first worker takes a segment and dies with its run and that run's ffmpeg.
    with (tmp_path / "worker-1.log").open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "1"],
            env={**env, "VIDP_WORK_DIR": str(tmp_path / "machine-1")},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    parent: dict[str, object] = {}
    waiting = threading.Thread(  # in this context: its Prefect settings name the test's server
        target=contextvars.copy_context().run,
        args=(lambda: parent.update(state=process_video(
            source=str(long_clip), output=str(tmp_path / "out"), options=options,
            return_state=True,
        )),),
    )  # fmt: skip
    waiting.start()
    try:
        deadline = time.monotonic() + 300
        while not list((tmp_path / "machine-1").glob("*/part-*/audio-16k.wav")):
            assert time.monotonic() < deadline, "the first worker never started a segment"
            time.sleep(1)
    finally:
        children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
        worker.kill()
        worker.wait()
        for pid in children.stdout.split():  # each flow run leads its own process group
            os.killpg(int(pid), signal.SIGKILL)

    # Another worker does the rest, and the killed segment again once it is marked Crashed.
    with process_worker(
        pool, tmp_path / "worker-2.log", {**env, "VIDP_WORK_DIR": str(tmp_path / "machine-2")}
    ):
        waiting.join(timeout=900)
    state = parent["state"]
    assert state.is_completed(), state.message  # type: ignore[attr-defined]
    manifest: Manifest = state.result()  # type: ignore[attr-defined]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="segment-"))
        )
    ours = [r for r in runs if r.parameters["options"]["crf"] == 30]
    assert len(ours) == len(manifest.segments) + 1, "only the killed segment ran twice"
    assert sorted(r.state_name for r in ours).count("Crashed") == 1
    with av.open(manifest.final_video.uri) as container:
        frames_out = sum(1 for _ in container.decode(video=0))
        duration = float(container.duration) / av.time_base
    with av.open(str(long_clip)) as container:
        frames_in = sum(1 for _ in container.demux(video=0) if _.pts is not None)
    assert frames_out == frames_in
    assert duration == pytest.approx(manifest.media.duration_s, abs=0.05)


def test_segments_send_their_model_work_to_the_gpu_pool(
    gpu_worker: Path,
    shared_storage: dict[str, str],
    long_clip: Path,
    tmp_path: Path,
    vidp_env,
) -> None:
    """Where the workers have VIDP_GPU_DEPLOYMENT, each segment's run hears and detects through
    an analyze-gpu run on the GPU pool, for its segment alone, and encodes meanwhile."""
    pool = "segments-offload"
    gpu = {"VIDP_GPU_DEPLOYMENT": "analyze-gpu/default"}
    env = {**os.environ, **shared_storage, **gpu, "VIDP_CPU_POOL": pool}
    deploy_segments(pool, env)
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "parent"), **shared_storage, **gpu)
    segment_log = tmp_path / "segment-worker.log"
    with process_worker(pool, segment_log, {**env, "VIDP_WORK_DIR": str(tmp_path / "machine")}):
        manifest = run(long_clip, tmp_path / "out", segment_s=15)
    for log in (segment_log, tmp_path / "gpu-worker.log"):  # (the second: gpu_worker's)
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]

    assert len(manifest.segments) == 2
    assert [s.code for s in manifest.languages] == ["en", "es", "de", "en"]
    assert manifest.final_video.subtitles == "burned"
    # The detections name the frames the segments' encodes made: the best one's crop was found.
    assert [a.label for a in manifest.animals] == ["cat"] and manifest.animals[0].thumbnail
    with av.open(manifest.final_video.uri) as container:
        frames_out = sum(1 for _ in container.decode(video=0))
    with av.open(str(long_clip)) as container:
        frames_in = sum(1 for _ in container.demux(video=0) if _.pts is not None)
    assert frames_out == frames_in

    with get_client(sync_client=True) as client:
        for segment in manifest.segments:
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[segment.flow_run_id]))
            )
            names = {t.name.rsplit("-", 1)[0] for t in tasks}
            assert not names & {"transcript", "detect_batch"}
            # As a whole video's run burns where a GPU hears: beside the renditions' decode.
            assert {"encode_part", "burn_part"} <= names
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_task_run_id=FlowRunFilterParentTaskRunId(any_=[t.id for t in tasks])
                )
            )
            assert [(c.name, c.state_name) for c in children] == [
                (f"analyze-segment-{segment.index:03d}-{manifest.video_id}", "Completed")
            ]
    # The GPU machine read only the segments' parts of the stored source: no copy of it.
    assert len(list(gpu_worker.glob("*/part-*/frames-*"))) == 2
    assert not list(gpu_worker.glob("*/source"))


def test_segments_asked_for_where_no_deployment_runs_them_fail_with_the_reason(
    prefect_server: str, long_clip: Path, tmp_path: Path, vidp_env
) -> None:
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "work"), VIDP_SEGMENT_DEPLOYMENT="process-segment/none")
    before = long_clip.read_bytes()
    state = process_video(
        source=str(long_clip),
        output=str(tmp_path / "out"),
        options=ProcessOptions(**OPTIONS, segment_s=10),
        return_state=True,
    )
    assert state.is_failed()
    assert state.message.endswith(
        "segments need the process-segment/none deployment (vidp deploy), and there is none"
    )
    assert not (tmp_path / "out").exists() and long_clip.read_bytes() == before


def test_automatic_segments_go_where_a_worker_can_take_them(
    prefect_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Empty `segment_s` spreads a long video only where the segment deployment's pool has a
    worker online; asked for, segments wait for one (with a warning in the run's log)."""
    pool = "segments-choice"
    env = {**os.environ, "VIDP_CPU_POOL": pool}
    deploy_segments(pool, env)
    name = "process-segment/default"

    @flow
    def choose(asked: bool) -> str | None:
        return ready_deployment(name, asked)

    assert choose(asked=False) is None  # no worker has polled the pool yet
    assert choose(asked=True) == name
    assert f"no worker of pool {pool} is online: the segments wait for one" in caplog.text
    with process_worker(pool, tmp_path / "worker.log", env):
        deadline = time.monotonic() + 60
        while choose(asked=False) is None:  # the worker's first poll makes the pool ready
            assert time.monotonic() < deadline, "the pool never became ready"
            time.sleep(1)
        assert choose(asked=False) == name

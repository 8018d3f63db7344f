"""The `process-video` flow end to end against a real Prefect server, on real media and models."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from uuid import UUID

import av
import jsonschema
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from vidp import catalog
from vidp.flows.process_video import process_video
from vidp.manifest import manifest_schema
from vidp.options import ProcessOptions
from vidp.sample import asset, make_clip
from vidp.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = manifest_schema()
HOSTILE = """cat's "video": [take 1] 50% é,x.mp4"""
MODEL_AND_ENCODE_TASKS = {
    "encode_media",
    "detect_batch",
    "summarize",
    "audio_track",
    "transcript",
    "subtitle_files",
    "final_video",
}


@pytest.fixture(scope="module")
def hd_cat(media_dir: Path, speech, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s of 1280x720 with the cat on screen from 3 s to 7 s and English speech, under a hostile name."""
    clip = make_clip(
        media_dir / "hd-cat.mp4",
        duration_s=10,
        size=(1280, 720),
        still=asset("cat.jpg"),
        still_window=(3, 7),
        speech=speech("en"),
        speech_at_s=1.0,
    )
    hostile = tmp_path_factory.mktemp("uploads") / HOSTILE
    shutil.copyfile(clip, hostile)
    return hostile


def run(source: Path, output: Path, **options):
    state = process_video(
        source=str(source), output=str(output), options=ProcessOptions(**options), return_state=True
    )
    assert state.is_completed(), state.message
    return state.result(), state.state_details.flow_run_id


def task_runs(flow_run_id: UUID) -> dict[str, list]:
    """Task name -> its runs in `flow_run_id`, once the server has recorded them all as finished."""
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if all(r.state.is_final() for r in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    by_name: dict[str, list] = {}
    for r in runs:
        by_name.setdefault(r.name.rsplit("-", 1)[0], []).append(r)
    return by_name


@pytest.fixture(scope="module")
def first_run(
    prefect_server: str,
    detector_weights: Path,
    hd_cat: Path,
    tmp_path_factory: pytest.TempPathFactory,
):
    output = tmp_path_factory.mktemp("published")
    manifest, run_id = run(hd_cat, output, resolutions=["360p", "480p"])
    return manifest, run_id, output


class TestFirstRun:
    def test_manifest_is_last_complete_and_valid(self, first_run) -> None:
        manifest, _, output = first_run
        on_disk = json.loads((output / manifest.video_id / "manifest.json").read_text())
        jsonschema.validate(on_disk, SCHEMA, format_checker=jsonschema.FormatChecker())
        assert on_disk == manifest.model_dump(mode="json")
        for uri in [
            manifest.final_video.uri,
            manifest.subtitles.srt,
            manifest.subtitles.vtt,
            manifest.transcript.uri,
            *manifest.thumbnails,
            *(r.uri for r in manifest.renditions),
            *(a.thumbnail for a in manifest.animals),
        ]:
            assert Path(uri).is_file() and Path(uri).is_relative_to(output / manifest.video_id)
        assert not [p for p in output.iterdir() if p.name.startswith(".")], "no staging left behind"

    def test_catalog_has_the_published_video(self, first_run) -> None:
        manifest, run_id, output = first_run
        with catalog.session() as s:
            entry = s.get(catalog.Video, manifest.video_id)
        assert (entry.status, entry.flow_run_id, entry.manifest) == (
            "completed",
            str(run_id),
            manifest.model_dump(mode="json"),
        )
        assert entry.manifest_uri == str(output / manifest.video_id / "manifest.json")

    def test_analysis(self, first_run) -> None:
        manifest, _, _ = first_run
        assert manifest.source.filename == HOSTILE
        assert [a.label for a in manifest.animals] == ["cat"]
        cat = manifest.animals[0]
        assert 3 <= cat.first_seen_s <= cat.last_seen_s <= 7
        assert manifest.language.code == "en" and manifest.language.method == "whisper"
        words = json.loads(Path(manifest.transcript.uri).read_text())
        assert "cat" in " ".join(s["text"] for s in words["segments"]).lower()
        assert manifest.transcript.words > 5
        srt = Path(manifest.subtitles.srt).read_text(encoding="utf-8")
        assert "-->" in srt and "cat" in srt.lower()
        assert Path(manifest.subtitles.vtt).read_text(encoding="utf-8").startswith("WEBVTT")

    def test_videos(self, first_run) -> None:
        manifest, _, _ = first_run
        assert [(r.label, r.width, r.height) for r in manifest.renditions] == [
            ("360p", 640, 360),
            ("480p", 854, 480),
        ]
        final = manifest.final_video
        assert (final.label, final.width, final.height, final.subtitles) == (
            "480p",
            854,
            480,
            "burned",
        )
        assert {v.encoder for v in [final, *manifest.renditions]} == {"libx264"}
        with av.open(final.uri) as container:
            video = container.streams.video[0]
            assert (video.codec_context.width, video.codec_context.height) == (854, 480)
            assert container.streams.audio[0].codec_context.name == "aac"
        assert len(manifest.thumbnails) == 4
        # Stage times are Prefect's own (the run's task runs); the manifest has the run's total.
        assert set(manifest.timings_s.model_dump()) == {"total"} and manifest.timings_s.total > 1

    def test_run_is_named_after_the_file_and_shows_artifacts(self, first_run) -> None:
        manifest, run_id, _ = first_run
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(run_id).name == f"process-{HOSTILE}"
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
        by_type = {a.type: a for a in artifacts}
        assert {"markdown", "table", "progress"} <= set(by_type)
        report = by_type["markdown"]
        assert report.key == f"report-{manifest.video_id}"
        assert "| cat |" in report.data and "**en**" in report.data
        assert json.loads(by_type["table"].data)[0]["label"] == "cat"
        assert by_type["progress"].data == 100


def test_second_run_is_served_from_cache(first_run, hd_cat: Path, tmp_path: Path) -> None:
    first, _, _ = first_run
    renamed = tmp_path / "same bytes, another name.mp4"
    shutil.copyfile(hd_cat, renamed)
    manifest, run_id = run(renamed, tmp_path / "out", resolutions=["360p", "480p"])
    runs = task_runs(run_id)
    states = {name: {r.state.name for r in runs.get(name, [])} for name in MODEL_AND_ENCODE_TASKS}
    assert states == {name: {"Cached"} for name in MODEL_AND_ENCODE_TASKS}
    assert manifest.video_id == first.video_id
    assert (
        manifest.language == first.language and manifest.transcript.words == first.transcript.words
    )
    assert [a.model_dump(exclude={"thumbnail"}) for a in manifest.animals] == [
        a.model_dump(exclude={"thumbnail"}) for a in first.animals
    ]


def burned(final: str, rendition: str, at_s: float) -> bool:
    """Whether `final` shows text in its lower part at `at_s` where `rendition` does not."""

    def frame(path: str):
        with av.open(path) as container:
            for f in container.decode(video=0):
                if f.time >= at_s:
                    return f.to_ndarray(format="gray").astype(int)
        raise AssertionError(f"no frame at {at_s} s")

    height = frame(final).shape[0]
    return (abs(frame(final) - frame(rendition))[int(height * 0.7) :] > 60).mean() > 0.005


def test_one_decode_makes_every_picture(first_run) -> None:
    manifest, run_id, _ = first_run
    runs = task_runs(run_id)
    assert len(runs["encode_media"]) == 1, "renditions, frames, thumbnails and the burned final"
    rendition = manifest.renditions[-1].uri
    assert burned(manifest.final_video.uri, rendition, 3.0)


def test_two_passes_make_the_same_videos(
    first_run, hd_cat: Path, tmp_path: Path, work_root: Path, vidp_env
) -> None:
    """With many cores (here forced), the final is burned in a second decode beside the first."""
    first, _, _ = first_run
    vidp_env(VIDP_ENCODE_PASSES="two")
    manifest, run_id = run(hd_cat, tmp_path, resolutions=["360p", "480p"])
    assert len(task_runs(run_id)["encode_media"]) == 1
    assert manifest.final_video.subtitles == "burned"
    assert burned(manifest.final_video.uri, manifest.renditions[-1].uri, 3.0)
    assert [r.size_bytes for r in manifest.renditions] == [r.size_bytes for r in first.renditions]


def test_forced_language_skips_identification(first_run, hd_cat: Path, tmp_path: Path) -> None:
    manifest, _ = run(hd_cat, tmp_path, resolutions=["360p", "480p"], language="en")
    assert manifest.language.model_dump() == {"code": "en", "probability": None, "method": "forced"}
    assert "cat" in Path(manifest.subtitles.srt).read_text(encoding="utf-8").lower()


def test_soft_subtitles(first_run, hd_cat: Path, tmp_path: Path) -> None:
    manifest, _ = run(hd_cat, tmp_path, resolutions=["360p", "480p"], subtitles="soft")
    assert manifest.final_video.subtitles == "soft"
    with av.open(manifest.final_video.uri) as container:
        assert [
            (s.codec_context.name, s.metadata.get("language")) for s in container.streams.subtitles
        ] == [("mov_text", "eng")]


@pytest.mark.usefixtures("detector_weights")
def test_video_without_audio(prefect_server: str, media_dir: Path, tmp_path: Path) -> None:
    clip = make_clip(media_dir / "mute.mp4", duration_s=4, size=(320, 180), audio=False)
    manifest, run_id = run(clip, tmp_path, resolutions=["360p", "720p"])
    jsonschema.validate(json.loads(Path(manifest.uri).read_text()), SCHEMA)
    assert manifest.media.has_audio is False
    assert manifest.language.model_dump() == {"code": None, "probability": None, "method": "none"}
    assert (
        manifest.subtitles.model_dump() == {"srt": None, "vtt": None}
        and manifest.transcript.uri is None
    )
    assert manifest.final_video.subtitles == "none"
    assert (manifest.final_video.width, manifest.final_video.height) == (320, 180), "not upscaled"
    assert [(r.label, r.width, r.height) for r in manifest.renditions] == [
        ("360p", 320, 180),
        ("720p", 320, 180),
    ]
    work = Path(get_settings().work_dir) / manifest.video_id
    assert len(list(work.glob("rendition-*.mp4"))) == 1, "one size, one encode"


def test_rejected_input_fails_once_without_retries(prefect_server: str, tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    state = process_video(source=str(missing), output=str(tmp_path / "out"), return_state=True)
    assert state.is_failed() and "source not found" in state.message
    runs = task_runs(state.state_details.flow_run_id)["ingest_video"]
    assert [(r.run_count, r.state.name) for r in runs] == [(1, "Failed")], (
        "bad input is never retried"
    )
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_no_video_is_failed_in_the_catalog_with_the_reason(
    prefect_server: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("these are my notes, not a video\n")
    state = process_video(source=str(notes), output=str(tmp_path / "out"), return_state=True)
    assert state.is_failed()
    video_id = hashlib.sha256(notes.read_bytes()).hexdigest()[:16]
    with catalog.session() as s:
        entry = s.get(catalog.Video, video_id)
    assert entry.status == "failed" and entry.filename == "notes.mp4"
    assert entry.error == str(state.result(raise_on_failure=False))

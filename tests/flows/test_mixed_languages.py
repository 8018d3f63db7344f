"""Videos that switch language, through the `process-video` flow on a real Prefect server: every
stretch in its language in the manifest, the transcript, the subtitles and the report; speech
that produced no words named in the manifest and warned of by the quality gate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import UUID

import av
import jsonschema
import pytest
from helpers.media import Spoken, speech_track
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)

from vidp.flows.process_video import process_video
from vidp.manifest import Manifest, manifest_schema
from vidp.options import ProcessOptions
from vidp.sample import make_clip
from vidp.subtitles import parse_srt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_server", "detector_weights"),
]


def clip_of(keys: list[str], pause_s: float, folder: Path) -> tuple[Path, list[Spoken]]:
    """A small video whose sound is SENTENCES[key] for each key, in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    spoken = speech_track(keys, folder / "speech.wav", pause_s)
    clip = make_clip(
        folder / f"{'-'.join(keys)}.mp4",
        duration_s=round(spoken[-1].end_s + 1.5, 1),
        size=(320, 180),
        speech=folder / "speech.wav",
    )
    return clip, spoken


def run(source: Path, output: Path, **options) -> tuple[Manifest, UUID]:
    state = process_video(
        source=str(source), output=str(output), options=ProcessOptions(**options), return_state=True
    )
    assert state.is_completed(), state.message
    return state.result(), state.state_details.flow_run_id


def report_of(run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    (report,) = [a for a in artifacts if a.type == "markdown"]
    return str(report.data)


def logs_of(run_id: UUID, containing: str) -> list[str]:
    """The run's log lines that contain `containing`, once the server has them (shipped later)."""
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            lines = [
                log.message
                for log in client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
                )
                if containing in log.message
            ]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.5)


def test_each_stretch_has_its_language_in_every_output(media_dir: Path, tmp_path: Path) -> None:
    clip, spoken = clip_of(["en", "es", "de"], 1.5, media_dir / "three-languages")
    manifest, run_id = run(clip, tmp_path, resolutions=["360p"], subtitles="soft")
    published = json.loads(Path(manifest.uri).read_text(encoding="utf-8"))
    jsonschema.validate(published, manifest_schema())

    # The manifest: a stretch per language, in order, where each was spoken.
    assert [s["code"] for s in published["languages"]] == ["en", "es", "de"]
    for stretch, sentence in zip(manifest.languages, spoken, strict=True):
        assert stretch.start_s < sentence.start_s + 0.5 and stretch.end_s > sentence.end_s - 0.5
    longest = max(spoken, key=lambda s: s.end_s - s.start_s).language
    assert (manifest.language.code, manifest.language.method) == (longest, "whisper")
    assert published["transcript"]["untranscribed"] == []
    assert published["transcript"]["speech_s"] > 12

    # The transcript: each segment in the language of its stretch.
    transcript = json.loads(Path(manifest.transcript.uri).read_text(encoding="utf-8"))
    for sentence in spoken:
        inside = [
            s
            for s in transcript["segments"]
            if sentence.start_s - 0.5 <= s["start"] < sentence.end_s
        ]
        assert inside and {s["language"] for s in inside} == {sentence.language}, sentence

    # The subtitles: each language's words while it is spoken.
    cues = parse_srt(Path(manifest.subtitles.srt).read_text(encoding="utf-8"))
    for sentence, word in zip(spoken, ("cat", "duerme", "katze"), strict=True):
        said = " ".join(
            c.text for c in cues if c.start < sentence.end_s and c.end > sentence.start_s
        )
        assert word in said.lower(), (sentence, said)

    # The soft track holds several languages: ISO 639-2 `mul`.
    with av.open(manifest.final_video.uri) as container:
        assert [s.metadata.get("language") for s in container.streams.subtitles] == ["mul"]

    # The report: the languages on a timeline.
    report = report_of(run_id)
    assert "## Languages" in report
    assert "| es |" in report and "| de |" in report and "Warning" not in report


def test_speech_a_forced_language_loses_is_named_and_warned_of(
    media_dir: Path, tmp_path: Path
) -> None:
    clip, spoken = clip_of(["en", "es", "de", "it"], 2.5, media_dir / "four-languages")
    manifest, run_id = run(clip, tmp_path, resolutions=["360p"], language="en")

    assert [(s.code, s.probability) for s in manifest.languages] == [("en", None)]
    lost = [(u.start_s, u.end_s) for u in manifest.transcript.untranscribed or []]
    for sentence in spoken[1:]:  # Whisper told to hear English drops the rest
        assert any(a < sentence.end_s and b > sentence.start_s for a, b in lost), sentence
    (warning,) = logs_of(run_id, "speech without words")
    assert warning.startswith("quality gate: speech without words: ")
    assert "**Warning:** speech without words" in report_of(run_id)

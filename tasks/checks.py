"""The quality gate: the run fails when its own outputs break an expectation."""

from __future__ import annotations

from prefect import task

from vidp.detect import Detection
from vidp.quality import check_outputs, cues_frame, detections_frame
from vidp.subtitles import Cue, parse_srt
from vidp.tasks.policies import CACHED, STEP_TIMEOUT
from vidp.tasks.video import SubtitleFiles

__all__ = ["quality_gate"]


@task(cache_policy=CACHED, **STEP_TIMEOUT)  # same outputs, same verdict
def quality_gate(
    detections: list[Detection], subtitles: SubtitleFiles | None, duration_s: float
) -> int:
    """Check detections and subtitle cues; return how many expectations passed."""
    cues: list[Cue] = (
        parse_srt(subtitles.srt.local().read_text(encoding="utf-8")) if subtitles else []
    )
    return check_outputs(detections_frame(detections), cues_frame(cues), duration_s)

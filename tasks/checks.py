"""The quality gate: the run fails when its own outputs break an expectation, and warns when
speech produced no words."""

from __future__ import annotations

from prefect import get_run_logger, task

from vidp.detect import Detection
from vidp.quality import check_outputs, cues_frame, detections_frame, untranscribed_warning
from vidp.speech import Transcript
from vidp.subtitles import Cue, parse_srt
from vidp.tasks.policies import CACHED, STEP_TIMEOUT
from vidp.tasks.speech import Heard
from vidp.tasks.video import SubtitleFiles

__all__ = ["quality_gate"]


@task(cache_policy=CACHED, **STEP_TIMEOUT)  # same outputs, same verdict
def quality_gate(
    detections: list[Detection], subtitles: SubtitleFiles | None, heard: Heard, duration_s: float
) -> int:
    """Check detections and subtitle cues; return how many expectations passed. Speech that
    produced no words is a warning (the manifest lists it), not a failure."""
    if heard.transcript is not None:
        text = Transcript.load(heard.transcript.local())
        spans = [(s.start_s, s.end_s) for s in text.untranscribed]
        if warning := untranscribed_warning(spans, text.speech_s):
            get_run_logger().warning("quality gate: %s", warning)
    cues: list[Cue] = (
        parse_srt(subtitles.srt.local().read_text(encoding="utf-8")) if subtitles else []
    )
    return check_outputs(detections_frame(detections), cues_frame(cues), duration_s)

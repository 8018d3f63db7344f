"""Encoding tasks: every picture from one decode of the source, subtitles, the final video."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from vidp.encode import copy_video, encode_pass, mux_soft_subtitles
from vidp.ingest import VideoRef
from vidp.outputs import FinalSubtitles, OutputPlan
from vidp.speech import Transcript
from vidp.subtitles import build_cues, write_subtitles
from vidp.tasks.policies import CACHED_FILES, STEP_TIMEOUT
from vidp.tasks.speech import Heard
from vidp.workfiles import WorkFile, keep

__all__ = ["SubtitleFiles", "EncodedMedia", "subtitle_files", "encode_media", "final_video"]


class SubtitleFiles(BaseModel):
    srt: WorkFile
    vtt: WorkFile
    cues: int


class EncodedMedia(BaseModel):
    """What the decode of the source made: renditions by label (labels of one size share a
    file), the final video when it was burned there, the detector's frames, the thumbnails."""

    renditions: dict[str, WorkFile]
    final: WorkFile | None
    frames: list[WorkFile]
    thumbnails: list[WorkFile]


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def subtitle_files(video: VideoRef, heard: Heard, duration_s: float) -> SubtitleFiles | None:
    """SRT and WebVTT from the transcript's word times; None without speech."""
    if heard.transcript is None:
        return None
    text = heard.transcript.local()
    segments = Transcript.load(text).segments
    if not segments:  # speech was heard, no word came of it
        return None
    cues = build_cues(segments, duration_s)
    srt, vtt = text.with_suffix(".srt"), text.with_suffix(".vtt")
    write_subtitles(cues, srt, vtt)
    srt_file, vtt_file = keep(video, [srt, vtt])
    return SubtitleFiles(srt=srt_file, vtt=vtt_file, cues=len(cues))


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def encode_media(
    video: VideoRef, plan: OutputPlan, subtitles: SubtitleFiles | None
) -> EncodedMedia:
    """Renditions, frames and thumbnails from one decode of the source, and the final video
    with `subtitles` burned in when the plan makes it here (the task then waits for them)."""
    renditions = plan.rendition_encodes(video.work_dir)
    burned = (
        [plan.burned_encode(video.work_dir, subtitles.srt.local())]
        if subtitles is not None and plan.burns_first(subtitles.cues)
        else []
    )
    made = encode_pass(
        video.path,
        plan.codec,
        renditions + burned,
        plan.frame_sample(video.work_dir),
        plan.thumbnails(video.work_dir),
        plan.copy_audio,
    )
    encoded = keep(video, made.encodes)  # the burned final, if any, comes last
    return EncodedMedia(
        renditions=plan.by_label(encoded[: len(renditions)]),
        final=encoded[-1] if burned else None,
        frames=keep(video, made.frames),
        thumbnails=keep(video, made.thumbnails),
    )


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def final_video(
    video: VideoRef,
    plan: OutputPlan,
    subtitles: SubtitleFiles | None,
    heard: Heard,
    encoded: EncodedMedia,
) -> tuple[WorkFile, FinalSubtitles]:
    """The video users watch, and how its subtitles went in (the plan decides): the one burned
    with the rest, else the final rendition as it is, with a soft track, or burned in a decode
    of its own."""
    how = plan.final_subtitles(subtitles.cues if subtitles else 0)
    if encoded.final is not None:  # burned in the first decode
        return encoded.final, how
    rendition = encoded.renditions[plan.final_label]
    # Beside its rendition: the video's work folder, or the folder of a segmented run's joins.
    out = plan.final_path(rendition.path.parent)
    if how == "none" or subtitles is None:  # (no subtitles, no cues: `how` is "none")
        made = copy_video(rendition.local(), out)
    elif how == "soft":
        text = Transcript.load(heard.transcript.local()) if heard.transcript else None
        language = text.track_language if text else heard.language.code
        made = mux_soft_subtitles(rendition.local(), subtitles.srt.local(), out, language)
    else:  # burned in a decode of its own, beside the first
        burn = plan.burned_encode(video.work_dir, subtitles.srt.local())
        burned = encode_pass(video.path, plan.codec, [burn], copy_audio=plan.copy_audio)
        made = burned.encodes[0]
    return keep(video, [made])[0], how

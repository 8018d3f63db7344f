"""Encoding tasks: every picture from one decode of the source, subtitles, the final video."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from vidp.encode import (
    Encode,
    FrameSample,
    Thumbnails,
    copy_video,
    encode_pass,
    mux_soft_subtitles,
)
from vidp.ingest import VideoRef
from vidp.outputs import OutputPlan
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
    cues = build_cues(Transcript.load(text).segments, duration_s)
    srt, vtt = text.with_suffix(".srt"), text.with_suffix(".vtt")
    write_subtitles(cues, srt, vtt)
    srt_file, vtt_file = keep(video, [srt, vtt])
    return SubtitleFiles(srt=srt_file, vtt=vtt_file, cues=len(cues))


def _burned_name(plan: OutputPlan, subtitles: SubtitleFiles) -> str:
    w, h = plan.final_size
    return f"final-burned-{w}x{h}-{_codec_slug(plan)}-{subtitles.srt.path.stem}.mp4"


def _codec_slug(plan: OutputPlan) -> str:
    return f"{plan.encoder}-crf{plan.crf}-{plan.preset}"


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def encode_media(
    video: VideoRef, plan: OutputPlan, subtitles: SubtitleFiles | None
) -> EncodedMedia:
    """Renditions, frames and thumbnails from one decode of the source, and the final video
    with `subtitles` burned in when the plan makes it here (the task then waits for them)."""
    sizes = list(dict.fromkeys(plan.renditions.values()))
    encodes = [
        Encode(video.work_dir / f"rendition-{w}x{h}-{_codec_slug(plan)}.mp4", (w, h))
        for w, h in sizes
    ]
    burn = plan.one_pass and subtitles is not None and subtitles.cues > 0
    if burn and subtitles is not None:
        srt = subtitles.srt.local()
        encodes.append(Encode(video.work_dir / _burned_name(plan, subtitles), plan.final_size, srt))
    thumbs = None
    if plan.thumbnail_times:
        w, h = plan.thumbnail_size
        thumbs = Thumbnails(
            video.work_dir / f"thumbnails-{len(plan.thumbnail_times)}-{w}x{h}",
            plan.thumbnail_times,
            plan.thumbnail_size,
        )
    made = encode_pass(
        video.path,
        plan.codec,
        encodes,
        FrameSample(video.work_dir / f"frames-{plan.sample_fps:g}fps", plan.sample_fps),
        thumbs,
        plan.copy_audio,
    )
    encoded = keep(video, made.encodes)
    by_size = dict(zip(sizes, encoded, strict=False))  # the burned final, if any, comes last
    return EncodedMedia(
        renditions={label: by_size[size] for label, size in plan.renditions.items()},
        final=encoded[-1] if burn else None,
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
) -> tuple[WorkFile, str]:
    """The video users watch, and how its subtitles went in ('burned', 'soft' or 'none'):
    the one burned with the rest, else burned in a decode of its own, muxed as a track, or the
    largest rendition as it is."""
    if encoded.final is not None:
        return encoded.final, "burned"
    largest = encoded.renditions[plan.final_label]
    stem = f"final-{plan.subtitles}-{largest.path.stem}"
    if subtitles is None or subtitles.cues == 0 or plan.subtitles == "none":
        made, how = copy_video(largest.local(), video.work_dir / f"{stem}.mp4"), "none"
    elif plan.subtitles == "soft":
        srt = subtitles.srt.local()
        made = mux_soft_subtitles(
            largest.local(), srt, video.work_dir / f"{stem}.mp4", heard.language.code
        )
        how = "soft"
    else:  # burned in a decode of its own, beside the first
        out = video.work_dir / _burned_name(plan, subtitles)
        burn = Encode(out, plan.final_size, subtitles.srt.local())
        made = encode_pass(video.path, plan.codec, [burn], copy_audio=plan.copy_audio).encodes[0]
        how = "burned"
    return keep(video, [made])[0], how

"""Encoding tasks: renditions, subtitles, and the final video."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from pydantic import BaseModel

from tasks.policies import CACHED
from vidp.encode import burn_subtitles, copy_video, encode_rendition, mux_soft_subtitles
from vidp.ingest import VideoRef
from vidp.speech import LanguageResult, Transcript
from vidp.subtitles import build_cues, write_subtitles

__all__ = ["SubtitleFiles", "rendition", "subtitle_files", "final_video"]


class SubtitleFiles(BaseModel):
    srt: Path
    vtt: Path
    cues: int


@task(cache_policy=CACHED)
def rendition(video: VideoRef, size: tuple[int, int], crf: int, preset: str) -> Path:
    """One downscaled H.264/AAC copy without subtitles."""
    w, h = size
    return encode_rendition(
        video.path, video.work_dir / f"rendition-{w}x{h}-crf{crf}-{preset}.mp4", size, crf, preset
    )


@task(cache_policy=CACHED)
def subtitle_files(
    video: VideoRef, transcript: Path | None, duration_s: float
) -> SubtitleFiles | None:
    """SRT and WebVTT from the transcript's word times; None without speech."""
    if transcript is None:
        return None
    cues = build_cues(Transcript.load(transcript).segments, duration_s)
    srt, vtt = transcript.with_suffix(".srt"), transcript.with_suffix(".vtt")
    write_subtitles(cues, srt, vtt)
    return SubtitleFiles(srt=srt, vtt=vtt, cues=len(cues))


@task(cache_policy=CACHED)
def final_video(
    video: VideoRef,
    mode: str,
    subtitles: SubtitleFiles | None,
    language: LanguageResult,
    rendition_path: Path,
    size: tuple[int, int],
    crf: int,
    preset: str,
) -> tuple[Path, str]:
    """The video users watch, and how its subtitles went in ('burned', 'soft' or 'none')."""
    out = video.work_dir / f"final-{mode}-{size[0]}x{size[1]}-crf{crf}-{preset}.mp4"
    if subtitles is None or subtitles.cues == 0 or mode == "none":
        return copy_video(rendition_path, out), "none"
    if mode == "soft":
        return mux_soft_subtitles(rendition_path, subtitles.srt, out, language.code), "soft"
    return burn_subtitles(video.path, subtitles.srt, out, size, crf, preset), "burned"

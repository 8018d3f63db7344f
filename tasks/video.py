"""Encoding tasks: renditions, subtitles, and the final video."""

from __future__ import annotations

from prefect import task
from pydantic import BaseModel

from tasks.policies import CACHED_FILES
from vidp.encode import burn_subtitles, copy_video, encode_rendition, mux_soft_subtitles
from vidp.ingest import VideoRef
from vidp.speech import LanguageResult, Transcript
from vidp.subtitles import build_cues, write_subtitles
from vidp.workfiles import WorkFile, keep

__all__ = ["SubtitleFiles", "rendition", "subtitle_files", "final_video"]


class SubtitleFiles(BaseModel):
    srt: WorkFile
    vtt: WorkFile
    cues: int


@task(cache_policy=CACHED_FILES)
def rendition(video: VideoRef, size: tuple[int, int], crf: int, preset: str) -> WorkFile:
    """One downscaled H.264/AAC copy without subtitles."""
    w, h = size
    out = video.work_dir / f"rendition-{w}x{h}-crf{crf}-{preset}.mp4"
    return keep(video, [encode_rendition(video.path, out, size, crf, preset)])[0]


@task(cache_policy=CACHED_FILES)
def subtitle_files(
    video: VideoRef, transcript: WorkFile | None, duration_s: float
) -> SubtitleFiles | None:
    """SRT and WebVTT from the transcript's word times; None without speech."""
    if transcript is None:
        return None
    text = transcript.local()
    cues = build_cues(Transcript.load(text).segments, duration_s)
    srt, vtt = text.with_suffix(".srt"), text.with_suffix(".vtt")
    write_subtitles(cues, srt, vtt)
    srt_file, vtt_file = keep(video, [srt, vtt])
    return SubtitleFiles(srt=srt_file, vtt=vtt_file, cues=len(cues))


@task(cache_policy=CACHED_FILES)
def final_video(
    video: VideoRef,
    mode: str,
    subtitles: SubtitleFiles | None,
    language: LanguageResult,
    rendition_file: WorkFile,
    size: tuple[int, int],
    crf: int,
    preset: str,
) -> tuple[WorkFile, str]:
    """The video users watch, and how its subtitles went in ('burned', 'soft' or 'none')."""
    out = video.work_dir / f"final-{mode}-{size[0]}x{size[1]}-crf{crf}-{preset}.mp4"
    if subtitles is None or subtitles.cues == 0 or mode == "none":
        made, how = copy_video(rendition_file.local(), out), "none"
    elif mode == "soft":
        made = mux_soft_subtitles(rendition_file.local(), subtitles.srt.local(), out, language.code)
        how = "soft"
    else:
        made = burn_subtitles(video.path, subtitles.srt.local(), out, size, crf, preset)
        how = "burned"
    return keep(video, [made])[0], how

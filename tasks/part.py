"""The tasks of one segment's run (`process-segment`): its audio, and every picture of it from
one decode of its frames, read from the stored source in place."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from pydantic import BaseModel

from vidp.audio import extract_audio
from vidp.detect import Detection
from vidp.encode import Encode, Part, encode_pass
from vidp.ingest import VideoRef
from vidp.outputs import OutputPlan, part_frames
from vidp.segments import Segment
from vidp.storage import read_in_place
from vidp.tasks.policies import CACHED_FILES, CACHED_ON_MACHINE, STEP_TIMEOUT
from vidp.tasks.speech import Heard
from vidp.tasks.video import EncodedMedia, SubtitleFiles
from vidp.workfiles import WorkFile, keep

__all__ = [
    "PartResult",
    "part_folder",
    "part_audio",
    "encode_part",
    "burn_part",
    "sample_part_frames",
]


class PartResult(BaseModel):
    """What one segment's run made, every time in it from the segment's own start."""

    segment: Segment
    heard: Heard
    subtitles: SubtitleFiles | None
    encoded: EncodedMedia
    detections: list[Detection]


# A signed URL must outlive the longest step that reads through it.
_LINK_S = 6 * 3600


def part_folder(video: VideoRef, segment: Segment) -> Path:
    """The segment's own folder in the video's work folder, named by its frames: its files'
    names are those of a whole video's, and never meet another segment's."""
    return video.work_dir / f"part-{segment.first_frame:07d}-{segment.frames}"


@task(cache_policy=CACHED_ON_MACHINE, **STEP_TIMEOUT)
def part_audio(video: VideoRef, source: str, segment: Segment) -> WorkFile:
    """The segment's audio as 16 kHz mono WAV, for Whisper."""
    out = part_folder(video, segment) / "audio-16k.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    where = read_in_place(source, _LINK_S)
    return WorkFile.at(video, extract_audio(where, out, segment.seek_s, segment.duration_s))


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def encode_part(
    video: VideoRef,
    source: str,
    segment: Segment,
    plan: OutputPlan,
    subtitles: SubtitleFiles | None,
) -> EncodedMedia:
    """The segment's renditions, its final video (burned with its own `subtitles` when given
    and the plan burns them), its detector frames and the thumbnails that fall in it, from one
    decode of its frames; pictures only, since the whole video's audio is added once they are
    joined."""
    folder = part_folder(video, segment)
    folder.mkdir(parents=True, exist_ok=True)
    renditions = plan.rendition_encodes(folder)
    burned = _burned(plan, folder, subtitles)
    made = encode_pass(
        read_in_place(source, _LINK_S),
        plan.codec,
        renditions + burned,
        part_frames(folder, plan.sample_fps, segment.index),
        plan.part_thumbnails(folder, segment.start_s, segment.end_s),
        part=Part(segment.seek_s, segment.frames),
    )
    encoded = keep(video, made.encodes)
    return EncodedMedia(
        renditions=plan.by_label(encoded[: len(renditions)]),
        final=encoded[-1] if burned else None,
        frames=keep(video, made.frames),
        thumbnails=keep(video, made.thumbnails),
    )


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def burn_part(
    video: VideoRef,
    source: str,
    segment: Segment,
    plan: OutputPlan,
    subtitles: SubtitleFiles | None,
) -> WorkFile | None:
    """The segment's final video with its own cues burned, in a decode of its own beside
    `encode_part`'s (where the plan burns in a second decode); None where none is burned."""
    folder = part_folder(video, segment)
    folder.mkdir(parents=True, exist_ok=True)
    burned = _burned(plan, folder, subtitles)
    if not burned:
        return None
    made = encode_pass(
        read_in_place(source, _LINK_S),
        plan.codec,
        burned,
        part=Part(segment.seek_s, segment.frames),
    )
    return keep(video, made.encodes)[0]


def _burned(plan: OutputPlan, folder: Path, subtitles: SubtitleFiles | None) -> list[Encode]:
    """The final video's encode with `subtitles` burned, where the plan burns them."""
    if subtitles is None or plan.final_subtitles(subtitles.cues) != "burned":
        return []
    return [plan.burned_encode(folder, subtitles.srt.local())]


@task(cache_policy=CACHED_FILES, **STEP_TIMEOUT)
def sample_part_frames(
    video: VideoRef, source: str, segment: Segment, fps: float
) -> list[WorkFile]:
    """Only the segment's detector frames, from a decode of its part of the source, where no
    encode is needed (`analyze-gpu`); named as `encode_part`'s are."""
    folder = part_folder(video, segment)
    folder.mkdir(parents=True, exist_ok=True)
    made = encode_pass(
        read_in_place(source, _LINK_S),
        None,
        frames=part_frames(folder, fps, segment.index),
        part=Part(segment.seek_s, segment.frames),
    )
    return keep(video, made.frames)

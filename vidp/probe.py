"""Probe a media file with PyAV and reject what the pipeline cannot process."""

from __future__ import annotations

from pathlib import Path

import av
from pydantic import BaseModel

from vidp.errors import CorruptMedia, EmptyFile, NotMedia, NoVideoStream, TooLong

__all__ = ["MediaInfo", "duration_of", "probe"]

# Leading bytes of containers we accept: a file that starts like one of these but does not
# open is damaged, anything else is not media at all.
_CONTAINER_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # AVI
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x47"),  # MPEG-TS sync byte
    (0, b"OggS"),
)
# Demuxers that "open" plain text or images as video; never a video for us.
_NOT_VIDEO_FORMATS = {"tty", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "apng"}


class MediaInfo(BaseModel):
    """What the rest of the pipeline needs to know about a video."""

    duration_s: float
    width: int
    height: int
    fps: float
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    format_name: str


def _looks_like_container(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(16)
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC)


def probe(path: Path, max_duration_s: float, name: str | None = None) -> MediaInfo:
    """Read stream metadata and check that the file holds its last second.

    `name` is how error messages call the file (the user's name, not the work copy's).
    """
    name = name or path.name
    if path.stat().st_size == 0:
        raise EmptyFile(f"{name} is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        if _looks_like_container(path):
            raise CorruptMedia(f"{name} is truncated or corrupt: {e.strerror or e}") from e
        raise NotMedia(f"{name} is not a media file ffmpeg can read") from e
    with container:
        if container.format.name in _NOT_VIDEO_FORMATS:
            raise NotMedia(f"{name} is not a video (detected as {container.format.long_name})")
        videos = [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not videos:
            raise NoVideoStream(f"{name} has no video stream")
        video = videos[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        duration_s = _duration(container, video)
        if duration_s <= 0:
            raise CorruptMedia(f"{name} has no measurable duration (truncated or corrupt)")
        if duration_s > max_duration_s:
            raise TooLong(
                f"{name} lasts {duration_s:.0f} s, over the {max_duration_s:.0f} s maximum "
                "(raise VIDP_MAX_DURATION_S to accept it)"
            )
        rotation = _check_decodes(container, video, duration_s, name)
        width, height = video.codec_context.width, video.codec_context.height
        if rotation % 180:  # phones store portrait video as rotated landscape; ffmpeg turns it
            width, height = height, width
        rate = video.average_rate or video.guessed_rate or video.base_rate
        return MediaInfo(
            duration_s=round(duration_s, 3),
            width=width,
            height=height,
            fps=round(float(rate), 3) if rate else 0.0,
            video_codec=video.codec_context.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            format_name=container.format.name,
        )


def duration_of(path: Path) -> float | None:
    """The video's duration in seconds from its header alone; None when it has none or the
    file is no video (`probe` says why)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _duration(container, container.streams.video[0]) or None
    except (av.FFmpegError, OSError, IndexError):
        return None


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float:
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _check_decodes(
    container: av.container.InputContainer, video: av.VideoStream, duration_s: float, name: str
) -> int:
    """A truncated file keeps its header, but the packets of its last second are gone, and the
    frame at its last keyframe must decode. Packets are only read, not decoded, to the end: a
    long GOP of a 1080p source would otherwise cost seconds on every run.

    Returns the display rotation of the frames, in degrees.
    """
    last_s = max(0.0, duration_s - 1.0)
    reached, rotation = -1.0, None
    time_base = video.time_base
    if time_base is None:
        raise CorruptMedia(f"{name} is truncated or corrupt: its video stream has no time base")
    try:
        container.seek(int(last_s / time_base), stream=video, backward=True)
        for packet in container.demux(video):
            if rotation is None:
                for frame in packet.decode():
                    rotation = int(frame.rotation)
            if packet.pts is not None and packet.duration is not None:
                reached = max(reached, float((packet.pts + packet.duration) * time_base))
        if rotation is None:  # a decoder that holds frames back gives them up when flushed
            for frame in video.codec_context.decode(None):
                rotation = int(frame.rotation)
    except av.FFmpegError as e:
        raise CorruptMedia(f"{name} is truncated or corrupt: {e.strerror or e}") from e
    if rotation is not None and reached >= duration_s - 0.5:
        return rotation
    raise CorruptMedia(
        f"{name} is truncated or corrupt: it should last {duration_s:.1f} s but frames stop "
        f"at {max(reached, 0.0):.1f} s"
    )

"""One long video as segments that several workers process at once: where to cut it.

A cut falls between two frames, so every frame belongs to exactly one segment, and where the
video has speech it falls inside a pause that voice activity found, so no word, cue or stretch
of one language is cut. Among the frames in a pause near the target length, a source keyframe
is taken where there is one: a segment's decode then starts on it. Where none lies in a pause
(a camera's keyframes can be 8 s apart, a sentence's pauses half a second long), the cut is
still made in the pause, and that segment's decode starts at the keyframe before it (up to one
GOP decoded twice) rather than a word being cut in two. Without any pause near the target, the
keyframe nearest it is taken, and the word there is cut.

Times are seconds from the start of the container, as ffmpeg's `-ss` counts them and its
outputs start them.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["VideoFrames", "Segment", "video_frames", "plan_segments", "SEARCH_FRACTION"]

# A cut is looked for this fraction of the segment length either side of its target, so
# segments last 0.75-1.25 of `segment_s` (the last one up to 1.5, never under 0.5).
SEARCH_FRACTION = 0.25


class VideoFrames(BaseModel):
    """The presentation time of every frame of the video stream, in order, and which frames
    are keyframes (indexes into `times`)."""

    times: list[float]
    keyframes: list[int]
    frame_s: float = Field(gt=0, description="The nominal duration of one frame.")

    @property
    def end_s(self) -> float:
        return self.times[-1] + self.frame_s


class Segment(BaseModel):
    """Frames `first_frame` .. `first_frame + frames - 1` of the video, which start at `start_s`
    and end at `end_s` (where the next segment starts)."""

    index: int = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    first_frame: int = Field(ge=0)
    frames: int = Field(gt=0)
    keyframe: bool = Field(description="Whether its first frame is a keyframe of the source.")
    seek_s: float = Field(
        ge=0, description="Between its first frame and the one before: where its decode seeks."
    )

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def video_frames(path: Path) -> VideoFrames:
    """Every frame's time and the keyframes, from the container's packets (nothing decoded)."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None, "probe rejects a video stream without a time base"
        origin = (container.start_time or 0) / av.time_base
        seen: list[tuple[float, bool]] = []
        for packet in container.demux(stream):
            if packet.pts is not None and not packet.is_discard:  # (cut by an edit list)
                seen.append((float(packet.pts * time_base) - origin, packet.is_keyframe))
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    seen.sort()
    times = [round(t, 6) for t, _ in seen]
    frame_s = 1 / float(rate) if rate else (times[-1] - times[0]) / max(1, len(times) - 1)
    return VideoFrames(
        times=times, keyframes=[i for i, (_, key) in enumerate(seen) if key], frame_s=frame_s
    )


def plan_segments(
    frames: VideoFrames, speech: Sequence[tuple[float, float]], segment_s: float
) -> list[Segment]:
    """Segments of about `segment_s` seconds, cut as the module says; `speech` is voice
    activity's spans (seconds, sorted). One segment when the video is shorter than 1.5 of them."""
    times = frames.times
    cuts = [0]
    while frames.end_s - times[cuts[-1]] >= 1.5 * segment_s:
        target = times[cuts[-1]] + segment_s
        cuts.append(_cut_near(frames, speech, target, SEARCH_FRACTION * segment_s))
    cuts.append(len(times))
    keyframes = set(frames.keyframes)
    return [
        Segment(
            index=i,
            start_s=times[a],
            end_s=times[b] if b < len(times) else frames.end_s,
            first_frame=a,
            frames=b - a,
            keyframe=a in keyframes,
            seek_s=round((times[a - 1] + times[a]) / 2, 6) if a else 0.0,
        )
        for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False))
    ]


def _cut_near(
    frames: VideoFrames, speech: Sequence[tuple[float, float]], target: float, reach: float
) -> int:
    """The first frame of the next segment, within `reach` of `target`: the keyframe nearest
    it in a pause; else the frame in the middle of the pause nearest it; else the keyframe
    (else the frame) nearest it."""
    times = frames.times
    lo = max(1, bisect.bisect_left(times, target - reach))
    hi = bisect.bisect_right(times, target + reach)
    if lo >= hi:
        return max(1, bisect.bisect_left(times, target))

    def cut_at(i: int) -> float:  # between frames i - 1 and i
        return (times[i - 1] + times[i]) / 2

    pauses = _pauses(speech, cut_at(lo), cut_at(hi - 1))
    keys = [i for i in frames.keyframes if lo <= i < hi]
    paused_keys = [i for i in keys if any(a < cut_at(i) < b for a, b in pauses)]
    if paused_keys:
        return min(paused_keys, key=lambda i: abs(times[i] - target))
    if pauses:
        a, b = min(pauses, key=lambda p: abs((p[0] + p[1]) / 2 - target))
        middle = (a + b) / 2
        inside = [i for i in range(lo, hi) if a < cut_at(i) < b]
        if inside:
            return min(inside, key=lambda i: abs(cut_at(i) - middle))
    return min(keys or range(lo, hi), key=lambda i: abs(times[i] - target))


def _pauses(
    speech: Sequence[tuple[float, float]], start: float, end: float
) -> list[tuple[float, float]]:
    """The stretches between `start` and `end` where no speech is."""
    pauses, at = [], start
    for a, b in speech:
        if a > at:
            pauses.append((at, min(a, end)))
        at = max(at, b)
        if at >= end:
            break
    if at < end:
        pauses.append((at, end))
    return [(a, b) for a, b in pauses if b > a]

"""Where a long video is cut into segments: between frames, in pauses of speech, on keyframes
where one is there, every frame in exactly one segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidp.options import ProcessOptions
from vidp.sample import make_clip
from vidp.segments import VideoFrames, plan_segments, video_frames


def frames(duration_s: float, fps: float = 30.0, gop_s: float = 2.0) -> VideoFrames:
    n = round(duration_s * fps)
    every = round(gop_s * fps)
    return VideoFrames(
        times=[round(i / fps, 6) for i in range(n)],
        keyframes=list(range(0, n, every)),
        frame_s=1 / fps,
    )


def test_every_frame_is_in_exactly_one_segment_and_seeks_fall_between_frames() -> None:
    video = frames(240)
    segments = plan_segments(video, [], 60)
    assert [s.index for s in segments] == list(range(len(segments)))
    assert segments[0].first_frame == 0
    for a, b in zip(segments, segments[1:], strict=False):
        assert b.first_frame == a.first_frame + a.frames
        assert a.end_s == b.start_s
        assert video.times[b.first_frame - 1] < b.seek_s < b.start_s
    assert sum(s.frames for s in segments) == len(video.times)
    assert segments[-1].end_s == pytest.approx(240)


def test_without_speech_cuts_fall_on_keyframes_near_the_target_length() -> None:
    segments = plan_segments(frames(240, gop_s=2.0), [], 60)
    assert [s.start_s for s in segments] == [0, 60, 120, 180]
    assert all(s.keyframe for s in segments)


def test_cuts_fall_in_pauses_of_speech_on_a_keyframe_where_one_is_in_the_pause() -> None:
    # Speech everywhere but a pause around 64 s (a keyframe at 64 s) and one around 118.5 s
    # (no keyframe in it: keyframes every 2 s are at 118 and 120).
    # Then one around 179 s.
    speech = [(0.0, 63.5), (64.5, 118.3), (118.8, 178.7), (179.6, 240.0)]
    segments = plan_segments(frames(240, gop_s=2.0), speech, 60)
    cuts = [s.start_s for s in segments[1:]]
    assert cuts[0] == 64.0 and segments[1].keyframe
    assert 118.3 < cuts[1] < 118.8 and not segments[2].keyframe
    assert 178.7 < cuts[2] < 179.6 and not segments[3].keyframe  # in the middle, off target
    for cut in cuts:
        assert not any(start < cut < end for start, end in speech), f"a word cut at {cut}"


def test_with_no_pause_near_the_target_the_nearest_keyframe_is_taken() -> None:
    segments = plan_segments(frames(130, gop_s=7.0), [(0.0, 130.0)], 60)
    assert [round(s.start_s, 3) for s in segments] == [0, 63.0]
    assert segments[1].keyframe


@pytest.mark.parametrize(
    ("duration_s", "segment_s", "expected"),
    [
        (89.0, 60, 1),  # under 1.5 segments: one
        (91.0, 60, 2),
        (240.0, 60, 4),
        (260.0, 60, 4),  # the last one takes the rest, up to 1.5 segments
    ],
)
def test_segment_count(duration_s: float, segment_s: float, expected: int) -> None:
    assert len(plan_segments(frames(duration_s), [], segment_s)) == expected


@pytest.mark.parametrize(
    ("segment_s", "duration_s", "expected"),
    [
        (None, 299.0, None),  # automatic: short videos are not spread
        (None, 300.0, 120.0),
        (0.0, 3600.0, None),  # never
        (60.0, 240.0, 60.0),
        (60.0, 80.0, None),  # asked, but one segment would hold it all
    ],
)
def test_segment_length_from_the_options(
    segment_s: float | None, duration_s: float, expected: float | None
) -> None:
    assert ProcessOptions(segment_s=segment_s).segment_length(duration_s) == expected


def test_segments_shorter_than_ten_seconds_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 s"):
        ProcessOptions(segment_s=5)


@pytest.mark.slow
def test_frames_and_keyframes_are_read_from_the_container(media_dir: Path) -> None:
    clip = make_clip(media_dir / "segments-frames.mp4", duration_s=12, size=(160, 90), fps=25)
    found = video_frames(clip)
    assert len(found.times) == 300
    assert found.times == sorted(found.times)
    assert found.times[0] == 0 and found.frame_s == pytest.approx(0.04)
    assert found.keyframes[0] == 0 and 250 in found.keyframes  # x264: a GOP of 250 at most

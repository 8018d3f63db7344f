"""A video encoded in segments and joined is the video encoded whole: the same frames at the same
times, none duplicated or dropped at a join, the audio in sync across every join and at the
end; and what the segments found, put on the video's clock. Checked on what ffmpeg writes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidp.detect import Detection
from vidp.encode import Encode, Part, VideoCodec, encode_pass
from vidp.ffmpeg import run_ffmpeg
from vidp.join import join_parts, merge_cues, merge_detections, merge_transcripts, whole_audio
from vidp.languages import LanguageStretch, Span
from vidp.segments import plan_segments, video_frames
from vidp.speech import Segment, Transcript, Word
from vidp.subtitles import Cue

FPS = 25
DURATION_S = 24.0
# A white flash and a 1 kHz beep together: across the first cut, the second, and at the end.
FLASHES = [(8.0, 8.24), (16.0, 16.24), (23.6, 23.84)]
AAC_FRAME_S = 1024 / 48000
CODEC = VideoCodec("libx264", 23, "veryfast")
SIZE = (320, 180)


def _during(spans: list[tuple[float, float]]) -> str:
    return "+".join(f"between(t,{a},{b - 0.001})" for a, b in spans)


@pytest.fixture(scope="module")
def source(media_dir: Path) -> Path:
    """24 s at 25 fps, x264's 10 s GOP (B-frames), AAC audio; flashes with beeps."""
    out = media_dir / "join-source.mp4"
    on = _during(FLASHES)
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=s=640x360:r={FPS}:d={DURATION_S}",
            "-f", "lavfi", "-i", f"sine=f=1000:r=48000:d={DURATION_S}",
            "-filter_complex",
            f"[0:v]drawbox=c=white:t=fill:enable='{on}'[v];"
            f"[1:a]volume=0:enable='not({on})'[a]",
            "-map", "[v]", "-map", "[a]",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k",
        ],
        out=out,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def whole(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unsegmented encode, as one run of the whole video makes it."""
    out = tmp_path_factory.mktemp("whole") / "whole.mp4"
    encode_pass(source, CODEC, [Encode(out, SIZE)], copy_audio=True)
    return out


def joined(source: Path, work: Path, speech: list[tuple[float, float]]) -> tuple[Path, list[int]]:
    """The video encoded in segments of about 8 s, cut where `speech` allows, and joined."""
    segments = plan_segments(video_frames(source), speech, 8.0)
    parts = []
    for s in segments:
        part = work / f"part-{s.index}.mp4"
        encode_pass(source, CODEC, [Encode(part, SIZE)], part=Part(s.seek_s, s.frames))
        parts.append(part)
    audio = whole_audio(source, work / "audio.m4a", copy=True)
    return join_parts(parts, audio, work / "joined.mp4"), [s.first_frame for s in segments[1:]]


def decoded(video: Path) -> tuple[list[float], list[np.ndarray], np.ndarray, float]:
    """Frame times and luma, the audio's samples (from its first), the audio's start."""
    times, lumas, sound = [], [], []
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            times.append(float(frame.time))
            lumas.append(frame.to_ndarray(format="gray").astype(np.float64))
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        for frame in container.decode(audio=0):
            sound.append(frame.to_ndarray().mean(axis=0))
    return times, lumas, np.concatenate(sound), start


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "speech",
    [
        pytest.param([], id="cuts-on-keyframes"),  # no speech: the keyframes at 10 s and 20 s
        pytest.param(
            [(0.0, 7.9), (8.3, 15.9), (16.3, 24.0)], id="cuts-in-pauses-between-keyframes"
        ),
    ],
)
def test_joined_video_is_the_whole_encode_frame_for_frame_with_audio_in_sync(
    source: Path, whole: Path, tmp_path: Path, speech: list[tuple[float, float]]
) -> None:
    video, cuts = joined(source, tmp_path, speech)
    assert len(cuts) == 2
    times, lumas, sound, audio_start = decoded(video)
    whole_times, whole_lumas, _, whole_audio_start = decoded(whole)

    # Exactly the frames of the whole encode, at the same times; the duration the source's.
    assert len(times) == len(whole_times) == round(DURATION_S * FPS)
    assert times == pytest.approx(whole_times, abs=1e-3)
    with av.open(str(video)) as container:
        duration = float(container.duration) / av.time_base
    assert duration == pytest.approx(DURATION_S, abs=1 / FPS)

    # Around every join, each frame is the whole encode's frame (no frame duplicated, dropped
    # or shifted): close to it, and closer to it than to its neighbours.
    for cut in cuts:
        for i in range(cut - 3, cut + 3):
            same = psnr(lumas[i], whole_lumas[i])
            assert same >= 35, f"frame {i} at the join {cut}: {same:.1f} dB"
            for j in (i - 1, i + 1):
                if psnr(whole_lumas[i], whole_lumas[j]) < 60:  # (a flash's frames are alike)
                    assert psnr(lumas[i], whole_lumas[j]) < same

    # Each flash and its beep start and end together, across the joins and at the end.
    assert audio_start == pytest.approx(whole_audio_start, abs=1e-3)
    bright = [float(luma.mean()) > 200 for luma in lumas]
    loud = np.abs(sound) > 0.05
    for start, end in FLASHES:
        shown = [t for t, b in zip(times, bright, strict=True) if b and start - 0.5 < t < end + 0.5]
        window = slice(int((start - 0.5) * 48000), int((end + 0.5) * 48000))
        heard = np.flatnonzero(loud[window]) / 48000 + start - 0.5 + audio_start
        assert shown, f"no flash at {start} s"
        assert abs(heard[0] - shown[0]) <= AAC_FRAME_S
        assert abs(heard[-1] - (shown[-1] + 1 / FPS)) <= AAC_FRAME_S


def test_transcripts_join_on_the_videos_clock_and_stretches_meet_at_cuts() -> None:
    def text(words: list[tuple[float, float, str]], code: str) -> Transcript:
        return Transcript(
            language=code,
            segments=[
                Segment(
                    start=words[0][0],
                    end=words[-1][1],
                    text=" ".join(w for _, _, w in words),
                    words=[Word(start=a, end=b, word=w, probability=0.9) for a, b, w in words],
                    language=code,
                )
            ],
            languages=[
                LanguageStretch(start_s=words[0][0], end_s=words[-1][1], code=code, probability=0.9)
            ],
            speech_s=words[-1][1] - words[0][0],
            untranscribed=[Span(start_s=0.1, end_s=0.2)],
        )

    first = text([(1.0, 1.5, "one"), (2.0, 2.5, "two")], "en")
    second = text([(0.5, 1.0, "three"), (1.2, 1.6, "four")], "en")
    third = text([(0.2, 1.0, "cinq")], "fr")
    merged = merge_transcripts([(0.0, first), (60.04, second), (100.0, None), (120.0, third)])
    assert merged is not None
    words = [(w.start, w.word) for s in merged.segments for w in s.words]
    assert words == [(1.0, "one"), (2.0, "two"), (60.54, "three"), (61.24, "four"), (120.2, "cinq")]
    assert [(s.start_s, s.end_s, s.code) for s in merged.languages] == [
        (1.0, 61.64, "en"),  # one stretch of English across the cut at 60.04 s
        (120.2, 121.0, "fr"),
    ]
    assert merged.language == "en"
    assert [u.start_s for u in merged.untranscribed] == [0.1, 60.14, 120.1]
    assert merged.speech_s == pytest.approx(1.5 + 1.1 + 0.8)
    assert merge_transcripts([(0.0, None), (60.0, None)]) is None


def test_cues_and_detections_join_on_the_videos_clock() -> None:
    cues = merge_cues(
        [
            (
                0.0,
                60.04,
                [Cue(start=1.0, end=2.0, lines=["a"]), Cue(start=59.5, end=60.3, lines=["b"])],
            ),
            (60.04, 120.0, [Cue(start=0.5, end=1.5, lines=["c"])]),
        ]
    )
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 2.0, "a"),
        (59.5, 60.04, "b"),  # as its segment burned it: up to the segment's end
        (60.54, 61.54, "c"),
    ]
    found = Detection(
        label="cat", confidence=0.9, time_s=2.0, frame="s0001-000003.jpg", box=(0, 0, 1, 1)
    )
    assert [d.time_s for d in merge_detections([(0.0, [found]), (60.04, [found])])] == [2.0, 62.04]

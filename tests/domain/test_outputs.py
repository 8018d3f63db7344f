"""The output plan's decisions: how subtitles go into the final video, in which decode, and the
work files' names, which cached results depend on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vidp.options import ProcessOptions, SubtitleMode
from vidp.outputs import OutputPlan, burn_in_first_pass, frame_sample, plan_outputs
from vidp.probe import MediaInfo

WORK = Path("/work/video")


def plan(
    subtitles: SubtitleMode = "burn",
    burn_first: bool = True,
    has_audio: bool = True,
    size: tuple[int, int] = (1280, 720),
    **options: Any,
) -> OutputPlan:
    media = MediaInfo(
        duration_s=10,
        width=size[0],
        height=size[1],
        fps=25,
        video_codec="h264",
        has_audio=has_audio,
        audio_codec="aac" if has_audio else None,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
    )
    return plan_outputs(
        media,
        ProcessOptions(subtitles=subtitles, resolutions=["480p", "720p"], **options),
        "libx264",
        burn_first,
    )


class TestFinalSubtitles:
    @pytest.mark.parametrize(
        ("asked", "cues", "final"),
        [
            ("burn", 12, "burned"),
            ("soft", 12, "soft"),
            ("none", 12, "none"),
            ("soft", 0, "none"),  # no speech: nothing to show
            ("burn", 0, "none"),
        ],
    )
    def test_as_asked_while_there_are_cues(
        self, asked: SubtitleMode, cues: int, final: str
    ) -> None:
        assert plan(asked).final_subtitles(cues) == final

    def test_burned_with_the_rest_in_one_pass(self) -> None:
        one_pass = plan("burn", burn_first=True)
        assert one_pass.one_pass and one_pass.burns_first(12)
        assert not one_pass.burns_first(0), "no cues: the first decode burns nothing"

    @pytest.mark.parametrize(
        "other",
        [
            plan("burn", burn_first=False),  # burned, but in a decode of its own
            plan("soft"),
            plan("none"),
            plan("burn", has_audio=False),  # nothing to wait for
        ],
    )
    def test_otherwise_the_first_decode_waits_for_no_subtitles(self, other: OutputPlan) -> None:
        assert not other.one_pass and not other.burns_first(12)


@pytest.mark.parametrize(
    ("setting", "transcript_on_gpu", "one_decode"),
    [
        ("auto", False, True),  # Whisper needs these cores: the one decode waits for it
        ("auto", True, False),  # a GPU's transcript: the renditions do not wait for it
        ("one", True, True),
        ("two", False, False),
    ],
)
def test_burned_final_joins_the_one_decode_unless_a_gpu_transcribes(
    setting: str, transcript_on_gpu: bool, one_decode: bool
) -> None:
    assert burn_in_first_pass(setting, transcript_on_gpu) is one_decode


class TestNames:
    """Today's names, pinned: work files cached under them stay valid."""

    def test_renditions(self) -> None:
        encodes = plan().rendition_encodes(WORK)
        assert [(e.out, e.size, e.subtitles) for e in encodes] == [
            (WORK / "rendition-854x480-libx264-crf23-medium.mp4", (854, 480), None),
            (WORK / "rendition-1280x720-libx264-crf23-medium.mp4", (1280, 720), None),
        ]

    def test_the_final_video(self) -> None:
        srt = WORK / "transcript-en-base.srt"
        burned = plan().burned_encode(WORK, srt)
        assert (
            burned.out == WORK / "final-burned-1280x720-libx264-crf23-medium-transcript-en-base.mp4"
        )
        assert (burned.size, burned.subtitles) == ((1280, 720), srt)
        # Named by the subtitles asked for, whatever went in.
        assert plan("soft").final_path(WORK) == WORK / (
            "final-soft-rendition-1280x720-libx264-crf23-medium.mp4"
        )
        assert plan("none").final_path(WORK).name == (
            "final-none-rendition-1280x720-libx264-crf23-medium.mp4"
        )

    def test_codec_settings_name_every_encode(self) -> None:
        slow = plan(crf=18, preset="slow")
        assert (
            slow.rendition_encodes(WORK)[0].out.name == "rendition-854x480-libx264-crf18-slow.mp4"
        )

    def test_frames_and_thumbnails(self) -> None:
        assert plan(sample_fps=0.5).frame_sample(WORK) == frame_sample(WORK, 0.5)
        assert frame_sample(WORK, 0.5).out_dir == WORK / "frames-0.5fps"
        assert frame_sample(WORK, 1.0).out_dir == WORK / "frames-1fps"
        thumbs = plan().thumbnails(WORK)
        assert thumbs is not None and thumbs.out_dir == WORK / "thumbnails-4-640x360"
        assert thumbs.times == (1.25, 3.75, 6.25, 8.75) and thumbs.size == (640, 360)
        assert plan(thumbnails=0).thumbnails(WORK) is None


def test_labels_of_one_size_share_its_encode() -> None:
    small = plan(size=(640, 360))  # no upscaling: 480p and 720p are both 640x360
    assert small.rendition_sizes == [(640, 360)]
    assert [e.out.name for e in small.rendition_encodes(WORK)] == [
        "rendition-640x360-libx264-crf23-medium.mp4"
    ]
    assert small.by_label(["the file"]) == {"480p": "the file", "720p": "the file"}
    assert plan().by_label(["small", "large"]) == {"480p": "small", "720p": "large"}

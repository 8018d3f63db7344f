"""Renditions, burned and soft subtitles, thumbnails: checked on the files ffmpeg writes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidp.encode import (
    burn_subtitles,
    encode_rendition,
    make_thumbnails,
    mux_soft_subtitles,
    target_size,
)
from vidp.probe import probe
from vidp.sample import make_clip
from vidp.subtitles import Cue, to_srt

pytestmark = pytest.mark.slow


def frame_at(video: Path, t: float) -> np.ndarray:
    """The decoded RGB frame shown at `t` seconds."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(0, t - 1) / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.time >= t:
                return frame.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"no frame at {t} s in {video}")


def streams(video: Path) -> dict[str, list]:
    with av.open(str(video)) as container:
        return {
            "video": [s.codec_context.name for s in container.streams.video],
            "audio": [s.codec_context.name for s in container.streams.audio],
            "subtitle": [
                (s.codec_context.name, s.metadata.get("language"))
                for s in container.streams.subtitles
            ],
        }


@pytest.fixture(scope="module")
def source(media_dir: Path) -> Path:
    return make_clip(media_dir / "encode-src.mp4", duration_s=5, size=(640, 360))


@pytest.fixture(scope="module")
def srt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("subs") / "subtitles.srt"
    path.write_text(
        to_srt([Cue(start=1.0, end=4.0, lines=["Le chat dort — ça va?", "Subtitles work"])]),
        "utf-8",
    )
    return path


class TestTargetSize:
    @pytest.mark.parametrize(
        ("src", "label", "expected"),
        [
            ((1920, 1080), "480p", (854, 480)),
            ((1920, 1080), "1080p", (1920, 1080)),
            ((1080, 1920), "720p", (720, 1280)),  # portrait: the short side is the label
            ((320, 180), "720p", (320, 180)),  # never upscaled
            ((641, 361), "1080p", (640, 360)),  # even for yuv420p
        ],
    )
    def test_sizes(self, src, label, expected) -> None:
        assert target_size(*src, label) == expected


class TestRendition:
    def test_downscaled_h264_aac_with_index_first(self, source: Path, tmp_path: Path) -> None:
        out = encode_rendition(
            source, tmp_path / "r.mp4", target_size(640, 360, "360p"), 28, "veryfast"
        )
        info = probe(out, 60)
        assert (info.width, info.height, info.video_codec, info.audio_codec) == (
            640,
            360,
            "h264",
            "aac",
        )
        data = out.read_bytes()
        assert data.index(b"moov") < data.index(b"mdat"), (
            "+faststart puts the index before the media"
        )

    def test_small_source_is_not_upscaled(self, media_dir: Path, tmp_path: Path) -> None:
        small = make_clip(media_dir / "encode-small.mp4", duration_s=2, size=(320, 180))
        out = encode_rendition(
            small, tmp_path / "r.mp4", target_size(320, 180, "720p"), 23, "veryfast"
        )
        info = probe(out, 60)
        assert (info.width, info.height) == (320, 180)


class TestSubtitles:
    def test_burned_cue_changes_the_lower_part_only_while_active(
        self, source: Path, srt: Path, tmp_path: Path
    ) -> None:
        size = (640, 360)
        plain = encode_rendition(source, tmp_path / "plain.mp4", size, 18, "veryfast")
        burned = burn_subtitles(source, srt, tmp_path / "burned.mp4", size, 18, "veryfast")
        during = np.abs(frame_at(burned, 2.0) - frame_at(plain, 2.0)).mean(axis=2)
        after = np.abs(frame_at(burned, 4.6) - frame_at(plain, 4.6)).mean(axis=2)
        lower, upper = during[int(360 * 0.7) :], during[: int(360 * 0.5)]
        assert (lower > 60).mean() > 0.01, "text pixels in the lower part while the cue is on"
        assert (upper > 60).mean() < 0.001
        assert (after > 60).mean() < 0.001, "nothing burned after the cue ends"

    def test_burn_survives_hostile_paths_and_no_system_fonts(
        self, source: Path, srt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        empty_fonts = tmp_path / "fonts.conf"
        empty_fonts.write_text('<?xml version="1.0"?><fontconfig></fontconfig>')
        monkeypatch.setenv("FONTCONFIG_FILE", str(empty_fonts))  # no system font can be found
        hostile = tmp_path / """we'ird: [dir] "50%" é,x;y\\z"""
        hostile.mkdir()
        src = hostile / """clip: [1] 'quoted' "50%" é.mp4"""
        src.write_bytes(source.read_bytes())
        subs = hostile / "sub's: [x].srt"
        subs.write_bytes(srt.read_bytes())
        out = burn_subtitles(src, subs, hostile / "out [final].mp4", (640, 360), 18, "veryfast")
        plain = encode_rendition(source, tmp_path / "plain.mp4", (640, 360), 18, "veryfast")
        during = np.abs(frame_at(out, 2.0) - frame_at(plain, 2.0)).mean(axis=2)
        assert (during[int(360 * 0.7) :] > 60).mean() > 0.01

    def test_soft_subtitles_are_a_track_and_nothing_is_re_encoded(
        self, source: Path, srt: Path, tmp_path: Path
    ) -> None:
        plain = encode_rendition(source, tmp_path / "plain.mp4", (640, 360), 23, "veryfast")
        soft = mux_soft_subtitles(plain, srt, tmp_path / "soft.mp4", "fr")
        found = streams(soft)
        assert found["subtitle"] == [("mov_text", "fra")]
        assert found["video"] == ["h264"] and found["audio"] == ["aac"]
        with av.open(str(plain)) as a, av.open(str(soft)) as b:
            first = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size][:10]
            second = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size][:10]
        assert first == second, "video packets are copied bit for bit"


def test_thumbnails_are_evenly_spaced_jpegs(source: Path, tmp_path: Path) -> None:
    thumbs = make_thumbnails(source, tmp_path / "t", duration_s=5, count=4, size=(320, 180))
    assert [p.name for p in thumbs] == [
        "thumb_01.jpg",
        "thumb_02.jpg",
        "thumb_03.jpg",
        "thumb_04.jpg",
    ]
    from PIL import Image

    images = [np.asarray(Image.open(p)) for p in thumbs]
    assert all(i.shape == (180, 320, 3) for i in images)
    assert np.abs(images[0].astype(int) - images[-1].astype(int)).mean() > 1, "different moments"

"""Renditions, the burned final video, the detector's frames and thumbnails from one decode;
soft subtitles; the encoder choice: checked on the files ffmpeg writes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidp.encode import (
    Encode,
    FrameSample,
    Thumbnails,
    VideoCodec,
    choose_encoder,
    encode_pass,
    mux_soft_subtitles,
    nvenc_available,
    target_size,
    thumbnail_times,
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


X264 = VideoCodec("libx264", 23, "veryfast")
SHARP = VideoCodec("libx264", 18, "veryfast")


def encode(source: Path, out: Path, size: tuple[int, int], codec: VideoCodec = X264) -> Path:
    return encode_pass(source, codec, [Encode(out, size)]).encodes[0]


class TestRendition:
    def test_downscaled_h264_aac_with_index_first(self, source: Path, tmp_path: Path) -> None:
        out = encode(source, tmp_path / "r.mp4", target_size(640, 360, "360p"))
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
        out = encode(small, tmp_path / "r.mp4", target_size(320, 180, "720p"))
        info = probe(out, 60)
        assert (info.width, info.height) == (320, 180)


def test_one_decode_makes_every_output(source: Path, srt: Path, tmp_path: Path) -> None:
    """Two renditions, the final video with burned subtitles, frames and thumbnails at once."""
    made = encode_pass(
        source,
        SHARP,
        [
            Encode(tmp_path / "360p.mp4", (640, 360)),
            Encode(tmp_path / "180p.mp4", (320, 180)),
            Encode(tmp_path / "final.mp4", (640, 360), srt),
        ],
        FrameSample(tmp_path / "frames", 2.0),
        Thumbnails(tmp_path / "thumbs", thumbnail_times(5, 4), (320, 180)),
    )
    sizes = [(i.width, i.height, i.audio_codec) for i in (probe(p, 60) for p in made.encodes)]
    assert sizes == [(640, 360, "aac"), (320, 180, "aac"), (640, 360, "aac")]
    plain, final = made.encodes[0], made.encodes[2]
    during = np.abs(frame_at(final, 2.0) - frame_at(plain, 2.0)).mean(axis=2)
    assert (during[int(360 * 0.7) :] > 60).mean() > 0.01, "the final video has the subtitles"
    assert (during[: int(360 * 0.5)] > 60).mean() < 0.001, "and the same picture above them"
    assert [p.name for p in made.frames] == [f"{i:06d}.jpg" for i in range(1, 11)]  # 5 s, 2 fps
    assert [p.name for p in made.thumbnails] == [f"thumb_0{i}.jpg" for i in range(1, 5)]


class TestSubtitles:
    def test_burned_cue_changes_the_lower_part_only_while_active(
        self, source: Path, srt: Path, tmp_path: Path
    ) -> None:
        size = (640, 360)
        plain = encode(source, tmp_path / "plain.mp4", size, SHARP)
        burned = encode_pass(source, SHARP, [Encode(tmp_path / "b.mp4", size, srt)]).encodes[0]
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
        frames = FrameSample(hostile / "frames 100%", 1.0)
        made = encode_pass(
            src, SHARP, [Encode(hostile / "out [final].mp4", (640, 360), subs)], frames
        )
        plain = encode(source, tmp_path / "plain.mp4", (640, 360), SHARP)
        during = np.abs(frame_at(made.encodes[0], 2.0) - frame_at(plain, 2.0)).mean(axis=2)
        assert (during[int(360 * 0.7) :] > 60).mean() > 0.01
        assert len(made.frames) == 5

    def test_soft_subtitles_are_a_track_and_nothing_is_re_encoded(
        self, source: Path, srt: Path, tmp_path: Path
    ) -> None:
        plain = encode(source, tmp_path / "plain.mp4", (640, 360))
        soft = mux_soft_subtitles(plain, srt, tmp_path / "soft.mp4", "fr")
        found = streams(soft)
        assert found["subtitle"] == [("mov_text", "fra")]
        assert found["video"] == ["h264"] and found["audio"] == ["aac"]
        with av.open(str(plain)) as a, av.open(str(soft)) as b:
            first = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size][:10]
            second = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size][:10]
        assert first == second, "video packets are copied bit for bit"


def test_thumbnails_are_evenly_spaced_jpegs(source: Path, tmp_path: Path) -> None:
    times = thumbnail_times(5, 4)
    assert times == (0.625, 1.875, 3.125, 4.375)
    thumbs = encode_pass(
        source, None, thumbnails=Thumbnails(tmp_path / "t", times, (320, 180))
    ).thumbnails
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


class TestEncoder:
    def test_auto_takes_nvenc_only_where_it_encodes(self) -> None:
        expected = "h264_nvenc" if nvenc_available() else "libx264"  # CPU machines: x264
        assert choose_encoder("auto") == expected and choose_encoder("libx264") == "libx264"

    def test_forcing_nvenc_without_one_fails_before_any_work(self) -> None:
        if nvenc_available():
            assert choose_encoder("h264_nvenc") == "h264_nvenc"
            return
        with pytest.raises(RuntimeError, match="cannot encode with NVENC"):
            choose_encoder("h264_nvenc")

    def test_presets_mean_the_same_on_nvenc(self) -> None:
        args = VideoCodec("h264_nvenc", 23, "medium").args()
        assert args[:4] == ["-c:v", "h264_nvenc", "-preset", "p4"] and "-cq" in args

"""Ingest hashes and copies without touching the source; probe rejects bad input with one line."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from vidp.errors import CorruptMedia, EmptyFile, NotMedia, NoVideoStream, SourceNotFound, TooLong
from vidp.ffmpeg import run_ffmpeg
from vidp.ingest import ingest, worked_on_here
from vidp.probe import duration_of, probe
from vidp.sample import make_clip


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """Good and bad inputs, each a file a user could plausibly upload."""
    good = make_clip(media_dir / "probe-good.mp4", duration_s=4, size=(320, 240))
    silent = make_clip(media_dir / "probe-silent.mp4", duration_s=3, audio=False)
    truncated = media_dir / "probe-truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    faststart = media_dir / "probe-faststart.mp4"
    run_ffmpeg(["-i", str(good), "-c", "copy", "-movflags", "+faststart", str(faststart)])
    cut_body = media_dir / "probe-cut-body.mp4"  # header intact, the last frames missing
    cut_body.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 2 // 3])
    audio_only = media_dir / "probe-audio.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=d=2", str(audio_only)])
    text = media_dir / "probe-notes.mp4"
    text.write_text("these are my notes, not a video\n")
    empty = media_dir / "probe-empty.mp4"
    empty.write_bytes(b"")
    return {
        "good": good,
        "silent": silent,
        "truncated": truncated,
        "cut_body": cut_body,
        "audio_only": audio_only,
        "text": text,
        "empty": empty,
    }


class TestIngest:
    def test_hashes_copies_and_leaves_source_alone(
        self, clips: dict[str, Path], work_root: Path
    ) -> None:
        source = clips["good"]
        before = (source.read_bytes(), source.stat().st_mtime_ns)
        staged = ingest(f"file://{source}")
        digest = hashlib.sha256(before[0]).hexdigest()
        assert staged.ref.sha256 == digest and staged.ref.video_id == digest[:16]
        assert staged.ref.path.read_bytes() == before[0]
        assert staged.ref.work_dir == work_root / digest[:16]
        assert (source.read_bytes(), source.stat().st_mtime_ns) == before
        assert staged.filename == source.name and staged.uri == f"file://{source}"

    def test_same_bytes_same_ref_and_generation(
        self, clips: dict[str, Path], work_root: Path, tmp_path: Path
    ) -> None:
        a = ingest(str(clips["good"]))
        renamed = tmp_path / "other name.MOV"
        renamed.write_bytes(clips["good"].read_bytes())
        b = ingest(str(renamed))
        assert a.ref == b.ref and a.ref.generation() == b.ref.generation()

    def test_a_recreated_work_folder_is_a_new_generation(
        self, clips: dict[str, Path], work_root: Path
    ) -> None:
        first = ingest(str(clips["good"])).ref
        old = first.generation()
        shutil.rmtree(first.work_dir)
        again = ingest(str(clips["good"])).ref
        assert again == first and again.generation() != old

    def test_knows_the_videos_this_machine_worked_on(
        self, clips: dict[str, Path], work_root: Path
    ) -> None:
        assert not worked_on_here(clips["good"])  # a work folder of this test's own
        assert ingest(str(clips["good"])).first_here
        assert worked_on_here(clips["good"])
        assert not ingest(str(clips["good"])).first_here

    def test_missing_and_empty_sources_are_rejected(
        self, clips: dict[str, Path], work_root: Path, tmp_path: Path
    ) -> None:
        with pytest.raises(SourceNotFound, match="not found"):
            ingest(str(tmp_path / "nope.mp4"))
        with pytest.raises(EmptyFile, match="0 bytes"):
            ingest(str(clips["empty"]))
        assert not [p for p in work_root.iterdir() if p.name.startswith(".incoming")]


class TestProbe:
    def test_reads_what_the_manifest_needs(self, clips: dict[str, Path]) -> None:
        info = probe(clips["good"], 3600)
        assert (info.width, info.height, info.fps, info.video_codec) == (320, 240, 25.0, "h264")
        assert info.duration_s == pytest.approx(4, abs=0.1)
        assert info.has_audio and info.audio_codec == "aac"

    def test_rotated_phone_video_reports_its_display_size(
        self, clips: dict[str, Path], tmp_path: Path
    ) -> None:
        import imageio_ffmpeg  # Debian's ffmpeg 5.1 cannot write the display matrix; the wheel's can

        rotated = tmp_path / "portrait.mp4"
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-loglevel",
                "error",
                "-display_rotation",
                "90",
                "-i",
                str(clips["good"]),
                "-c",
                "copy",
                str(rotated),
            ],
            check=True,
        )
        info = probe(rotated, 3600)
        assert (info.width, info.height) == (240, 320)

    def test_duration_from_the_header_alone(self, clips: dict[str, Path]) -> None:
        assert duration_of(clips["good"]) == pytest.approx(4.0, abs=0.05)
        for name in ("text", "empty", "audio_only"):
            assert duration_of(clips[name]) is None, name

    def test_video_without_audio_is_valid(self, clips: dict[str, Path]) -> None:
        info = probe(clips["silent"], 3600)
        assert not info.has_audio and info.audio_codec is None

    @pytest.mark.parametrize(
        ("name", "error", "words"),
        [
            ("text", NotMedia, "not a media file"),
            ("truncated", CorruptMedia, "truncated or corrupt"),
            ("cut_body", CorruptMedia, "truncated or corrupt"),
            ("audio_only", NoVideoStream, "no video stream"),
            ("empty", EmptyFile, "empty"),
        ],
    )
    def test_bad_input_gets_a_typed_one_line_error(self, clips, name, error, words) -> None:
        with pytest.raises(error) as caught:
            probe(clips[name], 3600, name="upload.mp4")
        message = str(caught.value)
        assert words in message and "upload.mp4" in message and "\n" not in message

    def test_too_long_names_the_limit_and_the_setting(self, clips: dict[str, Path]) -> None:
        with pytest.raises(TooLong, match="over the 2 s maximum.*VIDP_MAX_DURATION_S"):
            probe(clips["good"], 2)

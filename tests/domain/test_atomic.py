"""Outputs appear whole or not at all, also when two runs of one video overlap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vidp.atomic import atomic_dir, atomic_file
from vidp.encode import Encode, FrameSample, Thumbnails, VideoCodec, encode_pass
from vidp.ffmpeg import FfmpegError
from vidp.sample import make_clip


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "out.mp4") as draft:
        draft.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_ffmpeg_leaves_no_partial_output(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "src.mp4", duration_s=1, size=(64, 64))
    with pytest.raises(FfmpegError):
        encode_pass(
            source,
            VideoCodec("libx264", 23, "no-such-preset"),
            [Encode(tmp_path / "a.mp4", (64, 64)), Encode(tmp_path / "b.mp4", (32, 32))],
            FrameSample(tmp_path / "frames", 1.0),
            Thumbnails(tmp_path / "thumbs", (0.5,), (32, 32)),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.mp4"]


def test_existing_complete_dir_is_kept(tmp_path: Path) -> None:
    final = tmp_path / "frames"
    with atomic_dir(final) as draft:
        (draft / "a").write_text("first")
    with atomic_dir(final) as draft:
        (draft / "a").write_text("second")
    assert (final / "a").read_text() == "first" and [p.name for p in tmp_path.iterdir()] == [
        "frames"
    ]


def test_overlapping_runs_sample_the_same_frames(media_dir: Path, tmp_path: Path) -> None:
    clip = make_clip(media_dir / "atomic.mp4", duration_s=6, size=(320, 180))
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: (
                    encode_pass(clip, None, frames=FrameSample(tmp_path / "frames", 2.0)).frames
                ),
                range(4),
            )
        )
    assert all(len(r) == 12 and all(p.stat().st_size > 0 for p in r) for r in results)
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]

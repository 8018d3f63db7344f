"""Work files made on one machine are read on another through the work store."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidp.ingest import VideoRef
from vidp.workfiles import WorkFile, files_scope, keep

pytestmark = pytest.mark.integration

VIDEO = VideoRef(sha256="ab" * 32)


def make(video: VideoRef, name: str, data: bytes) -> Path:
    path = video.work_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_files_and_folders_travel_through_the_store(s3, tmp_path: Path, vidp_env) -> None:
    s3.create_bucket(Bucket="work-store")
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "machine-a"), VIDP_WORK_STORE="s3://work-store/w/")
    final = keep(VIDEO, [make(VIDEO, "final.mp4", b"video")])[0]
    thumbs = keep(VIDEO, [make(VIDEO, f"thumbs/{i}.jpg", bytes([i])) for i in range(3)])
    assert files_scope(VIDEO) == "s3://work-store/w"

    vidp_env(VIDP_WORK_DIR=str(tmp_path / "machine-b"))
    assert final.local() == tmp_path / "machine-b" / VIDEO.video_id / "final.mp4"
    assert final.local().read_bytes() == b"video"
    assert thumbs[1].local().read_bytes() == bytes([1])
    folder = tmp_path / "machine-b" / VIDEO.video_id / "thumbs"
    assert sorted(p.name for p in folder.iterdir()) == ["0.jpg", "1.jpg", "2.jpg"], "whole folder"
    with pytest.raises(FileNotFoundError, match="never.jpg is not in s3://work-store/w/"):
        WorkFile(video=VIDEO, name="never.jpg").local()


def test_a_file_of_a_folder_this_machine_has_in_part_is_fetched_alone(
    s3, tmp_path: Path, vidp_env
) -> None:
    # A segment's folder: one machine made its subtitles, another (running the same segment's
    # encode) has the folder with its own audio in it, and no subtitles yet.
    s3.create_bucket(Bucket="part-store")
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "machine-a"), VIDP_WORK_STORE="s3://part-store/w")
    srt = keep(VIDEO, [make(VIDEO, "part-0000311-200/transcript.srt", b"1")])[0]
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "machine-b"))
    make(VIDEO, "part-0000311-200/audio-16k.wav", b"RIFF")
    assert srt.local().read_bytes() == b"1"
    assert (VIDEO.work_dir / "part-0000311-200" / "audio-16k.wav").read_bytes() == b"RIFF"


def test_without_a_store_files_stay_on_their_machine(work_root: Path) -> None:
    made = WorkFile.at(VIDEO, make(VIDEO, "audio.wav", b"RIFF"))
    assert made.local().read_bytes() == b"RIFF"
    assert files_scope(VIDEO).startswith(f"{work_root}#")
    with pytest.raises(FileNotFoundError, match="no VIDP_WORK_STORE set"):
        WorkFile(video=VIDEO, name="elsewhere.wav").local()


def test_a_machine_that_never_saw_the_video_gets_a_work_folder_for_its_cache_keys(
    tmp_path: Path, vidp_env
) -> None:
    # A worker that runs one segment of a video: no ingest made its work folder there.
    vidp_env(VIDP_WORK_DIR=str(tmp_path / "segment-worker"))
    token = VIDEO.generation()
    assert VIDEO.work_dir.is_dir() and VIDEO.generation() == token

"""What a sweep takes from an upload prefix."""

from __future__ import annotations

from vidp.storage import StoredObject
from vidp.sweep import in_batches, plan_sweep


def obj(key: str, size: int = 10, bucket: str = "media") -> StoredObject:
    return StoredObject(uri=f"s3://{bucket}/{key}", etag='"abc123"', size=size)


def test_videos_are_kept_and_everything_else_is_ignored_with_a_reason() -> None:
    objects = [
        obj("up/a.mp4"),
        obj("up/B.MOV"),
        obj("up/notes.txt"),
        obj("up/empty.mkv", size=0),
        obj("up/out/1234/final.mp4"),
        obj("up/c.webm", bucket="other"),
    ]
    videos, ignored = plan_sweep(objects, "s3://media/up/out")
    assert [v.uri for v in videos] == [
        "s3://media/up/a.mp4",
        "s3://media/up/B.MOV",
        "s3://other/up/c.webm",
    ]
    assert ignored == {
        "s3://media/up/notes.txt": "not a video file name",
        "s3://media/up/empty.mkv": "empty object",
        "s3://media/up/out/1234/final.mp4": "under the output prefix",
    }


def test_idempotency_key_is_the_object_version() -> None:
    assert obj("up/a.mp4").idempotency_key == "media/up/a.mp4/abc123"


def test_short_videos_go_in_batches_of_the_size_given_in_order() -> None:
    runs = [f"run-{i}" for i in range(5)]
    assert in_batches(runs, 2) == [["run-0", "run-1"], ["run-2", "run-3"], ["run-4"]]
    assert in_batches(runs, 8) == [runs]
    assert in_batches([], 8) == []


def test_short_videos_spread_over_the_workers_online_one_batch_each() -> None:
    runs = [f"run-{i}" for i in range(7)]
    assert in_batches(runs, 20, workers=1) == [runs]
    assert in_batches(runs, 20, workers=2) == [runs[:4], runs[4:]]
    assert in_batches(runs, 20, workers=3) == [runs[:3], runs[3:5], runs[5:]]
    assert in_batches(runs[:2], 20, workers=4) == [["run-0"], ["run-1"]]
    # More than the workers can take at `size` each: more batches, the sizes still even.
    assert in_batches(runs, 3, workers=2) == [runs[:3], runs[3:5], runs[5:]]
    assert in_batches(runs, 20, workers=0) == [runs]

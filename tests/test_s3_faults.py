"""S3 throttling, reset connections and stalled transfers cost a retry, never a byte.

The S3 server is the real test server (moto); between it and vidp's client stands
`faulty_s3`, a proxy that injects the network's faults and passes everything else through
unchanged. vidp reaches it the way a user points the SDK at an endpoint (`AWS_ENDPOINT_URL`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from helpers.faulty_s3 import Fault, FaultyS3, faulty_s3
from helpers.gateway import gateway_process, notification, post, signed
from helpers.processes import vidp
from helpers.s3 import put_upload

from vidp import storage
from vidp.publish import publication_for
from vidp.sample import make_clip

STALL_TIMEOUT_S = "2"  # VIDP_S3_TIMEOUT_S: a stalled connection is dropped after this long


def _part(number: int) -> Callable[[str], bool]:
    return lambda path: f"partNumber={number}&" in path + "&"


@pytest.fixture
def proxy(s3_server: str, vidp_env: Callable[..., None]) -> Iterator[FaultyS3]:
    """vidp's S3 clients in this process go through the fault proxy."""
    with faulty_s3(s3_server) as (endpoint, faulty):
        vidp_env(AWS_ENDPOINT_URL=endpoint, VIDP_S3_TIMEOUT_S=STALL_TIMEOUT_S)
        yield faulty


def _open_uploads(s3, bucket: str) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_a_multipart_upload_survives_throttling_resets_and_stalls(
    s3, proxy: FaultyS3, tmp_path: Path
) -> None:
    data = os.urandom(20 * 1024 * 1024)  # three parts of 8 MiB at most
    local = tmp_path / "final.mp4"
    local.write_bytes(data)
    proxy.faults = [
        Fault("slowdown", "POST", lambda p: p.endswith("?uploads")),  # create the upload
        Fault("slowdown", "PUT", _part(1), times=2),
        Fault("reset", "PUT", _part(2)),
        Fault("stall_request", "PUT", _part(3), stall_s=6),
        Fault("reset", "POST", lambda p: "uploadId=" in p),  # complete, before it reaches S3
    ]
    publication = publication_for("s3://results/faults", "f" * 16)
    uri = publication.stage(local, "final.mp4")

    assert not proxy.unfired(), "every fault was injected"
    assert uri == f"s3://results/faults/{'f' * 16}/final.mp4"
    stored = s3.get_object(Bucket="results", Key=f"faults/{'f' * 16}/final.mp4")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    assert _open_uploads(s3, "results") == []


def test_a_download_survives_throttling_resets_and_stalls(s3, proxy: FaultyS3) -> None:
    data = os.urandom(12 * 1024 * 1024)  # two ranged GETs
    s3.put_object(Bucket="uploads", Key="faults/source.mp4", Body=data)
    proxy.faults = [
        Fault("slowdown", "HEAD", times=2),
        Fault("slowdown", "GET"),
        Fault("reset", "GET"),
        Fault("stall_response", "GET", stall_s=6),  # half the body, then nothing
        Fault("stall_response", "GET", stall_s=6),
    ]
    sink = io.BytesIO()
    storage.at("s3://uploads/faults/source.mp4").read_into("s3://uploads/faults/source.mp4", sink)

    assert not proxy.unfired()
    assert hashlib.sha256(sink.getvalue()).digest() == hashlib.sha256(data).digest()


def test_an_upload_that_keeps_failing_leaves_no_multipart_upload_open(
    s3, proxy: FaultyS3, vidp_env: Callable[..., None], tmp_path: Path
) -> None:
    vidp_env(AWS_MAX_ATTEMPTS="2")
    local = tmp_path / "final.mp4"
    local.write_bytes(os.urandom(10 * 1024 * 1024))
    proxy.faults = [Fault("slowdown", "PUT", _part(2), times=1000)]
    publication = publication_for("s3://results/failing", "e" * 16)

    with pytest.raises(Exception, match="SlowDown"):
        publication.stage(local, "final.mp4")
    assert _open_uploads(s3, "results") == []  # s3transfer aborted it
    assert "Contents" not in s3.list_objects_v2(Bucket="results", Prefix="failing/")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("detector_weights")
def test_a_run_through_a_faulty_s3_publishes_every_byte(
    prefect_server: str, s3, s3_server: str, media_dir: Path, tmp_path: Path
) -> None:
    """From an s3:// source to an s3:// output with faults on the way in and out; the same run to a
    local folder (from the cache) gives the same bytes."""
    clip = make_clip(media_dir / "faulty-s3.mp4", duration_s=2.5, size=(176, 99))
    s3.put_object(Bucket="uploads", Key="faulty/clip.mp4", Body=clip.read_bytes())
    with faulty_s3(s3_server) as (endpoint, proxy):
        proxy.faults = [
            Fault("reset", "GET", lambda p: "faulty/clip.mp4" in p),
            Fault("stall_response", "GET", lambda p: "faulty/clip.mp4" in p, stall_s=6),
            Fault("slowdown", "PUT", lambda p: "/results/" in p, times=3),
            Fault("reset", "PUT", lambda p: "manifest.json" in p),
        ]
        env = {"AWS_ENDPOINT_URL": endpoint, "VIDP_S3_TIMEOUT_S": STALL_TIMEOUT_S}
        done = vidp(
            "process", "s3://uploads/faulty/clip.mp4", "--output", "s3://results/faulty",
            "--json", env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert not proxy.unfired()
    published = json.loads(done.stdout)
    local = vidp(
        "process", "s3://uploads/faulty/clip.mp4", "--output", str(tmp_path / "out"), "--json"
    )
    assert local.returncode == 0, local.stderr
    folder = tmp_path / "out" / published["video_id"]
    prefix = f"faulty/{published['video_id']}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="results", Prefix=prefix)["Contents"]]
    assert len(keys) > 5
    for key in keys:
        if key.endswith("manifest.json"):
            continue  # it names where the files are: different by design
        stored = s3.get_object(Bucket="results", Key=key)["Body"].read()
        assert stored == (folder / key.removeprefix(prefix)).read_bytes(), key
    assert published["source"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert _open_uploads(s3, "results") == []


@pytest.mark.integration
def test_the_gateway_answers_503_with_retry_after_while_s3_fails(
    gateway, s3, s3_server: str, tmp_path: Path
) -> None:
    """The bucket cannot be read: the sender is told to come back, and nothing starts; when it
    does come back, its run starts."""
    etag = put_upload(s3, "s3-down/clip.mp4", b"\x00\x00\x00\x18ftypmp42 s3-down")
    body = notification("s3-down/clip.mp4", etag)
    with faulty_s3(s3_server) as (endpoint, proxy):
        proxy.faults = [Fault("slowdown", "HEAD", times=1000)]
        env = {**gateway.env, "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "2"}
        with gateway_process(env, tmp_path / "gateway.log") as url:
            refused = post(f"{url}/webhooks/s3", body, signed(body))
            proxy.faults = []
            accepted = post(f"{url}/webhooks/s3", body, signed(body))

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "30"
    assert "cannot read the bucket now" in refused.json()["detail"]
    assert accepted.status_code == 202, accepted.text
    assert len(accepted.json()["runs"]) == 1, accepted.json()
    (run,) = accepted.json()["runs"]
    assert run["source"] == "s3://uploads/s3-down/clip.mp4"
    assert httpx.get(f"{gateway.url}/openapi.json").is_success  # the session's gateway is fine

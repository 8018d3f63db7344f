"""The gateway with uploads in S3 (the moto server): multipart upload, sweep-compatible runs,
aborted uploads that leave nothing, and streaming through a presigned redirect."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.gateway import API_KEY, Gateway, gateway_process, stream_oversized_upload
from prefect.client.orchestration import get_client

from vidp.flows.process_video import process_video
from vidp.options import ProcessOptions
from vidp.sample import make_clip

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def s3_gateway(gateway: Gateway, s3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}  # the s3 fixture's server
    env = {**gateway.env, **aws, "VIDP_GATEWAY_UPLOADS": "s3://uploads/gateway/"}
    with gateway_process(env, tmp_path_factory.mktemp("s3-gateway") / "gateway.log") as url:
        yield url


def objects(s3, prefix: str) -> list[str]:
    return [
        o["Key"] for o in s3.list_objects_v2(Bucket="uploads", Prefix=prefix).get("Contents", [])
    ]


@pytest.mark.usefixtures("detector_weights")
def test_upload_lands_in_the_bucket_and_streams_by_redirect(
    s3_gateway: str, s3, media_dir: Path, tmp_path: Path
) -> None:
    clip = make_clip(media_dir / "s3-gateway.mp4", duration_s=3, size=(320, 180))
    answer = httpx.post(
        f"{s3_gateway}/videos",
        files={"file": ("cat on sofa.mp4", clip.read_bytes(), "video/mp4")},
        headers=AUTH,
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    uploaded = answer.json()
    key = uploaded["source"].removeprefix("s3://uploads/")
    assert key.startswith("gateway/") and key.endswith("/cat on sofa.mp4")
    head = s3.head_object(Bucket="uploads", Key=key)
    assert head["ContentLength"] == clip.stat().st_size and head["ContentType"] == "video/mp4"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uploaded["run"]["flow_run_id"])
    # The key sweep-uploads would use for this object: a sweep never processes it again.
    assert run.idempotency_key == f"uploads/{key}/{head['ETag'].strip(chr(34))}"

    # Processed (here in-process, as a worker would) into S3: the stream is a presigned link.
    process_video(
        source=uploaded["source"],
        output="s3://results/gateway",
        options=ProcessOptions(resolutions=["360p"]),
    )
    redirect = httpx.get(f"{s3_gateway}/videos/{uploaded['video_id']}/stream", headers=AUTH)
    assert redirect.status_code == 307
    link = redirect.headers["location"]
    final = s3.get_object(Bucket="results", Key=f"gateway/{uploaded['video_id']}/final.mp4")[
        "Body"
    ].read()
    ranged = httpx.get(link, headers={"Range": "bytes=0-4095"})
    assert ranged.status_code == 206 and ranged.content == final[:4096]


def test_an_upload_over_the_limit_leaves_no_object_and_no_open_multipart(
    s3_gateway: str, s3
) -> None:
    before = objects(s3, "gateway/")
    answer = stream_oversized_upload(s3_gateway, API_KEY)
    assert answer.status_code == 413
    assert objects(s3, "gateway/") == before
    assert not s3.list_multipart_uploads(Bucket="uploads").get("Uploads"), "multipart aborted"

"""s3:// sources and outputs against a real S3-compatible server (moto, over HTTP)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from vidp.errors import SourceNotFound
from vidp.ingest import ingest
from vidp.publish import publication_for, publish

pytestmark = pytest.mark.integration


def test_ingest_streams_and_hashes_an_object(s3, work_root: Path) -> None:
    data = os.urandom(20 * 1024 * 1024 + 123)  # large enough for ranged, concurrent GETs
    s3.put_object(Bucket="uploads", Key="in/my clip: take 1.mp4", Body=data)
    etag = s3.head_object(Bucket="uploads", Key="in/my clip: take 1.mp4")["ETag"]
    staged = ingest("s3://uploads/in/my clip: take 1.mp4")
    assert staged.ref.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.ref.path.read_bytes() == data and staged.size_bytes == len(data)
    assert (
        staged.filename == "my clip: take 1.mp4"
        and staged.uri == "s3://uploads/in/my clip: take 1.mp4"
    )
    assert s3.head_object(Bucket="uploads", Key="in/my clip: take 1.mp4")["ETag"] == etag, (
        "source untouched"
    )


@pytest.mark.parametrize("uri", ["s3://uploads/nope.mp4", "s3://no-such-bucket/a.mp4"])
def test_missing_object_is_rejected(s3, uri: str, work_root: Path) -> None:
    with pytest.raises(SourceNotFound, match="source not found"):
        ingest(uri)


def test_publish_uploads_multipart_links_and_manifest_last(s3, tmp_path: Path) -> None:
    big = tmp_path / "final.mp4"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    publication = publication_for("s3://results/out", "0123456789abcdef")
    publication.begin()
    uri = publication.stage(big, "final.mp4")
    link = publication.link(uri)
    key = "out/0123456789abcdef/final.mp4"
    assert uri == f"s3://results/{key}"
    head = s3.head_object(Bucket="results", Key=key)
    assert "-" in head["ETag"] and head["ContentType"] == "video/mp4", (
        "multipart upload, playable type"
    )
    listed = s3.list_objects_v2(Bucket="results", Prefix="out/")["Contents"]
    assert [o["Key"] for o in listed] == [key], "no manifest before commit"
    publication.commit('{"video_id": "0123456789abcdef"}')
    written = s3.get_object(Bucket="results", Key="out/0123456789abcdef/manifest.json")
    assert json.loads(written["Body"].read()) == {"video_id": "0123456789abcdef"}
    assert link is not None
    served = httpx.get(link, headers={"Range": "bytes=100-199"})
    assert served.status_code == 206 and served.content == big.read_bytes()[100:200]


def test_failed_publish_leaves_nothing(s3, tmp_path: Path) -> None:
    ok = tmp_path / "a.jpg"
    ok.write_bytes(b"jpeg")
    publication = publication_for("s3://results/failed", "0123456789abcdef")
    with pytest.raises(FileNotFoundError):
        publish(
            publication, {"a.jpg": ok, "b.jpg": tmp_path / "missing.jpg"}, lambda uris, links: {}
        )
    assert s3.list_objects_v2(Bucket="results", Prefix="failed/").get("KeyCount") == 0


def test_a_named_minio_block_wins_over_the_environment(
    s3, s3_server: str, prefect_server: str, work_root: Path, vidp_env
) -> None:
    from prefect_aws import AwsClientParameters, MinIOCredentials

    MinIOCredentials(
        minio_root_user="testing",
        minio_root_password="testing",
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=s3_server),
    ).save("vidp-test", overwrite=True)
    s3.put_object(Bucket="uploads", Key="block.mp4", Body=b"video bytes")
    vidp_env(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # the SDK chain now leads nowhere
        VIDP_S3_CREDENTIALS_BLOCK="minio-credentials/vidp-test",
    )
    assert ingest("s3://uploads/block.mp4").ref.path.read_bytes() == b"video bytes"

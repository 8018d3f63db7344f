"""`process-video` from an upload bucket to a results bucket, on a real S3-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from vidp.flows.process_video import process_video
from vidp.manifest import manifest_schema
from vidp.options import ProcessOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.usefixtures("detector_weights"),
]
SCHEMA = manifest_schema()


def test_bucket_to_bucket(prefect_server: str, s3, cat_clip: Path) -> None:
    s3.upload_file(str(cat_clip), "uploads", "incoming/cat on sofa.mp4")
    manifest = process_video(
        source="s3://uploads/incoming/cat on sofa.mp4",
        output="s3://results/processed",
        options=ProcessOptions(resolutions=["360p"]),
    )
    root = f"processed/{manifest.video_id}/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="results", Prefix=root)["Contents"]}
    written = json.loads(s3.get_object(Bucket="results", Key=f"{root}manifest.json")["Body"].read())
    jsonschema.validate(written, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert written == manifest.model_dump(mode="json")
    uris = [manifest.final_video.uri, manifest.subtitles.srt, *manifest.thumbnails]
    assert all(
        uri.startswith("s3://results/" + root) and uri.removeprefix("s3://results/") in keys
        for uri in uris
    )
    assert manifest.source.uri == "s3://uploads/incoming/cat on sofa.mp4"
    assert [a.label for a in manifest.animals] == ["cat"]

    final = s3.get_object(
        Bucket="results", Key=manifest.final_video.uri.removeprefix("s3://results/")
    )
    body = final["Body"].read()
    assert final["ContentType"] == "video/mp4"
    served = httpx.get(manifest.links["final.mp4"], headers={"Range": "bytes=0-1023"})
    assert served.status_code == 206 and served.content == body[:1024], "the presigned link streams"
    assert set(manifest.links) >= {
        "final.mp4",
        "subtitles.vtt",
        "renditions/360p.mp4",
        "thumbnails/thumb_01.jpg",
    }

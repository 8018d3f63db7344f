"""Signed webhooks start process-video runs on the real Prefect server, once per object version."""

from __future__ import annotations

import json
import time

import pytest
from helpers.gateway import DEPLOYMENT, NOTIFY_TOKEN, Gateway, notification, post, signed
from helpers.prefect_stack import flow_runs
from helpers.s3 import put_upload

pytestmark = pytest.mark.integration


def test_a_notification_starts_one_run_per_video_once(gateway: Gateway, s3) -> None:
    before = len(flow_runs(DEPLOYMENT))
    body = notification("incoming/my+cat.mp4", put_upload(s3, "incoming/my cat.mp4"))
    first = post(f"{gateway.url}/webhooks/s3", body, signed(body))
    assert first.status_code == 202, first.text
    (run,) = first.json()["runs"]
    assert run["source"] == "s3://uploads/incoming/my cat.mp4"  # keys arrive URL-encoded
    assert run["url"].endswith(f"/runs/flow-run/{run['flow_run_id']}")

    again = post(f"{gateway.url}/webhooks/s3", body, signed(body))  # a repeated delivery
    assert again.status_code == 202 and again.json()["runs"][0]["flow_run_id"] == run["flow_run_id"]
    runs = flow_runs(DEPLOYMENT)
    assert len(runs) == before + 1
    created = next(r for r in runs if str(r.id) == run["flow_run_id"])
    assert created.parameters == {"source": "s3://uploads/incoming/my cat.mp4"}


def test_minio_notifications_and_what_is_ignored(gateway: Gateway, s3) -> None:
    video = notification("minio/clip.mov", put_upload(s3, "minio/clip.mov"), minio=True)
    runs = post(f"{gateway.url}/webhooks/s3", video, signed(video)).json()["runs"]
    assert [r["source"] for r in runs] == ["s3://uploads/minio/clip.mov"]
    text = notification("minio/notes.txt", put_upload(s3, "minio/notes.txt"), minio=True)
    answer = post(f"{gateway.url}/webhooks/s3", text, signed(text)).json()
    assert answer == {
        "runs": [],
        "ignored": {"s3://uploads/minio/notes.txt": "not a video file name"},
    }
    deleted = notification("minio/old.mp4", "3c2d", event="ObjectRemoved:Delete", minio=True)
    assert post(f"{gateway.url}/webhooks/s3", deleted, signed(deleted)).json()["runs"] == []


@pytest.mark.parametrize(
    "case",
    ["no signature", "wrong secret", "stale timestamp", "future timestamp", "tampered body"],
)
def test_unsigned_or_replayed_requests_get_401_and_start_nothing(
    gateway: Gateway, case: str
) -> None:
    body = notification(f"attack/{case.replace(' ', '-')}.mp4", "feedface")
    headers = {
        "no signature": {"Content-Type": "application/json"},
        "wrong secret": signed(body, secret="guessed"),
        "stale timestamp": signed(body, at=time.time() - 3600),
        "future timestamp": signed(body, at=time.time() + 3600),
        "tampered body": signed(body),
    }[case]
    sent = body.replace(b"attack/", b"other/") if case == "tampered body" else body
    before = len(flow_runs(DEPLOYMENT))
    answer = post(f"{gateway.url}/webhooks/s3", sent, headers)
    assert answer.status_code == 401 and answer.json()["detail"]
    assert len(flow_runs(DEPLOYMENT)) == before


def test_one_object_version_is_one_run_whatever_the_way_in(gateway: Gateway, s3) -> None:
    etag = put_upload(s3, "api/clip.mp4")
    note = notification("api/clip.mp4", etag)
    (noted,) = post(f"{gateway.url}/webhooks/s3", note, signed(note)).json()["runs"]
    plain = b'{"source": "s3://uploads/api/clip.mp4"}'
    keyed = {**signed(plain), "Idempotency-Key": "order-1234"}
    for headers in (signed(plain), keyed):  # the object version decides, not the header
        (asked,) = post(f"{gateway.url}/webhooks/run", plain, headers).json()["runs"]
        assert asked["flow_run_id"] == noted["flow_run_id"]
    run = next(r for r in flow_runs(DEPLOYMENT) if str(r.id) == noted["flow_run_id"])
    assert run.idempotency_key == f"uploads/api/clip.mp4/{etag}", "the key a sweep uses"

    # Other parameters are another run, once; a new version of the object is another run.
    options = json.dumps(
        {"source": "s3://uploads/api/clip.mp4", "parameters": {"options": {"crf": 28}}}
    ).encode()
    twice = [post(f"{gateway.url}/webhooks/run", options, signed(options)) for _ in range(2)]
    assert twice[0].json() == twice[1].json()
    (crf,) = twice[0].json()["runs"]
    assert crf["flow_run_id"] != noted["flow_run_id"]
    assert next(r for r in flow_runs(DEPLOYMENT) if str(r.id) == crf["flow_run_id"]).parameters[
        "options"
    ] == {"crf": 28}
    put_upload(s3, "api/clip.mp4", b"a new version")
    (newer,) = post(f"{gateway.url}/webhooks/run", plain, signed(plain)).json()["runs"]
    assert newer["flow_run_id"] not in (noted["flow_run_id"], crf["flow_run_id"])


def test_an_object_that_is_not_there_starts_no_run(gateway: Gateway) -> None:
    before = len(flow_runs(DEPLOYMENT))
    note = notification("api/never-uploaded.mp4", "9b2cf535f27731c974343645a3985328")
    answer = post(f"{gateway.url}/webhooks/s3", note, signed(note))
    assert answer.status_code == 202
    assert answer.json() == {
        "runs": [],
        "ignored": {"s3://uploads/api/never-uploaded.mp4": "no such object"},
    }
    asked = b'{"source": "s3://uploads/api/never-uploaded.mp4"}'
    answer = post(f"{gateway.url}/webhooks/run", asked, signed(asked))
    assert answer.status_code == 422
    assert answer.json()["detail"] == "no such object: s3://uploads/api/never-uploaded.mp4"
    assert len(flow_runs(DEPLOYMENT)) == before


def test_run_requests_for_other_sources_are_idempotent_by_key(gateway: Gateway) -> None:
    body = b'{"source": "/videos/on/a/shared/disk.mp4"}'
    keyed = {**signed(body), "Idempotency-Key": "order-1234"}
    first, second = (post(f"{gateway.url}/webhooks/run", body, keyed).json() for _ in range(2))
    assert first == second
    unkeyed = [post(f"{gateway.url}/webhooks/run", body, signed(body)).json() for _ in range(2)]
    assert len({a["runs"][0]["flow_run_id"] for a in [first, *unkeyed]}) == 3


@pytest.mark.parametrize(
    "source",
    ["/etc/passwd", "/videos/../etc/passwd", "file:///videos/a.mp4", "http://example.com/a.mp4"],
)
def test_run_requests_only_for_allowed_sources(gateway: Gateway, source: str) -> None:
    before = len(flow_runs(DEPLOYMENT))
    body = json.dumps({"source": source}).encode()
    answer = post(f"{gateway.url}/webhooks/run", body, signed(body))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("source not allowed: it must start with one of")
    assert len(flow_runs(DEPLOYMENT)) == before


def test_parameters_the_flow_does_not_accept_are_422(gateway: Gateway, s3) -> None:
    put_upload(s3, "x.mp4")
    body = json.dumps({"source": "s3://uploads/x.mp4", "parameters": {"options": {"crf": 99}}})
    answer = post(f"{gateway.url}/webhooks/run", body.encode(), signed(body.encode()))
    assert answer.status_code == 422 and "crf" in answer.text


def test_minio_can_authenticate_with_its_auth_token_instead(gateway: Gateway, s3) -> None:
    """MinIO's webhook target sends `Authorization: Bearer <auth_token>` and cannot sign."""
    body = notification("minio/token.mp4", put_upload(s3, "minio/token.mp4"), minio=True)
    bearer = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
    answer = post(f"{gateway.url}/webhooks/s3", body, bearer)
    assert answer.status_code == 202 and len(answer.json()["runs"]) == 1
    wrong = {**bearer, "Authorization": "Bearer guessed"}
    assert post(f"{gateway.url}/webhooks/s3", body, wrong).status_code == 401
    run = b'{"source": "s3://uploads/minio/token.mp4"}'
    assert post(f"{gateway.url}/webhooks/run", run, bearer).status_code == 401, "signatures only"


def test_eventbridge_object_created_events_through_an_api_destination(gateway: Gateway, s3) -> None:
    """S3 -> EventBridge -> API destination, its connection sending the token as Authorization."""
    put_upload(s3, "bridge/take 2: final.mp4")
    event = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2026-11-22T00:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::uploads"],
        "detail": {
            "version": "0",
            "bucket": {"name": "uploads"},
            "object": {"key": "bridge/take 2: final.mp4", "size": 5, "etag": "4e68adba-2"},
            "reason": "PutObject",
        },
    }
    body = json.dumps(event).encode()
    bearer = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
    (run,) = post(f"{gateway.url}/webhooks/s3", body, bearer).json()["runs"]
    assert run["source"] == "s3://uploads/bridge/take 2: final.mp4"  # EventBridge keys are raw
    again = post(f"{gateway.url}/webhooks/s3", body, signed(body)).json()["runs"][0]
    assert again["flow_run_id"] == run["flow_run_id"]
    deleted = json.dumps({**event, "detail-type": "Object Deleted"}).encode()
    assert post(f"{gateway.url}/webhooks/s3", deleted, bearer).json()["runs"] == []


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"{}", b"not json"])
def test_a_signed_body_that_is_no_notification_is_400(gateway: Gateway, body: bytes) -> None:
    answer = post(f"{gateway.url}/webhooks/s3", body, signed(body))
    assert answer.status_code == 400 and answer.json()["detail"]

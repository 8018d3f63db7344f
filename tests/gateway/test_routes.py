"""The gateway's routes in-process: FastAPI's TestClient on `create_app()`, with a real SQLite
catalog, uploads stored in a local folder, real signatures and real multipart bodies.

One thing is a stand-in: Prefect's API, because the real one needs a server. `FakePrefect`
answers for it in memory through the gateway's seam, `app.dependency_overrides[prefect_runs]`:
it records the runs it starts, gives the run of a known idempotency key again (as Prefect's server
does), and can be told that the deployment is missing, that the API is down, or that it refuses
the parameters.

Left to the subprocess tests against the real Prefect server and moto's S3 server, because they
read a bucket: /webhooks/s3 for objects that are created (test_webhooks.py), /webhooks/run with an
s3:// source, keyed by its object version and parameters (test_webhooks.py), and streaming from
S3 (a presigned redirect). Here, /webhooks/run is tested with a local source keyed by
Idempotency-Key, and /webhooks/s3 with what it answers before or without reading the bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from uuid import uuid4

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient
from helpers.gateway import API_KEY, DEPLOYMENT, NOTIFY_TOKEN, SECRET, notification, signed
from helpers.manifests import published
from prometheus_client.parser import text_string_to_metric_families

from vidp import catalog
from vidp.gateway.app import create_app
from vidp.gateway.dependencies import prefect_runs
from vidp.gateway.runs import (
    DeploymentMissing,
    InvalidParameters,
    PrefectRuns,
    RunProgress,
    StartedRun,
)
from vidp.gateway.settings import get_gateway_settings
from vidp.manifest import Manifest, Timings

AUTH = {"X-API-Key": API_KEY}
MAX_UPLOAD = 256 * 1024  # small, so that the limit is quick to pass
UI = "http://prefect.invalid"  # where the stand-in's runs would be shown


@dataclass
class FakeRun:
    """A flow run the stand-in created, with what it was created with."""

    flow_run_id: str
    name: str
    parameters: dict[str, Any]
    idempotency_key: str | None
    state: str = "Scheduled"
    message: str | None = None

    def as_started(self, source: str) -> StartedRun:
        url = f"{UI}/runs/flow-run/{self.flow_run_id}"
        return StartedRun(
            flow_run_id=self.flow_run_id, name=self.name, state=self.state, url=url, source=source
        )


@dataclass
class FakePrefect(PrefectRuns):
    """Prefect's API in memory, with one deployment registered: the gateway's."""

    deployments: set[str] = field(default_factory=lambda: {DEPLOYMENT})
    runs: dict[str, FakeRun] = field(default_factory=dict)
    down: bool = False  # every call fails as when the API does not answer
    refuse: str | None = None  # the server's reason to refuse any parameters (422)
    hold: threading.Event | None = None  # when set, starts wait for it: a slow API
    waiting: int = 0  # starts waiting for `hold`

    def _reach(self) -> None:
        if self.down:
            raise httpx.ConnectError("All connection attempts failed")

    def _deployment(self, name: str) -> None:
        self._reach()
        if name not in self.deployments:
            raise DeploymentMissing(f"deployment {name} not found: register it with `vidp deploy`")

    async def require(self, deployment: str) -> None:
        self._deployment(deployment)

    async def start(
        self, deployment: str, parameters: dict[str, Any], idempotency_key: str | None
    ) -> StartedRun:
        self._deployment(deployment)
        if self.hold is not None:
            self.waiting += 1
            await anyio.to_thread.run_sync(self.hold.wait)
        if self.refuse is not None:
            raise InvalidParameters(self.refuse)
        for run in self.runs.values():  # the server's answer to a key it has seen: that run
            if idempotency_key is not None and run.idempotency_key == idempotency_key:
                return run.as_started(parameters["source"])
        run = FakeRun(str(uuid4()), f"fake-run-{len(self.runs) + 1}", parameters, idempotency_key)
        self.runs[run.flow_run_id] = run
        return run.as_started(parameters["source"])

    async def existing(self, flow_run_id: str, source: str) -> StartedRun | None:
        self._reach()
        run = self.runs.get(flow_run_id)
        return run.as_started(source) if run else None

    async def progress(self, flow_run_id: str) -> RunProgress | None:
        self._reach()
        run = self.runs.get(flow_run_id)
        if run is None:
            return None
        return RunProgress(
            flow_run_id=flow_run_id,
            state=run.state,
            message=run.message,
            percent=None,
            step=None,
            url=f"{UI}/runs/flow-run/{flow_run_id}",
        )


class Gateway(NamedTuple):
    client: TestClient
    prefect: FakePrefect
    uploads: Path  # VIDP_GATEWAY_UPLOADS
    output: Path  # VIDP_OUTPUT
    configure: Callable[..., None]  # set (None: unset) VIDP_GATEWAY_* for the next requests

    def stored(self) -> list[Path]:
        """Every file in the upload folder, drafts included."""
        return sorted(p for p in self.uploads.rglob("*") if p.is_file())


@pytest.fixture
def gateway(
    tmp_path: Path, vidp_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    """The app with its lifespan run, on a fresh SQLite catalog and upload folder."""
    root = tmp_path.resolve()  # as the gateway names the files it stores
    for name in os.environ:
        if name.startswith("VIDP_GATEWAY_"):  # the caller's own settings play no part
            monkeypatch.delenv(name)
    vidp_env(
        VIDP_CATALOG_URL=f"sqlite:///{root}/catalog.db",
        VIDP_OUTPUT=str(root / "output"),
    )

    def configure(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(f"VIDP_GATEWAY_{name.upper()}", raising=False)
            else:
                monkeypatch.setenv(f"VIDP_GATEWAY_{name.upper()}", value)
        get_gateway_settings.cache_clear()

    configure(
        secret=SECRET,
        notify_token=NOTIFY_TOKEN,
        api_keys=f"other-key,{API_KEY}",
        deployment=DEPLOYMENT,
        uploads=str(root / "uploads"),
        max_upload_bytes=str(MAX_UPLOAD),
        run_sources="s3://,/videos/",
    )
    prefect = FakePrefect()

    async def stand_in() -> PrefectRuns:
        return prefect

    app = create_app()
    app.dependency_overrides[prefect_runs] = stand_in
    try:
        with TestClient(app) as client:
            yield Gateway(client, prefect, root / "uploads", root / "output", configure)
    finally:
        get_gateway_settings.cache_clear()


def fake_video(size: int, seed: int = 0) -> bytes:
    """Bytes that start like an MP4 (the gateway sniffs the head), `size` long; the same seed
    gives the same bytes."""
    head = b"\x00\x00\x00\x18ftypmp42"
    body = hashlib.shake_256(seed.to_bytes(4, "big")).digest(size - len(head))
    return head + body


def upload(
    gateway: Gateway,
    name: str,
    data: bytes,
    content_type: str = "video/mp4",
    headers: dict[str, str] = AUTH,
    **fields: str,
) -> httpx.Response:
    return gateway.client.post(
        "/videos", files={"file": (name, data, content_type)}, data=fields, headers=headers
    )


def post(gateway: Gateway, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return gateway.client.post(path, content=body, headers=headers)


def run_request(source: str, **parameters: Any) -> bytes:
    return json.dumps({"source": source, "parameters": parameters}).encode()


def video_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Each sample of a Prometheus exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# Authentication


VIDEO_ROUTES = [
    ("POST", "/videos"),
    ("GET", "/videos"),
    ("GET", "/videos/0123456789abcdef"),
    ("GET", "/videos/0123456789abcdef/stream"),
    ("PATCH", "/videos/0123456789abcdef"),
    ("DELETE", "/videos/0123456789abcdef"),
]


@pytest.mark.parametrize(("method", "path"), VIDEO_ROUTES)
@pytest.mark.parametrize("key", [None, "guessed", ""])
def test_video_routes_need_a_known_api_key(
    gateway: Gateway, method: str, path: str, key: str | None
) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    files = {"file": ("a.mp4", fake_video(8000), "video/mp4")} if method == "POST" else None
    body = {"tags": ["x"]} if method == "PATCH" else None
    answer = gateway.client.request(method, path, headers=headers, files=files, json=body)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "missing or unknown X-API-Key"}
    assert gateway.prefect.runs == {} and gateway.stored() == []


def test_every_configured_api_key_is_accepted_and_none_configured_is_503(
    gateway: Gateway,
) -> None:
    for key in ("other-key", API_KEY):
        assert gateway.client.get("/videos", headers={"X-API-Key": key}).status_code == 200
    gateway.configure(api_keys="")
    answer = gateway.client.get("/videos", headers=AUTH)
    assert answer.status_code == 503
    assert answer.json()["detail"] == "uploads need VIDP_GATEWAY_API_KEYS"


# Webhook signatures


@pytest.mark.parametrize("path", ["/webhooks/s3", "/webhooks/run"])
@pytest.mark.parametrize(
    "case",
    [
        "no signature",
        "no timestamp",
        "wrong secret",
        "stale timestamp",
        "future timestamp",
        "timestamp not a number",
        "tampered body",
    ],
)
def test_unsigned_wrongly_signed_or_replayed_webhooks_are_401_and_start_nothing(
    gateway: Gateway, path: str, case: str
) -> None:
    body = run_request("/videos/a.mp4") if path == "/webhooks/run" else notification("a.mp4", "e1")
    good = signed(body)
    headers = {
        "no signature": {"Content-Type": "application/json"},
        "no timestamp": {k: v for k, v in good.items() if k != "X-Vidp-Timestamp"},
        "wrong secret": signed(body, secret="guessed"),
        "stale timestamp": signed(body, at=time.time() - 301),
        # Well past the edge: the header holds whole seconds, so +301 could read as +300.
        "future timestamp": signed(body, at=time.time() + 310),
        "timestamp not a number": {**good, "X-Vidp-Timestamp": "yesterday"},
        "tampered body": good,
    }[case]
    sent = body.replace(b"a.mp4", b"b.mp4") if case == "tampered body" else body
    answer = post(gateway, path, sent, headers)
    assert answer.status_code == 401 and answer.json()["detail"]
    assert gateway.prefect.runs == {}
    rejects = metric_samples(gateway.client.get("/metrics").text)
    assert rejects[("vidp_gateway_webhook_rejects_total", frozenset({("endpoint", path)}))] == 1


def test_a_signature_within_the_replay_window_is_accepted(gateway: Gateway) -> None:
    body = run_request("/videos/a.mp4")
    answer = post(gateway, "/webhooks/run", body, signed(body, at=time.time() - 290))
    assert answer.status_code == 202, answer.text


def test_webhooks_without_a_secret_configured_are_503(gateway: Gateway) -> None:
    gateway.configure(secret=None)
    body = run_request("/videos/a.mp4")
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 503
    assert answer.json()["detail"] == "webhooks need VIDP_GATEWAY_SECRET"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"{}", b"not json", b'{"Records": [{}]}'])
def test_a_signed_body_that_is_no_notification_is_400(gateway: Gateway, body: bytes) -> None:
    answer = post(gateway, "/webhooks/s3", body, signed(body))
    assert answer.status_code == 400 and answer.json()["detail"]
    assert gateway.prefect.runs == {}


def test_notifications_of_nothing_created_start_nothing(gateway: Gateway) -> None:
    """Deletions and S3's test event are answered without reading the bucket. (A created object
    is read from the bucket, so one run per object version is tested in test_webhooks.py.)"""
    deleted = notification("old.mp4", "3c2d", event="ObjectRemoved:Delete")
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}).encode()
    bridge = {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}}
    for body in (deleted, test_event, json.dumps(bridge).encode()):
        answer = post(gateway, "/webhooks/s3", body, signed(body))
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"runs": [], "ignored": {}}
    assert gateway.prefect.runs == {}


def test_the_notify_token_is_accepted_on_notifications_only(gateway: Gateway) -> None:
    body = notification("minio/old.mp4", "3c2d", event="ObjectRemoved:Delete", minio=True)
    bearer = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
    assert post(gateway, "/webhooks/s3", body, bearer).status_code == 202
    wrong = {**bearer, "Authorization": "Bearer guessed"}
    assert post(gateway, "/webhooks/s3", body, wrong).status_code == 401
    asked = run_request("/videos/a.mp4")
    assert post(gateway, "/webhooks/run", asked, bearer).status_code == 401, "signatures only"
    assert gateway.prefect.runs == {}


# /webhooks/run


@pytest.mark.parametrize(
    "source",
    [
        "/etc/passwd",
        "/videos/../etc/passwd",
        "/videos/a\x00.mp4",
        "file:///videos/a.mp4",
        "http://example.com/a.mp4",
        "videos/a.mp4",
    ],
)
def test_run_requests_only_for_allowed_sources(gateway: Gateway, source: str) -> None:
    body = run_request(source)
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "source not allowed: it must start with one of s3://, /videos/ (VIDP_GATEWAY_RUN_SOURCES)"
    )
    assert gateway.prefect.runs == {}


def test_a_run_request_starts_a_run_with_its_parameters(gateway: Gateway) -> None:
    body = run_request("/videos/shared/clip.mp4", options={"crf": 28})
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 202, answer.text
    (run,) = answer.json()["runs"]
    assert answer.json()["ignored"] == {}
    assert (run["source"], run["state"]) == ("/videos/shared/clip.mp4", "Scheduled")
    assert run["url"] == f"{UI}/runs/flow-run/{run['flow_run_id']}"
    created = gateway.prefect.runs[run["flow_run_id"]]
    assert created.parameters == {"options": {"crf": 28}, "source": "/videos/shared/clip.mp4"}
    assert created.idempotency_key is None


def test_run_requests_with_the_same_idempotency_key_give_the_same_run(gateway: Gateway) -> None:
    body = run_request("/videos/shared/clip.mp4", options={"crf": 28})
    keyed = {**signed(body), "Idempotency-Key": "order-1234"}
    first, second = (post(gateway, "/webhooks/run", body, keyed) for _ in range(2))
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(gateway.prefect.runs) == 1
    (created,) = gateway.prefect.runs.values()
    assert created.idempotency_key == "order-1234"

    unkeyed = [post(gateway, "/webhooks/run", body, signed(body)).json() for _ in range(2)]
    other = {**signed(body), "Idempotency-Key": "order-1235"}
    answers = [first.json(), *unkeyed, post(gateway, "/webhooks/run", body, other).json()]
    assert len({a["runs"][0]["flow_run_id"] for a in answers}) == 4
    assert len(gateway.prefect.runs) == 4


def test_an_idempotency_key_longer_than_255_characters_is_422(gateway: Gateway) -> None:
    body = run_request("/videos/a.mp4")
    answer = post(gateway, "/webhooks/run", body, {**signed(body), "Idempotency-Key": "k" * 256})
    assert answer.status_code == 422
    assert gateway.prefect.runs == {}


@pytest.mark.parametrize(
    "body", [b'{"parameters": {}}', b'{"source": 3}', b'{"source": "/videos/a", "parameters": []}']
)
def test_a_run_request_that_is_not_one_is_422(gateway: Gateway, body: bytes) -> None:
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 422 and answer.json()["detail"]
    assert gateway.prefect.runs == {}


def test_a_run_request_that_is_not_json_is_400(gateway: Gateway) -> None:
    body = b"source=/videos/a.mp4"
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 400 and answer.json()["detail"] == "the body is not JSON"


def test_parameters_the_flow_refuses_are_422_with_the_reason(gateway: Gateway) -> None:
    gateway.prefect.refuse = "Validation failed for field 'options.crf': 99 is greater than 51"
    body = run_request("/videos/a.mp4", options={"crf": 99})
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 422
    assert answer.json()["detail"] == gateway.prefect.refuse
    assert "Retry-After" not in answer.headers, "sending it again will not help"
    assert gateway.prefect.runs == {}


def test_a_run_request_without_the_deployment_is_503(gateway: Gateway) -> None:
    gateway.prefect.deployments.clear()
    body = run_request("/videos/a.mp4")
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        f"deployment {DEPLOYMENT} not found: register it with `vidp deploy`"
    )


def test_a_run_request_while_prefect_is_down_is_503_with_retry_after(gateway: Gateway) -> None:
    gateway.prefect.down = True
    body = run_request("/videos/a.mp4")
    answer = post(gateway, "/webhooks/run", body, signed(body))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json()["detail"] == "cannot reach Prefect's API now: ConnectError"


def test_requests_over_the_starting_limit_wait_then_are_429_with_retry_after(
    gateway: Gateway,
) -> None:
    """With VIDP_GATEWAY_MAX_STARTING places taken, the next request waits
    VIDP_GATEWAY_START_WAIT_S for one, then is told to come back; it starts nothing."""
    gateway.configure(start_wait_s="0.2")
    places = get_gateway_settings().max_starting  # made with the app: the default, 16
    hold = gateway.prefect.hold = threading.Event()
    bodies = [run_request(f"/videos/{i}.mp4") for i in range(places + 1)]
    with ThreadPoolExecutor(places) as pool:
        try:
            held = [pool.submit(post, gateway, "/webhooks/run", b, signed(b)) for b in bodies[:-1]]
            deadline = time.monotonic() + 20
            while gateway.prefect.waiting < places:
                assert time.monotonic() < deadline, f"{gateway.prefect.waiting} starts reached it"
                time.sleep(0.02)
            late = post(gateway, "/webhooks/run", bodies[-1], signed(bodies[-1]))
        finally:
            hold.set()
        assert [f.result().status_code for f in held] == [202] * places
    assert late.status_code == 429, late.text
    assert late.headers["Retry-After"] == "1"
    assert late.json()["detail"] == f"{places} runs are being started: try again shortly"
    assert len(gateway.prefect.runs) == places, "the late one started nothing"


# Uploads


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("notes.mp4", b"these are my notes, not a video\n" * 200, "video/mp4"),
        ("short.mp4", b"not a video", "video/mp4"),
        ("clip.txt", fake_video(9000), "video/mp4"),
        ("clip.mp4", fake_video(9000), "text/plain"),
    ],
)
def test_what_is_not_a_video_is_415_and_leaves_nothing(
    gateway: Gateway, name: str, data: bytes, content_type: str
) -> None:
    answer = upload(gateway, name, data, content_type)
    assert answer.status_code == 415 and answer.json()["detail"]
    assert gateway.stored() == [] and gateway.prefect.runs == {}


@pytest.mark.parametrize(
    "size",
    [MAX_UPLOAD + 1, MAX_UPLOAD + 2 * 1024 * 1024],
    ids=["found while it streams", "said by its Content-Length"],
)
def test_an_upload_over_the_limit_is_413_and_leaves_nothing(gateway: Gateway, size: int) -> None:
    answer = upload(gateway, "big.mp4", fake_video(size))
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"the upload is larger than {MAX_UPLOAD} bytes"
    assert gateway.stored() == [] and gateway.prefect.runs == {}


def test_an_upload_over_the_limit_without_a_content_length_is_413_and_leaves_nothing(
    gateway: Gateway,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'--vidp\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n" + fake_video(64 * 1024)
        for seed in range(MAX_UPLOAD // (64 * 1024) + 1):
            yield fake_video(64 * 1024, seed)
        yield b"\r\n--vidp--\r\n"

    headers = {**AUTH, "Content-Type": FORM}
    answer = gateway.client.post("/videos", content=chunks(), headers=headers)
    assert "Content-Length" not in answer.request.headers
    assert answer.status_code == 413
    assert gateway.stored() == [] and gateway.prefect.runs == {}


FORM = "multipart/form-data; boundary=vidp"
TITLE_ONLY = b'--vidp\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--vidp--\r\n'


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"file": "a.mp4"}'),
        (FORM, TITLE_ONLY),
        (FORM, b"--vidp\r\nthis is not a part"),
    ],
    ids=["not multipart", "no file part", "malformed"],
)
def test_a_body_that_is_no_upload_is_400(gateway: Gateway, content_type: str, body: bytes) -> None:
    headers = {**AUTH, "Content-Type": content_type}
    answer = gateway.client.post("/videos", content=body, headers=headers)
    assert answer.status_code == 400 and answer.json()["detail"]
    assert gateway.stored() == [] and gateway.prefect.runs == {}


def test_a_video_is_stored_whole_queued_and_started(gateway: Gateway) -> None:
    video = fake_video(40_000)
    answer = upload(gateway, "bus ride.mp4", video, title="Bus", tags="city, street,,")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["video_id"] == video_id(video)
    assert (body["status"], body["size_bytes"], body["duplicate"]) == ("queued", 40_000, False)
    source = Path(body["source"])
    assert gateway.stored() == [source] and source.read_bytes() == video
    assert source.name == "bus ride.mp4" and source.parent.parent == gateway.uploads

    (created,) = gateway.prefect.runs.values()
    assert body["run"]["flow_run_id"] == created.flow_run_id
    assert body["run"]["source"] == body["source"]
    assert created.parameters == {"source": body["source"]}
    assert created.idempotency_key == f"upload/{source.parent.name}"

    detail = gateway.client.get(f"/videos/{body['video_id']}", headers=AUTH).json()
    assert (detail["status"], detail["title"]) == ("queued", "Bus")
    assert detail["tags"] == ["city", "street"]
    assert (detail["filename"], detail["source_uri"]) == ("bus ride.mp4", body["source"])
    assert detail["flow_run_id"] == created.flow_run_id and detail["manifest"] is None
    assert detail["run"]["state"] == "Scheduled"
    assert detail["run"]["url"] == body["run"]["url"]
    listed = gateway.client.get("/videos", headers=AUTH).json()
    assert [v["video_id"] for v in listed["items"]] == [body["video_id"]]


def test_a_file_name_cannot_leave_the_upload_folder(gateway: Gateway) -> None:
    answer = upload(gateway, "../../../etc/evil.mp4", fake_video(9000))
    assert answer.status_code == 202, answer.text
    (stored,) = gateway.stored()
    assert stored.name == "evil.mp4" and stored.parent.parent == gateway.uploads


def test_the_same_bytes_uploaded_again_are_200_duplicate_and_start_nothing(
    gateway: Gateway,
) -> None:
    video = fake_video(40_000)
    first = upload(gateway, "first.mp4", video).json()
    files, runs = gateway.stored(), dict(gateway.prefect.runs)
    again = upload(gateway, "again under another name.mp4", video, title="Other")
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    for name in ("video_id", "source", "status", "size_bytes"):
        assert again.json()[name] == first[name]
    assert again.json()["run"]["flow_run_id"] == first["run"]["flow_run_id"]
    assert gateway.stored() == files, "the second copy is not kept"
    assert gateway.prefect.runs == runs, "no second run"
    title = gateway.client.get(f"/videos/{first['video_id']}", headers=AUTH).json()["title"]
    assert title is None, "the entry is the first upload's"


def test_the_same_bytes_uploaded_at_once_are_stored_once_and_run_once(gateway: Gateway) -> None:
    video = fake_video(100_000, seed=7)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: upload(gateway, f"copy-{i}.mp4", video), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202]
    first = next(a.json() for a in answers if a.status_code == 202)
    assert {a.json()["run"]["flow_run_id"] for a in answers} == {first["run"]["flow_run_id"]}
    assert gateway.stored() == [Path(first["source"])] and len(gateway.prefect.runs) == 1


@pytest.mark.parametrize(
    "first_gone",
    ["its run failed", "its file is gone", "Prefect does not know its run"],
)
def test_the_same_bytes_again_are_a_new_upload_when_the_first_no_longer_stands(
    gateway: Gateway, first_gone: str
) -> None:
    video = fake_video(30_000)
    first = upload(gateway, "first.mp4", video).json()
    if first_gone == "its run failed":
        catalog.record_failed(first["video_id"], "ffmpeg: invalid data")
    elif first_gone == "its file is gone":
        Path(first["source"]).unlink()
    else:
        gateway.prefect.runs.clear()
    again = upload(gateway, "again.mp4", video)
    assert again.status_code == 202, again.text
    assert again.json()["duplicate"] is False
    assert again.json()["source"] != first["source"]
    assert again.json()["run"]["flow_run_id"] != first["run"]["flow_run_id"]
    detail = gateway.client.get(f"/videos/{first['video_id']}", headers=AUTH).json()
    assert (detail["status"], detail["source_uri"]) == ("queued", again.json()["source"])


def test_an_upload_without_the_deployment_is_503_and_stores_nothing(gateway: Gateway) -> None:
    gateway.prefect.deployments.clear()
    answer = upload(gateway, "a.mp4", fake_video(9000))
    assert answer.status_code == 503 and "vidp deploy" in answer.json()["detail"]
    unread = upload(gateway, "notes.mp4", b"not a video")
    assert unread.status_code == 503, "checked before the upload is read"
    assert gateway.stored() == [] and gateway.prefect.runs == {}
    assert gateway.client.get("/videos", headers=AUTH).json()["total"] == 0


def test_an_upload_while_prefect_is_down_is_503_with_retry_after_and_stores_nothing(
    gateway: Gateway,
) -> None:
    gateway.prefect.down = True
    answer = upload(gateway, "a.mp4", fake_video(9000))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json()["detail"] == "cannot reach Prefect's API now: ConnectError"
    unread = upload(gateway, "notes.mp4", b"not a video")
    assert unread.status_code == 503, "checked before the upload is read"
    assert gateway.stored() == []
    assert gateway.client.get("/videos", headers=AUTH).json()["total"] == 0


def test_an_upload_whose_run_is_refused_keeps_nothing(gateway: Gateway) -> None:
    """The deployment is there when the upload starts; its run is refused once it is stored."""
    gateway.prefect.refuse = "Validation failed for field 'source'"
    answer = upload(gateway, "a.mp4", fake_video(9000))
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Validation failed for field 'source'"
    assert gateway.stored() == [] and gateway.prefect.runs == {}
    assert gateway.client.get("/videos", headers=AUTH).json()["total"] == 0


# The catalog


def manifest_of(video_id: str, output: Path, final: bytes = b"") -> Manifest:
    """A published video: its final video (and a 360p rendition) in `output`, made in 42 s."""
    manifest = published(video_id, output / video_id)
    manifest = manifest.model_copy(update={"timings_s": Timings(total=42.0)})
    (output / video_id / "renditions").mkdir(parents=True)
    Path(manifest.final_video.uri).write_bytes(final)
    (rendition,) = [r for r in manifest.renditions if r.label == "360p"]
    Path(rendition.uri).write_bytes(final[: len(final) // 2])
    Path(manifest.uri).write_text(manifest.to_json())
    return manifest


COMPLETED, RUNNING, FAILED = "00000000000000c0", "00000000000000a1", "00000000000000f2"


@pytest.fixture
def entries(gateway: Gateway) -> dict[str, Manifest]:
    """Three entries, as the flow writes them: one completed, then one failed, then one
    running (the most recent). Returns the completed one's manifest by its id."""
    manifest = manifest_of(COMPLETED, gateway.output, final=bytes(range(256)) * 40)
    catalog.record_running(COMPLETED, manifest.source.uri, "c.mp4", "run-c")
    catalog.record_published(manifest)
    catalog.record_running(FAILED, "/videos/f.mp4", "f.mp4", "run-f")
    catalog.record_failed(FAILED, "no video stream in /videos/f.mp4")
    catalog.record_running(RUNNING, "/videos/r.mp4", "r.mp4", "run-unknown-to-prefect")
    return {COMPLETED: manifest}


def test_the_list_is_newest_first_and_filters_and_pages(
    gateway: Gateway, entries: dict[str, Any]
) -> None:
    def listed(**params: str | int) -> dict[str, Any]:
        answer = gateway.client.get("/videos", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        return answer.json()

    every = listed()
    assert [v["video_id"] for v in every["items"]] == [RUNNING, FAILED, COMPLETED]
    assert (every["total"], every["limit"], every["offset"]) == (3, 50, 0)
    assert "manifest" not in every["items"][0], "summaries only"
    failed = listed(status="failed")
    assert [(v["video_id"], v["error"]) for v in failed["items"]] == [
        (FAILED, "no video stream in /videos/f.mp4")
    ]
    assert failed["total"] == 1
    page = listed(limit=1, offset=1)
    assert ([v["video_id"] for v in page["items"]], page["total"]) == ([FAILED], 3)
    assert listed(offset=10) == {"items": [], "total": 3, "limit": 50, "offset": 10}
    assert listed(status="queued")["items"] == []


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"limit": 0}, {"limit": 201}, {"offset": -1}]
)
def test_a_list_with_bad_parameters_is_422(gateway: Gateway, params: dict[str, Any]) -> None:
    assert gateway.client.get("/videos", params=params, headers=AUTH).status_code == 422


def test_an_entry_is_its_manifest_once_completed(gateway: Gateway, entries: dict[str, Any]) -> None:
    detail = gateway.client.get(f"/videos/{COMPLETED}", headers=AUTH).json()
    assert detail["status"] == "completed"
    assert detail["manifest"] == entries[COMPLETED].model_dump(mode="json"), "as published"
    assert detail["run"] is None and detail["error"] is None
    failed = gateway.client.get(f"/videos/{FAILED}", headers=AUTH).json()
    assert (failed["status"], failed["error"]) == ("failed", "no video stream in /videos/f.mp4")
    running = gateway.client.get(f"/videos/{RUNNING}", headers=AUTH).json()
    assert (running["status"], running["run"]) == ("running", None), "a run Prefect lost"


def test_an_entry_at_work_while_prefect_is_down_is_503_with_retry_after(gateway: Gateway) -> None:
    uploaded = upload(gateway, "a.mp4", fake_video(9000)).json()
    gateway.prefect.down = True
    answer = gateway.client.get(f"/videos/{uploaded['video_id']}", headers=AUTH)
    assert (answer.status_code, answer.headers.get("Retry-After")) == (503, "30"), answer.text
    assert answer.json()["detail"] == "cannot reach Prefect's API now: ConnectError"


@pytest.mark.parametrize("state", ["Crashed", "Cancelled"])
def test_a_run_that_ended_before_its_flow_said_so_shows_as_failed(
    gateway: Gateway, state: str
) -> None:
    uploaded = upload(gateway, "a.mp4", fake_video(9000)).json()
    run = gateway.prefect.runs[uploaded["run"]["flow_run_id"]]
    run.state, run.message = state, "worker pod evicted"
    detail = gateway.client.get(f"/videos/{uploaded['video_id']}", headers=AUTH).json()
    reason = f"run {state.lower()}: worker pod evicted"
    assert (detail["status"], detail["error"], detail["run"]["state"]) == ("failed", reason, state)
    failed = gateway.client.get("/videos", params={"status": "failed"}, headers=AUTH).json()
    assert [v["video_id"] for v in failed["items"]] == [uploaded["video_id"]], "recorded"


@pytest.mark.parametrize(("method", "path"), VIDEO_ROUTES[2:])
def test_an_unknown_video_is_404(gateway: Gateway, method: str, path: str) -> None:
    body = {"title": "x"} if method == "PATCH" else None
    answer = gateway.client.request(method, path, headers=AUTH, json=body)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "no video 0123456789abcdef in the catalog"


@pytest.mark.parametrize("video", ["0123456789ABCDEF", "0123", "0123456789abcdeg"])
def test_a_malformed_video_id_is_422(gateway: Gateway, video: str) -> None:
    assert gateway.client.get(f"/videos/{video}", headers=AUTH).status_code == 422


def test_an_entry_is_edited(gateway: Gateway, entries: dict[str, Any]) -> None:
    edited = gateway.client.patch(
        f"/videos/{COMPLETED}", json={"title": "Cat", "tags": ["pets"]}, headers=AUTH
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["title"], edited.json()["tags"]) == ("Cat", ["pets"])
    kept = gateway.client.patch(f"/videos/{COMPLETED}", json={"tags": []}, headers=AUTH).json()
    assert (kept["title"], kept["tags"]) == ("Cat", []), "a field left out stays"
    for bad in ({"tags": [""]}, {"tags": ["x"] * 51}, {"title": "x" * 501}):
        answer = gateway.client.patch(f"/videos/{COMPLETED}", json=bad, headers=AUTH)
        assert answer.status_code == 422


def test_the_final_video_and_a_rendition_stream_with_ranges(
    gateway: Gateway, entries: dict[str, Any]
) -> None:
    final = Path(entries[COMPLETED].final_video.uri).read_bytes()
    ranged = gateway.client.get(
        f"/videos/{COMPLETED}/stream", headers={**AUTH, "Range": "bytes=100-1099"}
    )
    assert ranged.status_code == 206 and ranged.content == final[100:1100]
    assert ranged.headers["content-range"] == f"bytes 100-1099/{len(final)}"
    whole = gateway.client.get(f"/videos/{COMPLETED}/stream", headers=AUTH)
    assert whole.status_code == 200 and whole.content == final
    assert whole.headers["content-type"] == "video/mp4"
    rendition = gateway.client.get(
        f"/videos/{COMPLETED}/stream", params={"rendition": "360p"}, headers=AUTH
    )
    assert rendition.content == final[: len(final) // 2]
    missing = gateway.client.get(
        f"/videos/{COMPLETED}/stream", params={"rendition": "4k"}, headers=AUTH
    )
    assert missing.status_code == 404 and missing.json()["detail"] == "no rendition '4k'"
    unfinished = gateway.client.get(f"/videos/{RUNNING}/stream", headers=AUTH)
    assert unfinished.status_code == 409
    assert unfinished.json()["detail"] == f"video {RUNNING} is running"


def test_deleting_removes_the_outputs_and_the_entry(
    gateway: Gateway, entries: dict[str, Any]
) -> None:
    folder = gateway.output / COMPLETED
    answer = gateway.client.delete(f"/videos/{COMPLETED}", headers=AUTH)
    assert answer.status_code == 204 and answer.content == b""
    assert not folder.exists(), "outputs removed"
    assert gateway.client.get(f"/videos/{COMPLETED}", headers=AUTH).status_code == 404
    listed = gateway.client.get("/videos", headers=AUTH).json()
    assert [v["video_id"] for v in listed["items"]] == [RUNNING, FAILED]
    assert gateway.client.delete(f"/videos/{FAILED}", headers=AUTH).status_code == 204


def test_what_is_being_processed_or_was_not_uploaded_is_not_deleted(
    gateway: Gateway, entries: dict[str, Any]
) -> None:
    busy = gateway.client.delete(f"/videos/{RUNNING}", headers=AUTH)
    assert busy.status_code == 409 and busy.json()["detail"] == f"video {RUNNING} is running"
    source = gateway.client.delete(
        f"/videos/{FAILED}", params={"delete_source": "true"}, headers=AUTH
    )
    assert source.status_code == 409
    assert source.json()["detail"].startswith("the source was not uploaded through the gateway")
    listed = gateway.client.get("/videos", headers=AUTH).json()
    assert listed["total"] == 3


def test_deleting_an_upload_keeps_its_source_unless_asked(gateway: Gateway) -> None:
    kept, removed = (upload(gateway, f"{i}.mp4", fake_video(9000, i)).json() for i in (1, 2))
    queued = gateway.client.delete(f"/videos/{kept['video_id']}", headers=AUTH)
    assert queued.status_code == 409 and queued.json()["detail"].endswith("is queued")
    for uploaded in (kept, removed):
        catalog.record_failed(uploaded["video_id"], "ffmpeg: invalid data")
    assert gateway.client.delete(f"/videos/{kept['video_id']}", headers=AUTH).status_code == 204
    answer = gateway.client.delete(
        f"/videos/{removed['video_id']}", params={"delete_source": "true"}, headers=AUTH
    )
    assert answer.status_code == 204
    assert gateway.stored() == [Path(kept["source"])]
    assert gateway.client.get("/videos", headers=AUTH).json()["total"] == 0


# /metrics


def test_metrics_count_requests_runs_triggered_and_videos(gateway: Gateway) -> None:
    upload(gateway, "a.mp4", fake_video(9000))
    upload(gateway, "a.mp4", fake_video(9000))  # a duplicate: no run triggered
    upload(gateway, "a.mp4", fake_video(9000), headers={})
    body = run_request("/videos/a.mp4")
    keyed = {**signed(body), "Idempotency-Key": "k"}
    post(gateway, "/webhooks/run", body, keyed)
    post(gateway, "/webhooks/run", body, keyed)  # the same run, found again: counted
    post(gateway, "/webhooks/run", body, signed(body, secret="guessed"))
    gateway.client.get("/videos/0123456789abcdef", headers=AUTH)
    gateway.client.get("/nowhere")

    answer = gateway.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = metric_samples(answer.text)

    def requests(method: str, route: str, status: int) -> float:
        labels = {("method", method), ("route", route), ("status", str(status))}
        return samples.get(("vidp_gateway_requests_total", frozenset(labels)), 0)

    assert requests("POST", "/videos", 202) == 1
    assert requests("POST", "/videos", 200) == 1
    assert requests("POST", "/videos", 401) == 1
    assert requests("POST", "/webhooks/run", 202) == 2
    assert requests("POST", "/webhooks/run", 401) == 1
    assert requests("GET", "/videos/{video_id}", 404) == 1, "by route, not by path"
    assert requests("GET", "unmatched", 404) == 1

    def counted(name: str, **labels: str) -> float:
        return samples[(name, frozenset(labels.items()))]

    assert counted("vidp_gateway_runs_triggered_total", via="/videos") == 1
    assert counted("vidp_gateway_runs_triggered_total", via="/webhooks/run") == 2
    assert counted("vidp_gateway_webhook_rejects_total", endpoint="/webhooks/run") == 1
    assert counted("vidp_videos", status="queued") == 1
    assert counted("vidp_videos", status="completed") == 0
    assert len(gateway.prefect.runs) == 2


def test_metrics_report_run_durations_from_the_catalog(
    gateway: Gateway, entries: dict[str, Any]
) -> None:
    samples = metric_samples(gateway.client.get("/metrics").text)
    for status, count in (("running", 1), ("completed", 1), ("failed", 1), ("queued", 0)):
        assert samples[("vidp_videos", frozenset({("status", status)}))] == count
    assert samples[("vidp_run_duration_seconds_count", frozenset())] == 1
    assert samples[("vidp_run_duration_seconds_sum", frozenset())] == 42.0
    buckets = {
        float(dict(labels)["le"]): value
        for (name, labels), value in samples.items()
        if name == "vidp_run_duration_seconds_bucket"
    }
    assert (buckets[30], buckets[60], buckets[float("inf")]) == (0, 1, 1)

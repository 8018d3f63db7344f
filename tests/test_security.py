"""What a hostile caller or a careless log could do: no shell, no escaping a folder, no secret in
what users see."""

from __future__ import annotations

import ast
import json
import os
import secrets
import socket
import time
from pathlib import Path

import httpx
import pytest
from helpers.gateway import (
    API_KEY,
    NOTIFY_TOKEN,
    SECRET,
    Gateway,
    gateway_process,
    notification,
    post,
    signed,
)
from helpers.processes import vidp
from helpers.repo import REPO
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import FlowRunSort

from vidp.sample import make_clip

CODE = [REPO / d for d in ("vidp", "flows", "tasks", "gateway", "deployments", "blocks", "bench")]


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def test_no_subprocess_goes_through_a_shell() -> None:
    """Every command is an argument list: no file or object name is ever parsed by a shell."""
    offenders = []
    for path in (p for folder in CODE for p in folder.rglob("*.py")):
        for call in _calls(ast.parse(path.read_text())):
            shell = any(
                k.arg == "shell" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in call.keywords
            )
            if shell or _name(call) in ("os.system", "os.popen", "subprocess.getoutput"):
                offenders.append(f"{path.relative_to(REPO)}:{call.lineno} {_name(call)}")
    assert not offenders, offenders


@pytest.mark.integration
@pytest.mark.parametrize(
    "filename",
    [
        "../../escaped.mp4",
        "/etc/escaped.mp4",
        "..\\..\\escaped.mp4",
        "nul\x00byte.mp4",
        "..\uff0fescaped.mp4",  # a fullwidth solidus: a look-alike of /
        "\u2025/escaped.mp4",  # a two-dot leader: a look-alike of ..
    ],
)
def test_an_upload_name_cannot_leave_the_upload_folder(gateway: Gateway, filename: str) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + os.urandom(20_000)
    answer = httpx.post(
        f"{gateway.url}/videos",
        files={"file": (filename, video, "video/mp4")},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    stored = Path(answer.json()["source"]).resolve()
    assert stored.is_relative_to(gateway.uploads.resolve()), stored
    assert stored.read_bytes() == video and "\x00" not in stored.name


@pytest.mark.integration
def test_the_gateway_never_shows_its_secrets(gateway: Gateway) -> None:
    """Wrong keys, wrong signatures and bad bodies: the answers and the gateway's log name no
    secret (the ones it holds, nor the wrong ones callers sent)."""
    guessed = "guessed-" + secrets.token_hex(8)
    body = notification("secrets/clip.mp4", "feedface")
    answers = [
        post(f"{gateway.url}/webhooks/s3", body, signed(body, secret=guessed)),
        post(f"{gateway.url}/webhooks/s3", body, {"Authorization": f"Bearer {guessed}"}),
        post(f"{gateway.url}/webhooks/run", b"{not json", signed(b"{not json")),
        httpx.get(f"{gateway.url}/videos", headers={"X-API-Key": guessed}),
        httpx.get(f"{gateway.url}/healthz"),
        httpx.get(f"{gateway.url}/metrics"),
        httpx.get(f"{gateway.url}/openapi.json"),
    ]
    log = (gateway.uploads.parent / "gateway.log").read_text()
    for text in [a.text for a in answers] + [json.dumps(dict(a.headers)) for a in answers] + [log]:
        for secret in (SECRET, API_KEY, NOTIFY_TOKEN, guessed):
            assert secret not in text


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("detector_weights")
def test_s3_credentials_appear_in_no_manifest_log_or_artifact(
    prefect_server: str, s3, media_dir: Path
) -> None:
    secret = "s3-secret-" + secrets.token_hex(12)  # moto takes any key; this one is findable
    clip = make_clip(media_dir / "secrets.mp4", duration_s=2, size=(160, 90))
    env = {"AWS_ACCESS_KEY_ID": "vidp-secrets-test", "AWS_SECRET_ACCESS_KEY": secret}
    done = vidp("process", str(clip), "--output", "s3://results/secrets", "--json", env=env)
    assert done.returncode == 0, done.stderr
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name={"any_": ["process-secrets.mp4"]}),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    seen = [done.stdout, done.stderr, json.dumps(run.parameters)]
    seen += [log.message for log in logs] + [json.dumps(a.data) for a in artifacts]
    assert logs and artifacts and json.loads(done.stdout)["video_id"]
    assert not [text for text in seen if secret in text]


@pytest.mark.slow
@pytest.mark.usefixtures("detector_weights")
def test_a_file_name_is_never_an_option_or_a_protocol(media_dir: Path, tmp_path: Path) -> None:
    """ffmpeg reads the work copy (`<work>/<video_id>/source`) as `file:<path>`; the user's name
    is only ever shown."""
    name = "-y concat:a.mp4|b.mp4 $(touch pwned).mp4"
    source = tmp_path / name
    source.write_bytes(
        make_clip(media_dir / "odd-name.mp4", duration_s=2, size=(160, 90)).read_bytes()
    )
    done = vidp("process", str(source), "--output", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["source"]["filename"] == name
    assert not (REPO / "pwned").exists() and not (tmp_path / "pwned").exists()


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes `sock` while the client trickles `trickle` a byte at a
    time (twice a second); None if it is still open after `seconds`."""
    start = time.monotonic()
    sock.settimeout(0.5)
    for byte in (trickle[i : i + 1] for i in range(len(trickle))):
        if time.monotonic() - start > seconds:
            return None
        try:
            sock.sendall(byte)
            if sock.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    while time.monotonic() - start <= seconds:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


@pytest.mark.integration
@pytest.mark.timing  # "others are still served" within a second
def test_slow_and_oversized_request_heads_are_cut_off(gateway: Gateway, tmp_path: Path) -> None:
    env = {**gateway.env, "VIDP_GATEWAY_HEADER_TIMEOUT_S": "2"}
    with gateway_process(env, tmp_path / "gateway.log") as url:
        host, port = url.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port))) for _ in range(20)]
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: vidp\r\n")
        idle = socket.create_connection((host, int(port)))
        started = time.monotonic()
        answered = httpx.get(f"{url}/openapi.json", timeout=5)  # others are still served
        assert answered.status_code == 200 and time.monotonic() - started < 1
        trickle = b"X-Slow: " + b"a" * 40
        closed = [_closed_within(sock, 6, trickle) for sock in slow[:1]]
        closed += [_closed_within(sock, 6) for sock in [*slow[1:], idle]]
        assert all(c is not None for c in closed), closed

        head = b"GET /healthz HTTP/1.1\r\nHost: vidp\r\nX-Big: " + b"a" * 64 * 1024 + b"\r\n\r\n"
        with socket.create_connection((host, int(port))) as big:
            big.sendall(head)
            status = big.recv(1024).split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large", status
        with socket.create_connection((host, int(port))) as endless:  # never ends, in pieces
            endless.sendall(b"GET /healthz HTTP/1.1\r\nHost: vidp\r\nX-Big: ")
            for _ in range(20):
                endless.sendall(b"a" * 1024)
            status = endless.recv(1024).split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large", status
        assert httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200

"""Shared fixtures: real media made with ffmpeg and espeak-ng, real models, a real Prefect server."""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
# Real COCO weights that load offline (see shared/models/README.md); yolo11n.pt needs internet.
TEST_WEIGHTS = Path(
    os.environ.get("VIDP_TEST_WEIGHTS", REPO.parent / "shared" / "models" / "yolov8n_int8.tflite")
)

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# A suite started in the background by a non-interactive shell (`make test &`) inherits SIGINT
# ignored, and passes it on: a `prefect worker` started so never stops on SIGTERM
# (docs/operations.md). Every process the tests start gets the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Workers ask for runs every second, not every ten: the tests wait on runs, not on polling.
os.environ["PREFECT_WORKER_QUERY_SECONDS"] = "1"
# Prefect's results and cache records (~/.prefect/storage) of earlier sessions must not serve these.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="vidp-tests-prefect-home-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ["VIDP_DETECTOR_WEIGHTS"] = str(TEST_WEIGHTS)


def pytest_configure(config: pytest.Config) -> None:
    if not TEST_WEIGHTS.is_file():
        raise pytest.UsageError(
            f"detector weights for tests not found at {TEST_WEIGHTS}: set VIDP_TEST_WEIGHTS"
        )
    if shutil.which("espeak-ng") is None:
        raise pytest.UsageError(
            "espeak-ng is needed to speak test sentences: apt-get install espeak-ng"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The quick tier (`-m "not slow"`) starts no Prefect server or worker: a test that needs the
    test server (directly or through another fixture) is an integration test, and every
    integration test (the CLI's runs start Prefect's temporary API) is slow."""
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.slow)
    # Longest first: pytest-xdist hands whole modules (`--dist loadscope`) out in this order.
    items.sort(key=lambda item: item.get_closest_marker("minutes") is None)


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Work files and settings of the tests never touch the user's own."""
    os.environ["VIDP_WORK_DIR"] = str(tmp_path_factory.mktemp("work"))
    os.environ["VIDP_CATALOG_URL"] = f"sqlite:///{tmp_path_factory.mktemp('catalog')}/catalog.db"
    from vidp.settings import get_settings

    get_settings.cache_clear()


def _reread_settings() -> None:
    from prefect_aws.credentials import _get_client_cached

    from vidp.s3 import credentials
    from vidp.settings import get_settings

    get_settings.cache_clear()
    credentials.cache_clear()
    # prefect-aws keeps clients by credentials, and the SDK's endpoint variables are not in them.
    _get_client_cached.cache_clear()


@pytest.fixture
def vidp_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables for one test, with vidp's settings re-read; restored after."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        _reread_settings()

    yield set_env
    monkeypatch.undo()
    _reread_settings()


@pytest.fixture
def work_root(tmp_path: Path, vidp_env: Callable[..., None]) -> Path:
    """A fresh VIDP_WORK_DIR for one test."""
    root = tmp_path / "work"
    vidp_env(VIDP_WORK_DIR=str(root))
    return root


def speak(text: str, voice: str, out: Path) -> Path:
    """A WAV of `text` spoken by espeak-ng."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(out), text], check=True)
    return out


SENTENCES = {
    "en": "Hello everyone. Today we are watching a small cat sleeping on the sofa in the garden.",
    # espeak-ng's French voice is misheard by whisper base for many sentences; Spanish is not.
    "es": "Hola a todos. Hoy vamos a ver un gato que duerme en el sofá de la casa.",
    "de": "Guten Tag zusammen. Heute sehen wir eine kleine Katze, die auf dem Sofa im Garten schläft.",
}


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech(media_dir: Path):
    """speech(lang) -> WAV of SENTENCES[lang]."""

    def make(lang: str) -> Path:
        out = media_dir / f"speech-{lang}.wav"
        return out if out.exists() else speak(SENTENCES[lang], lang, out)

    return make


@pytest.fixture(scope="session")
def cat_clip(media_dir: Path, speech) -> Path:
    """10 s, 640x360: the cat is on screen from 3 s to 7 s; English speech from 1 s."""
    from vidp.sample import asset, make_clip

    return make_clip(
        media_dir / "cat.mp4",
        duration_s=10,
        still=asset("cat.jpg"),
        still_window=(3, 7),
        speech=speech("en"),
        speech_at_s=1.0,
    )


@pytest.fixture(scope="session")
def bus_clip(media_dir: Path) -> Path:
    """6 s of Ultralytics' bus photo (people and a bus, no animal) with a silent audio track."""
    import ultralytics

    from vidp.sample import make_clip

    bus = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    return make_clip(media_dir / "bus.mp4", duration_s=6, still=bus)


@pytest.fixture(scope="session")
def spanish_clip(media_dir: Path, speech) -> Path:
    """40 s: a 32 s tone (a music intro longer than Whisper's 30 s window), then Spanish speech."""
    from vidp.sample import make_clip

    return make_clip(
        media_dir / "spanish.mp4",
        duration_s=40,
        size=(320, 180),
        tone_s=32,
        speech=speech("es"),
        speech_at_s=33,
    )


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout_s: float) -> None:
    """Poll `url` until the server `proc` answers 2xx; kill it and show its log if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server at {url} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


def vidp(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `vidp` CLI as a user would, in a subprocess; `env` adds to this environment (a
    None value unsets the variable)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vidp.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={name: value for name, value in merged.items() if value is not None},
    )


@contextmanager
def process_worker(pool: str, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """A real `prefect worker start --pool POOL` in the background while the block runs."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool],
            cwd=REPO,
            env=env or dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        hung = False
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                hung = True
                _dump_stacks(proc.pid, log)
                proc.kill()
                proc.wait()
    if hung:  # a pod that holds its node for the grace period: a failure, with the stacks
        pytest.fail(f"the worker did not stop within {WORKER_STOP_S} s of SIGTERM: see {log}")


WORKER_STOP_S = 15  # a worker stops within about a second of SIGTERM (docs/operations.md)


def _dump_stacks(pid: int, log: Path) -> None:
    """Append every thread's Python stack of process `pid` to `log` (py-spy, from the test extra)."""
    spy = Path(sys.executable).with_name("py-spy")
    if spy.exists():
        dump = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60
        )
        with log.open("a") as out:
            out.write(f"\n--- py-spy dump of the hung worker ---\n{dump.stdout}{dump.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \|")


def server_errors(log: str) -> list[str]:
    """The errors a Prefect server logged: each ERROR or CRITICAL record, traceback included."""
    records: list[list[str]] = []
    for line in log.splitlines():
        if _TIMESTAMP.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)  # a continuation: a traceback or a multi-line message
    return [
        "\n".join(r)
        for r in records
        if any(level in r[0] for level in ("| ERROR", "| CRITICAL")) or "Traceback" in "".join(r)
    ]


@contextmanager
def prefect_server_process(home: Path, **settings: str) -> Iterator[str]:
    """A real `prefect server start` on a free loopback port, with PREFECT_HOME=`home` and the
    Prefect `settings` given, while the block runs; yields its API URL. It logs to
    `home/server.log`; the block fails if any service logged an error in it."""
    log = home / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        **settings,
    }
    env.pop("PREFECT_API_URL", None)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
            + ["--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until_up(proc, f"{url}/health", log, timeout_s=120)
        yield url
        errors = server_errors(log.read_text())
        assert not errors, "the Prefect server logged errors:\n" + "\n".join(errors)[-4000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def prefect_server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test Prefect server writes its log (the API and every service)."""
    return tmp_path_factory.mktemp("prefect-home") / "server.log"


@pytest.fixture(autouse=True)
def _server_logs_no_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that used the Prefect server fails if any of its services logged an error meanwhile
    (the scheduler, triggers, the API...): users would find their schedules or triggers dead."""
    if "prefect_server" not in request.fixturenames:
        yield
        return
    log: Path = request.getfixturevalue("prefect_server_log")
    start = log.stat().st_size
    yield
    with log.open() as f:
        f.seek(start)
        errors = server_errors(f.read())
    if errors:
        pytest.fail("the Prefect server logged errors:\n" + "\n".join(errors)[-4000:])


@pytest.fixture(scope="session")
def prefect_server(prefect_server_log: Path, postgres: str) -> Iterator[str]:
    """A real Prefect server on PostgreSQL, as production servers run (docker/compose.yaml); yields
    its API URL. In-process flows and CLI subprocesses both use it (PREFECT_API_URL), as a deployed
    system would. At the end of the session its log must hold no error from any service.

    Not SQLite: Prefect's services log "database is locked" there under concurrent writers (runs
    going late at once on pools no worker serves, heartbeats, the triggers' buckets). The docs'
    own server, on `deployments/local-postgres.sh`, has tests/test_one_machine.py.
    """
    database = create_database(postgres, "prefect")
    with prefect_server_process(
        prefect_server_log.parent,
        PREFECT_API_DATABASE_CONNECTION_URL=database.replace("postgresql:", "postgresql+asyncpg:"),
        PREFECT_UI_ENABLED="true",  # the browser tests look at the UI
    ) as url:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        os.environ["PREFECT_API_URL"] = url
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # deliver the last run logs before it stops
        os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on a free loopback port, reached over HTTP
    through the AWS SDK's own settings, as a user would configure it. Yields its endpoint URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(proc, endpoint, Path(log.name), timeout_s=60)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    yield endpoint
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def s3(s3_server: str):
    """A boto3 client on the test server, with the `uploads` and `results` buckets."""
    import boto3

    client = boto3.client("s3")
    for name in ("uploads", "results"):
        client.create_bucket(Bucket=name)
    return client


@pytest.fixture(scope="session")
def shared_storage(prefect_server: str, s3) -> dict[str, str]:
    """The environment of workers that share caches: Prefect's results and vidp's work files in
    one bucket, through the blocks `vidp blocks` saves."""
    s3.create_bucket(Bucket="vidp-shared")
    done = vidp("blocks", env={"VIDP_BLOCK_NAME": "shared", "VIDP_RESULTS_BUCKET": "vidp-shared"})
    assert done.returncode == 0, done.stderr
    return {
        "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK": "s3-bucket/shared-results",
        "VIDP_WORK_STORE": "s3://vidp-shared/work",
    }


class PostgresServer(NamedTuple):
    url: str  # postgresql://vidp@127.0.0.1:<port>/postgres
    pg_ctl: list[str]  # pg_ctl of this server, run as its user: append "stop", "start"...


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's `postgresql` package) on a free loopback port, run by
    the `postgres` user when the tests run as root (PostgreSQL refuses root)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise pytest.UsageError("PostgreSQL is needed: apt-get install postgresql")
    bindir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="vidp-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "vidp", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w"]
    pg_ctl += ["-l", str(root / "server.log")]
    subprocess.run([*pg_ctl, "start"], check=True, capture_output=True)
    try:
        yield PostgresServer(f"postgresql://vidp@127.0.0.1:{port}/postgres", pg_ctl)
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The session's PostgreSQL server (Prefect's database, catalogs); yields its URL."""
    with postgres_server() as server:
        yield server.url


def create_database(server: str, name: str) -> str:
    """A new database on the test PostgreSQL `server`; returns its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server.rsplit('/', 1)[0]}/{name}"


ARTIFACTS = REPO / "test-artifacts"  # screenshots of the browser tests (git-ignored)


def ui_url(api_url: str) -> str:
    """The Prefect UI's address on the server whose API is at `api_url`."""
    return api_url.removesuffix("/api")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (which downloads no browser of its own).
    For one test at a time: Playwright's sync API runs an event loop in this thread meanwhile, and
    Prefect's sync calls (`Block.load`) return coroutines where a loop runs."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise pytest.UsageError(
            "the browser tests need Debian's chromium: apt-get install chromium"
        )
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


# The gateway: `vidp gateway` under uvicorn on a free port, talking to the test Prefect server.

SECRET = "gateway-test-secret"
API_KEY = "gateway-test-key"
NOTIFY_TOKEN = "gateway-test-minio-token"
DEPLOYMENT = "process-video/gateway-test"
MAX_UPLOAD = 8 * 1024 * 1024


@pytest.fixture(scope="session")
def gateway_deployment(prefect_server: str) -> str:
    """process-video deployed on a pool no worker serves: runs the gateway starts stay scheduled."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from vidp.flows.process_video import process_video

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="gateway-test-pool", type="process"))
        except ObjectAlreadyExists:
            pass
    process_video.to_deployment(
        name="gateway-test",
        work_pool_name="gateway-test-pool",
        enforce_parameter_schema=True,
        job_variables={"working_dir": str(REPO)},  # where a process worker finds the code
    ).apply()
    return DEPLOYMENT


class Gateway(NamedTuple):
    url: str
    uploads: Path  # VIDP_GATEWAY_UPLOADS
    output: Path  # VIDP_OUTPUT of the gateway and of workers started with `gateway.env`
    env: dict[str, str]


@contextmanager
def gateway_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """`vidp gateway` on a free port with `env`, while the block runs; yields its base URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vidp.cli", "gateway", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{url}/openapi.json", log, timeout_s=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def gateway(
    gateway_deployment: str, s3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A real `vidp gateway` under uvicorn, on the test Prefect server, storing uploads locally;
    the objects notifications name are in the test S3 server's `uploads` bucket."""
    home = tmp_path_factory.mktemp("gateway")
    env = {
        **os.environ,
        "VIDP_GATEWAY_SECRET": SECRET,
        "VIDP_GATEWAY_NOTIFY_TOKEN": NOTIFY_TOKEN,
        "VIDP_GATEWAY_API_KEYS": f"other-key,{API_KEY}",
        "VIDP_GATEWAY_DEPLOYMENT": gateway_deployment,
        "VIDP_GATEWAY_UPLOADS": str(home / "uploads"),
        "VIDP_GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "VIDP_GATEWAY_RUN_SOURCES": "s3://,/videos/",  # and a shared disk the workers mount
        "VIDP_OUTPUT": str(home / "output"),
    }
    with gateway_process(env, home / "gateway.log") as url:
        yield Gateway(url, home / "uploads", home / "output", env)


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    """Headers a sender holding `secret` attaches, signing at `at` (default now)."""
    from vidp.gateway.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    timestamp = int(time.time() if at is None else at)
    return {
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        "Content-Type": "application/json",
    }


def notification(
    key: str, etag: str, event: str = "ObjectCreated:Put", minio: bool = False
) -> bytes:
    """An S3 event notification for an object of the `uploads` bucket as AWS sends it (MinIO's has
    `s3:` event names and more fields)."""
    record = {
        "eventVersion": "2.1" if not minio else "2.0",
        "eventSource": "aws:s3" if not minio else "minio:s3",
        "eventName": f"s3:{event}" if minio else event,
        "s3": {
            "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
            "object": {"key": key, "size": 1234, "eTag": etag, "sequencer": "0055AED6DCD90281E5"},
        },
    }
    body: dict[str, object] = {"Records": [record]}
    if minio:
        body = {"EventName": record["eventName"], "Key": f"uploads/{key}", **body}
    return json.dumps(body).encode()


def put_upload(s3, key: str, data: bytes = b"not really a video") -> str:
    """Put an object in the `uploads` bucket, as a user uploads one; return its ETag."""
    return s3.put_object(Bucket="uploads", Key=key, Body=data)["ETag"].strip('"')


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def flow_runs(deployment: str) -> list:
    """The runs of `deployment` ("flow/name") on the Prefect server the settings name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with get_client(sync_client=True) as client:
        target = DeploymentFilterId(any_=[client.read_deployment_by_name(deployment).id])
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=target))


def stream_oversized_upload(url: str, api_key: str) -> httpx.Response:
    """POST /videos a multipart body sent in chunks without a Content-Length, an MP4 head and then
    more than MAX_UPLOAD bytes: the gateway can only find out while it streams."""

    def chunks() -> Iterator[bytes]:
        yield b'--vidp\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n\x00\x00\x00\x18ftypmp42"
        for _ in range(MAX_UPLOAD // (1 << 20) + 2):  # past one 8 MiB S3 part
            yield os.urandom(1 << 20)
        yield b"\r\n--vidp--\r\n"

    return httpx.post(
        f"{url}/videos",
        content=chunks(),
        headers={"X-API-Key": api_key, "Content-Type": "multipart/form-data; boundary=vidp"},
        timeout=60,
    )

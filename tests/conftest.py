"""Shared fixtures: real media made with ffmpeg and espeak-ng, real models, a real Prefect server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
# Real COCO weights that load offline (see shared/models/README.md); yolo11n.pt needs internet.
TEST_WEIGHTS = Path(
    os.environ.get("VIDP_TEST_WEIGHTS", REPO.parent / "shared" / "models" / "yolov8n_int8.tflite")
)

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
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


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Work files and settings of the tests never touch the user's own."""
    os.environ["VIDP_WORK_DIR"] = str(tmp_path_factory.mktemp("work"))
    from vidp.settings import get_settings

    get_settings.cache_clear()


def _reread_settings() -> None:
    from vidp.s3 import credentials
    from vidp.settings import get_settings

    get_settings.cache_clear()
    credentials.cache_clear()


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


def vidp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `vidp` CLI as a user would, in a subprocess; `env` adds to this environment."""
    return subprocess.run(
        [sys.executable, "-m", "vidp.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, **(env or {})},
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
        try:
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `prefect server start` on a free loopback port; yields its API URL.

    In-process flows and CLI subprocesses both use it (PREFECT_API_URL), as a deployed system would.
    """
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    wait_until_up(proc, f"{url}/health", home / "server.log", timeout_s=120)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = url
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # deliver the last run logs before the server stops
    os.environ.pop("PREFECT_API_URL", None)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


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

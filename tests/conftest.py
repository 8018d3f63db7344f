"""Suite-wide fixtures: an isolated environment, real media and models, and the servers that
top-level tests and several folders share. Their logic is in `helpers`."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.browser import headless_chromium
from helpers.gateway import Gateway, deploy_unserved, gateway_env, gateway_process
from helpers.media import make_bus_clip, make_cat_clip, make_spanish_clip, spoken
from helpers.postgres import postgres_server
from helpers.prefect_stack import server_errors_after, suite_prefect_server
from helpers.s3 import BUCKETS, moto_server
from helpers.weights import TEST_WEIGHTS
from helpers.weights import detector_weights as check_detector_weights

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
# Checked only by the tests that run the detector (the `detector_weights` fixture).
os.environ["VIDP_DETECTOR_WEIGHTS"] = str(TEST_WEIGHTS)


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

    from vidp.s3_credentials import credentials
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


@pytest.fixture(scope="session")
def detector_weights() -> Path:
    """The offline detector weights (VIDP_DETECTOR_WEIGHTS of every process): a test that runs
    the detector asks for them, and fails saying how to get them if they are missing."""
    return check_detector_weights()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def speech(media_dir: Path) -> Callable[[str], Path]:
    """speech(lang) -> WAV of SENTENCES[lang], spoken by espeak-ng."""
    return lambda lang: spoken(lang, media_dir)


@pytest.fixture(scope="session")
def cat_clip(media_dir: Path, speech: Callable[[str], Path]) -> Path:
    """10 s, 640x360: the cat is on screen from 3 s to 7 s; English speech from 1 s."""
    return make_cat_clip(media_dir, speech("en"))


@pytest.fixture(scope="session")
def bus_clip(media_dir: Path) -> Path:
    """6 s of Ultralytics' bus photo (people and a bus, no animal) with a silent audio track."""
    return make_bus_clip(media_dir)


@pytest.fixture(scope="session")
def spanish_clip(media_dir: Path, speech: Callable[[str], Path]) -> Path:
    """40 s: a 32 s tone (a music intro longer than Whisper's 30 s window), then Spanish speech."""
    return make_spanish_clip(media_dir, speech("es"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The session's PostgreSQL server (Prefect's database, catalogs); yields its URL."""
    with postgres_server() as server:
        yield server.url


@pytest.fixture(scope="session")
def prefect_server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test Prefect server writes its log (the API and every service)."""
    return tmp_path_factory.mktemp("prefect-home") / "server.log"


@pytest.fixture(scope="session")
def prefect_server(prefect_server_log: Path, postgres: str) -> Iterator[str]:
    """A real Prefect server on PostgreSQL, as production servers run (docker/compose.yaml); yields
    its API URL. In-process flows and CLI subprocesses both use it (PREFECT_API_URL), as a deployed
    system would. At the end of the session its log must hold no error from any service.

    Not SQLite: Prefect's services log "database is locked" there under concurrent writers (runs
    going late at once on pools no worker serves, heartbeats, the triggers' buckets). The docs'
    own server, on `deployments/local-postgres.sh`, has tests/test_one_machine.py.
    """
    with suite_prefect_server(prefect_server_log.parent, postgres) as url:
        yield url


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
    if errors := server_errors_after(log, start):
        pytest.fail("the Prefect server logged errors:\n" + "\n".join(errors)[-4000:])


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server (moto) that this process and its subprocesses reach through
    the AWS SDK's settings; yields its endpoint URL."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3(s3_server: str):
    """A boto3 client on the test server, with the `uploads` and `results` buckets."""
    import boto3

    client = boto3.client("s3")
    for name in BUCKETS:
        client.create_bucket(Bucket=name)
    return client


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright. For one test at a time: Playwright's
    sync API runs an event loop in this thread meanwhile, and Prefect's sync calls
    (`Block.load`) return coroutines where a loop runs."""
    with headless_chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def gateway_deployment(prefect_server: str) -> str:
    """process-video deployed on a pool no worker serves: runs the gateway starts stay scheduled."""
    return deploy_unserved()


@pytest.fixture(scope="session")
def gateway(
    gateway_deployment: str, s3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A real `vidp gateway` under uvicorn, on the test Prefect server, storing uploads locally;
    the objects notifications name are in the test S3 server's `uploads` bucket."""
    home = tmp_path_factory.mktemp("gateway")
    env = gateway_env(home, gateway_deployment)
    with gateway_process(env, home / "gateway.log") as url:
        yield Gateway(url, home / "uploads", home / "output", env)

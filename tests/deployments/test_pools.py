"""`vidp pools` creates pools the server accepts, with GPU requests and model limits rendered."""

from __future__ import annotations

import asyncio

import pytest
from docker.types import HostConfig
from helpers.processes import vidp
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import WorkPool
from prefect.workers.process import ProcessJobConfiguration
from prefect_docker.worker import DockerWorkerJobConfiguration
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

pytestmark = pytest.mark.integration


def render(configuration: type, pool: WorkPool, values: dict):
    """The job configuration a worker builds for a flow run of a deployment on `pool` that sets
    `values` as its job variables: the pool's template filled in, then prepared for the run."""
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("pool-probe")
        deployment_id = client.create_deployment(
            flow_id=flow_id,
            name=f"probe-{pool.name}",
            work_pool_name=pool.name,
            job_variables=values,
        )
        run = client.create_flow_run_from_deployment(deployment_id)
        deployment, flow = client.read_deployment(deployment_id), client.read_flow(flow_id)
    job = asyncio.run(
        configuration.from_template_and_values(pool.base_job_template, deployment.job_variables)
    )
    job.prepare_for_flow_run(run, deployment=deployment, flow=flow, work_pool=pool)
    assert str(run.id) == job.env["PREFECT__FLOW_RUN_ID"]
    return job


def pools(pool_type: str, cpu: str, gpu: str, **extra: str) -> None:
    env = {"VIDP_CPU_POOL": cpu, "VIDP_GPU_POOL": gpu, "VIDP_GPU_SLOTS": "2", **extra}
    for _ in range(2):  # idempotent
        done = vidp("pools", "--type", pool_type, env=env)
        assert done.returncode == 0, done.stderr
    assert f"work pool {gpu} ({pool_type}) ready, model limit models-{gpu}" in done.stdout
    with get_client(sync_client=True) as client:
        limits = {
            name: client.read_global_concurrency_limit_by_name(f"models-{name}").limit
            for name in (cpu, gpu)
        }
    assert limits == {cpu: 2, gpu: 2}, "one model limit per pool"


def test_kubernetes_pools_render_the_gpu_request(prefect_server: str) -> None:
    pools("kubernetes", "k8s-cpu", "k8s-gpu")
    with get_client(sync_client=True) as client:
        cpu, gpu = client.read_work_pool("k8s-cpu"), client.read_work_pool("k8s-gpu")
    assert (cpu.type, gpu.type) == ("kubernetes", "kubernetes")
    values = {
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    job = render(KubernetesWorkerJobConfiguration, gpu, values)
    pod = job.job_manifest["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["containers"][0]["image"] == "vidp:cuda"
    assert {"name": "VIDP_MODEL_LIMIT", "value": "models-k8s-gpu"} in pod["containers"][0]["env"]
    assert {"name": "MALLOC_ARENA_MAX", "value": "2"} in pod["containers"][0]["env"]
    assert (
        pod["nodeSelector"] == values["node_selector"]
        and pod["tolerations"] == values["tolerations"]
    )
    plain = render(KubernetesWorkerJobConfiguration, cpu, {})
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
    job = render(DockerWorkerJobConfiguration, gpu, {})
    host = HostConfig(
        version="1.44", device_requests=job.container_create_kwargs["device_requests"]
    )
    assert host["DeviceRequests"][0]["Driver"] == "nvidia" and host["DeviceRequests"][0][
        "Capabilities"
    ] == [["gpu"]]
    assert job.image == "vidp:cuda" and job.env["VIDP_MODEL_LIMIT"] == "models-docker-gpu"
    assert not render(DockerWorkerJobConfiguration, cpu, {}).container_create_kwargs


def test_process_pools_carry_their_model_limit_and_shared_settings(prefect_server: str) -> None:
    shared = {
        "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK": "s3-bucket/vidp-results",
        "VIDP_WORK_STORE": "s3://vidp-cache/work",
    }
    pools("process", "proc-cpu", "proc-gpu", **shared)
    with get_client(sync_client=True) as client:
        cpu = client.read_work_pool("proc-cpu")
    job = render(ProcessJobConfiguration, cpu, {})
    assert cpu.type == "process"
    expected = {"VIDP_MODEL_LIMIT": "models-proc-cpu", "MALLOC_ARENA_MAX": "2", **shared}
    assert expected.items() <= job.env.items()

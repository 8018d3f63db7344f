"""Time the flow across "machines" that share caches through S3: what the work store costs and saves.

Each machine is its own VIDP_WORK_DIR; all share Prefect's results (an s3-bucket block) and
VIDP_WORK_STORE on a local S3-compatible server (moto's server mode, from `vidp[test]`), like
workers of one pool. After the same warm-up as run_pipeline.py, it times, on the clip:

1. machine A, no work store, local results: a cold run, for comparison;
2. machine B with the store: a cold run that also uploads its work files (new result storage, so
   nothing from run 1 is reused);
3. machine C with the store, empty work folder: served from B's cache;
4. machine D, results shared but no store: data results reused, files made again.

moto keeps objects in memory on this machine, so uploads cost CPU here rather than network time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import parse_args, report
from run_pipeline import timed_run, warm_up


def start_s3(log: Path) -> subprocess.Popen:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    return proc


def on_machine(
    name: str, tmp: Path, source: Path, store: str, results_block: str | None
) -> tuple[float, dict[str, Any]]:
    """One timed flow call with this machine's work folder and the given sharing."""
    from prefect.settings import PREFECT_DEFAULT_RESULT_STORAGE_BLOCK, temporary_settings

    from vidp.settings import get_settings

    os.environ.update(VIDP_WORK_DIR=str(tmp / f"work-{name}"), VIDP_WORK_STORE=store)
    get_settings.cache_clear()
    with temporary_settings(updates={PREFECT_DEFAULT_RESULT_STORAGE_BLOCK: results_block}):
        seconds, manifest = timed_run(source, tmp / f"output-{name}")
    print(f"machine {name}: {seconds:.2f} s", flush=True)
    return seconds, manifest


def main() -> None:
    args = parse_args(__doc__)
    with tempfile.TemporaryDirectory(prefix="vidp-bench-shared-") as name:
        tmp = Path(name)
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        os.environ["PREFECT_HOME"] = str(tmp / "prefect")
        os.environ["VIDP_WORK_DIR"] = str(tmp / "work-warmup")
        s3 = start_s3(tmp / "moto.log")
        try:
            import boto3

            from vidp.blocks.register import register_blocks

            boto3.client("s3").create_bucket(Bucket="cache")
            warm_up(tmp)
            register_blocks(
                {**os.environ, "VIDP_BLOCK_NAME": "bench", "VIDP_RESULTS_BUCKET": "cache"}
            )
            block, store = "s3-bucket/bench-results", "s3://cache/work"
            local_s, _ = on_machine("a", tmp, args.source, "", None)
            upload_s, cold = on_machine("b", tmp, args.source, store, block)
            shared_s, _ = on_machine("c", tmp, args.source, store, block)
            data_only_s, _ = on_machine("d", tmp, args.source, "", block)
        finally:
            s3.terminate()
    summary = {
        "benchmark": "shared-cache",
        "source": str(args.source),
        "cold_local_s": round(local_s, 3),
        "cold_with_store_s": round(upload_s, 3),
        "other_machine_with_store_s": round(shared_s, 3),
        "other_machine_results_only_s": round(data_only_s, 3),
        "words": cold["transcript"]["words"],
        "animals": [a["label"] for a in cold["animals"]],
    }
    report(summary, args.json_out)


if __name__ == "__main__":
    main()

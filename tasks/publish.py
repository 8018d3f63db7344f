"""Publishing: every output first, the manifest last."""

from __future__ import annotations

from typing import Any

from prefect import task

from vidp.manifest import Results, build_manifest
from vidp.publish import publish, storage_for
from vidp.tasks.policies import IO_RETRIES, retry_unless_rejected

__all__ = ["publish_results"]


@task(**IO_RETRIES, retry_condition_fn=retry_unless_rejected)
def publish_results(output: str, results: Results, timings_s: dict[str, float]) -> dict[str, Any]:
    """Copy the outputs under `<output>/<video_id>/` and write `manifest.json` last."""
    storage = storage_for(output, results.source.ref.video_id)
    return publish(
        storage,
        {key: file.local() for key, file in results.files().items()},
        lambda uris, links: build_manifest(results, uris, links, timings_s),
    )
